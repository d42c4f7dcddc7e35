#ifndef RILL_MODELS_TRANSFORMER_H_
#define RILL_MODELS_TRANSFORMER_H_

// Transformer encoder and decoder layers (issue 8), batch-first, in the
// parameter layout of torch.nn.TransformerEncoderLayer and
// nn.TransformerDecoderLayer, appended to a Graph as primitive ops (the
// attention of models/attention.h, MatMul, Relu/Gelu, LayerNorm, Dropout).
//
// Parameters, with <p> the prefix (torch's "a.b" state_dict key is
// "<p>/a.b"; the attention blocks are AddMultiHeadAttention's):
//   <p>/self_attn/{in_proj_weight, in_proj_bias, out_proj.weight,
//                  out_proj.bias}
//   <p>/multihead_attn/...   (decoder only: attention over the memory)
//   <p>/linear1.weight [ff, D], <p>/linear1.bias [ff]
//   <p>/linear2.weight [D, ff], <p>/linear2.bias [D]
//   <p>/norm1.weight, <p>/norm1.bias, <p>/norm2.*, (decoder) <p>/norm3.*
// Initialised as PyTorch does: Linear uniform(+-1/sqrt(fan_in)) for weight
// and bias, LayerNorm weight 1 and bias 0.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "models/attention.h"
#include "proto/graph.pb.h"

namespace rill {

enum class TransformerActivation { kRelu, kGelu };  // Gelu: exact (erf).

// "relu" (or "") or "gelu", as PyTorch names them; errors name `field`.
absl::StatusOr<TransformerActivation> ParseTransformerActivation(
    const std::string& field, const std::string& name);

struct TransformerLayerOptions {
  std::string prefix;   // Of every node name; a valid node name.
  int64_t d_model = 0;  // D >= 1, divisible by heads.
  int64_t heads = 0;    // h >= 1.
  int64_t ff = 0;       // The feed-forward width, >= 1.
  TransformerActivation activation = TransformerActivation::kRelu;
  // false: post-norm, x = norm(x + block(x)), the paper's and PyTorch's
  // default. true: pre-norm, x = x + block(norm(x)).
  bool norm_first = false;
  // Inverted dropout (training on) after each attention block, inside the
  // FFN after the activation, and after the FFN, as PyTorch places it. In
  // [0, 1); 0 adds no Dropout ops.
  double dropout = 0;
  // Self-attention: query t sees keys <= t (the decoder's tgt mask).
  bool causal = false;
  // Self-attention key lengths ("node" or "node:k", [B] i32/i64; "" for
  // none): PyTorch's src/tgt_key_padding_mask.
  std::string key_lengths;
  // Decoder only: the memory's key lengths (memory_key_padding_mask).
  std::string memory_key_lengths;
  // Optional additive masks ("node" or "node:k", of dtype) that broadcast
  // to the scores [B, h, T, T] of the self-attention and [B, h, T, S] of
  // the decoder's attention over the memory: PyTorch's src_mask/tgt_mask
  // and memory_mask, with key-padding masks folded in as the caller likes.
  std::string self_attn_mask, memory_attn_mask;
  double layer_norm_eps = 1e-5;  // Of every LayerNorm of the layer.
  DType dtype = DType::kF32;     // kF32 or kF64.
  uint64_t seed = 0;             // Of the initial weights and of Dropout.

  // Incremental decoding (models/seq2seq.h), decoder only: the memory's K
  // and V projected once by AddKeyValueProjection under
  // <prefix>/multihead_attn (the memory argument is then ignored), and the
  // self-attention's key/value cache: see MultiHeadAttentionOptions.
  ProjectedKeyValue memory_kv;
  std::string cache_key, cache_value, cache_position;
  int64_t cache_length = 0;
};

struct TransformerLayer {
  std::string output;                   // [B, T, D]
  std::vector<std::string> parameters;  // Every Parameter the layer added.
  std::string cache_key, cache_value;   // With a cache: the written caches.
};

// nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation,
// batch_first=True, norm_first): x [B, T, D] -> [B, T, D]. Fails, leaving
// `graph` unchanged, on bad options or a node name that exists.
absl::StatusOr<TransformerLayer> AddTransformerEncoderLayer(
    const std::string& x, const TransformerLayerOptions& options, Graph* graph);

// nn.TransformerDecoderLayer: x [B, T, D] (the target) attends to itself
// (causal when options.causal), then to `memory` [B, S, D] (the encoder's
// output), then the FFN. Fails like the encoder.
absl::StatusOr<TransformerLayer> AddTransformerDecoderLayer(
    const std::string& x, const std::string& memory,
    const TransformerLayerOptions& options, Graph* graph);

// A stack of layers as nn.Transformer builds its encoder and decoder: layer
// i is <prefix>/layers.<i>, and a final LayerNorm <prefix>/norm.{weight,
// bias} follows the last (nn.TransformerEncoder/Decoder's `norm`).
struct TransformerStackOptions {
  TransformerLayerOptions layer;  // prefix: the stack's; seed: layer 0's.
  int64_t num_layers = 1;         // >= 1.
};

struct TransformerStack {
  std::string output;  // [B, T, D], after the final norm.
  std::vector<std::string> parameters;
};

// Layer i's options: prefix <prefix>/layers.<i>, seed layer.seed + 8 i (a
// layer draws from seed, seed + 1 and seed + 2).
TransformerLayerOptions StackLayerOptions(const TransformerStackOptions& s,
                                          int64_t i);

// The final LayerNorm over x, with Parameters <prefix>/norm.weight (ones)
// and <prefix>/norm.bias (zeros), epsilon 1e-5.
absl::StatusOr<TransformerStack> AddStackNorm(const std::string& x,
                                              const TransformerStackOptions& s,
                                              Graph* graph);

// nn.TransformerEncoder(layer, num_layers, norm=LayerNorm(D)) over x.
// Fails, leaving `graph` unchanged, like the layers.
absl::StatusOr<TransformerStack> AddTransformerEncoder(
    const std::string& x, const TransformerStackOptions& options, Graph* graph);

// nn.TransformerDecoder(layer, num_layers, norm=LayerNorm(D)): x attends
// to itself and to `memory` in every layer.
absl::StatusOr<TransformerStack> AddTransformerDecoder(
    const std::string& x, const std::string& memory,
    const TransformerStackOptions& options, Graph* graph);

}  // namespace rill

#endif  // RILL_MODELS_TRANSFORMER_H_

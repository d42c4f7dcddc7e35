#ifndef RILL_MODELS_ATTENTION_H_
#define RILL_MODELS_ATTENTION_H_

// Attention builders (issue 8): scaled dot-product attention, multi-head
// attention and the sinusoidal positional encoding of SPEC.md ("Attention",
// "Positional encoding"), appended to a Graph as primitive ops.
//
// Masks are additive (0 where allowed, -1e9 where masked: what CausalMask
// and PaddingMask make). A fully masked row would softmax to a uniform row;
// the builders multiply the softmax by the keep mask (mask > -5e8), so such
// a row gives zeros, and its gradients are zeros too, never NaN. On rows
// with at least one allowed key the keep mask changes nothing: exp(-1e9)
// underflows to exactly 0 in f32 and f64.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"

namespace rill {

// The checks of every attention block's options: prefix a node name,
// dtype f32 or f64, d_model >= 1 divisible by heads >= 1. Errors read
// "<what> options: <prefix>: ...".
absl::Status CheckAttentionOptions(const std::string& what,
                                   const std::string& prefix, DType dtype,
                                   int64_t d_model, int64_t heads);

struct ScaledDotProductAttentionOptions {
  std::string prefix;         // Of every node name; a valid node name.
  int64_t key_dim = 0;        // d_k >= 1, the last axis of q and k.
  DType dtype = DType::kF32;  // kF32 or kF64, that of q, k and v.
};

// softmax(q . k^T / sqrt(d_k) + mask) . v, zeroed where every key is
// masked. q [..., T_q, d_k], k [..., T_k, d_k], v [..., T_k, d_v]; `mask`
// ("" for none) is additive and broadcasts to [..., T_q, T_k]. Returns the
// [..., T_q, d_v] output node. Fails, leaving `graph` unchanged, on bad
// options or a node name that exists.
absl::StatusOr<std::string> AddScaledDotProductAttention(
    const std::string& q, const std::string& k, const std::string& v,
    const std::string& mask, const ScaledDotProductAttentionOptions& options,
    Graph* graph);

// torch.nn.MultiheadAttention(d_model, heads, batch_first=True), as
// Parameters in its layout:
//   <prefix>/in_proj_weight   [3D, D]  rows: q, k, v (xavier_uniform)
//   <prefix>/in_proj_bias     [3D]     zeros
//   <prefix>/out_proj.weight  [D, D]   uniform(+-1/sqrt(D))
//   <prefix>/out_proj.bias    [D]      zeros
// Batch and sequence lengths may be symbolic: heads are split and joined
// with Split/Concat along D, never with a Reshape that would fix them.
struct MultiHeadAttentionOptions {
  std::string prefix;
  int64_t d_model = 0;  // D >= 1, divisible by heads
  int64_t heads = 0;    // h >= 1
  DType dtype = DType::kF32;
  // Query q sees keys k <= q (CausalMask), as a decoder's self-attention.
  bool causal = false;
  // Optional: a "node" or "node:k" reference to the [B] i32/i64 numbers of
  // valid keys; key t of sequence b is masked when t >= lengths[b]
  // (PyTorch's key_padding_mask). Empty: all keys valid.
  std::string key_lengths;
  // Optional: an additive mask (a "node" or "node:k", of dtype) that
  // broadcasts to the scores [B, h, T_q, T_k], e.g. BERT's [B, 1, 1, T_k]
  // (1 - attention_mask) * -10000. Added to the causal and padding masks.
  std::string additive_mask;
  // Inverted dropout (training) on the attention probabilities, in [0, 1);
  // 0 adds no Dropout op.
  double attention_dropout = 0;
  uint64_t seed = 0;  // of the initial weights and of the dropout
  // false: no in_proj_bias and out_proj.bias (PyTorch's bias=False).
  bool bias = true;
  // Optional: a value tensor [B, T_k, vdim] distinct from key_value, which
  // then gives only the keys (PyTorch's separate key and value).
  std::string value;
  // The key's and the value's widths (PyTorch's kdim, vdim); 0 means
  // d_model. When either differs from d_model the input projection is
  // three Parameters, as PyTorch keeps it: <prefix>/q_proj_weight [D, D],
  // k_proj_weight [D, kdim], v_proj_weight [D, vdim] (xavier_uniform), in
  // place of in_proj_weight.
  int64_t kdim = 0, vdim = 0;

  // Decoding (models/seq2seq.h). K and V already projected, [B, T_k, D]
  // each (from AddKeyValueProjection, once per source), used instead of
  // projecting key_value, which is then ignored.
  std::string projected_key, projected_value;
  // Incremental self-attention with a key/value cache: the query is one
  // position [B, 1, D] with index `cache_position` (i64 [1]), and
  // cache_key/cache_value [B, L, D] hold the projected K and V of the
  // positions before it. The query's own K and V are written at its row,
  // keys after it are masked, and the written caches are returned.
  std::string cache_key, cache_value, cache_position;
  int64_t cache_length = 0;  // L, static, >= 1 with a cache.
};

struct MultiHeadAttention {
  std::string output;  // [B, T_q, D]
  // The attention weights [B, h, T_q, T_k] (after masks and dropout).
  std::string weights;
  // in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias (no
  // biases when options.bias is false).
  std::vector<std::string> parameters;
  // With a cache: the caches with this position's K and V written.
  std::string cache_key, cache_value;
};

// Appends attention of `query` [B, T_q, D] over `key_value` [B, T_k, D]:
// self-attention when they are the same reference, source-target (cross)
// attention otherwise (K and V from key_value, e.g. the encoder's output).
absl::StatusOr<MultiHeadAttention> AddMultiHeadAttention(
    const std::string& query, const std::string& key_value,
    const MultiHeadAttentionOptions& options, Graph* graph);

// The heads of AddMultiHeadAttention over projections already made (a
// model whose query, key and value are separate Linear layers, as BERT's):
// q [B, T_q, D], k and v [B, T_k, D] are split into heads, attended with
// the options' masks and attention_dropout, and joined: returns the
// [B, T_q, D] node, before any output projection. Adds no Parameters;
// projected_key/value and the cache must be empty.
absl::StatusOr<std::string> AddProjectedMultiHeadAttention(
    const std::string& q, const std::string& k, const std::string& v,
    const MultiHeadAttentionOptions& options, Graph* graph);

// The projected K and V [B, T_k, D] that AddMultiHeadAttention computes
// from key_value, with the same Parameters (added under options.prefix):
// what a decoder computes once per source for cross-attention.
struct ProjectedKeyValue {
  std::string key, value;
};
absl::StatusOr<ProjectedKeyValue> AddKeyValueProjection(
    const std::string& key_value, const MultiHeadAttentionOptions& options,
    Graph* graph);

// The [length, d_model] table PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
// PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)), computed in double.
absl::StatusOr<Tensor> SinusoidalPositionalEncodingTable(int64_t length,
                                                         int64_t d_model,
                                                         DType dtype);

struct PositionalEncodingOptions {
  std::string prefix;
  int64_t length = 0;   // T >= 1, x's sequence length (static)
  int64_t d_model = 0;  // D >= 1
  DType dtype = DType::kF32;
};

// x [B, T, D] + the table as a Const <prefix>/table [T, D]; returns the
// sum's node <prefix>/output.
absl::StatusOr<std::string> AddSinusoidalPositionalEncoding(
    const std::string& x, const PositionalEncodingOptions& options,
    Graph* graph);

}  // namespace rill

#endif  // RILL_MODELS_ATTENTION_H_

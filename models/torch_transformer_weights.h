#ifndef RILL_MODELS_TORCH_TRANSFORMER_WEIGHTS_H_
#define RILL_MODELS_TORCH_TRANSFORMER_WEIGHTS_H_

// PyTorch state_dict names for attention and Transformer graphs (issue 23
// item 3): what models/rnn_weights.h's PyTorchWeightNames gives a graph
// with no recurrent stack, so that `rill build --weights` and `rill
// export-weights` read and write them through the same code.
//
// Names. Every Parameter is <root>/<path>, one <root> for the graph; the
// state_dict key is <path> with '/' read as '.', which is how the builders
// name Parameters (models/attention.h, models/transformer.h,
// models/seq2seq.h):
//   nn.MultiheadAttention spec   multihead_attention/in_proj_weight
//                                  -> in_proj_weight, in_proj_bias,
//                                     out_proj.weight, out_proj.bias
//                                     (q_proj_weight, k_proj_weight,
//                                     v_proj_weight with kdim/vdim)
//   nn.TransformerEncoderLayer   encoder_layer/self_attn/in_proj_weight
//                                  -> self_attn.in_proj_weight, ...,
//                                     linear1.weight, ..., norm2.bias
//   nn.TransformerDecoderLayer   decoder_layer/... -> the same, and
//                                  multihead_attn.*, norm3.*
//   the seq2seq model            seq2seq/encoder/layers.0/linear1.weight
//                                  -> encoder.layers.0.linear1.weight, as
//                                     nn.Transformer(batch_first=True) names
//                                     its encoder and decoder (with their
//                                     final norms encoder.norm.*,
//                                     decoder.norm.*), and beside them
//                                     embedding.weight [V, D] (an
//                                     nn.Embedding, multiplied by sqrt(D)
//                                     when used), positional.weight [L, D]
//                                     (learned positions only) and
//                                     output.weight [V, D], output.bias [V]
//                                     (an nn.Linear; untied_output only)
// A Parameter whose last part is not one of those leaves is refused,
// naming it, so that no weight is silently left at its random start.

#include <vector>

#include "absl/status/statusor.h"
#include "models/rnn_weights.h"
#include "proto/graph.pb.h"

namespace rill {

// Every Parameter of `graph` with its state_dict key, in graph order.
absl::StatusOr<std::vector<PyTorchWeight>> TransformerWeightNames(
    const Graph& graph);

}  // namespace rill

#endif  // RILL_MODELS_TORCH_TRANSFORMER_WEIGHTS_H_

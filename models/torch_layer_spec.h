#ifndef RILL_MODELS_TORCH_LAYER_SPEC_H_
#define RILL_MODELS_TORCH_LAYER_SPEC_H_

// Graphs of bare PyTorch layers (issue 23 item 3): nn.MultiheadAttention,
// nn.TransformerEncoderLayer and nn.TransformerDecoderLayer from their
// ModelSpec messages (proto/model.proto), with forward()'s arguments as
// graph Inputs and its results as graph outputs, so that `rill run` and
// `rill grad --seed_inputs` compute what the PyTorch module computes.

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/limits.h"
#include "proto/graph.pb.h"
#include "proto/model.pb.h"

namespace rill {

// True when `spec` names one of the bare layers.
bool IsTorchLayerSpec(const ModelSpec& spec);

// The layer's graph, validated. `dtype` is the spec's (f32 or f64). Errors
// name the spec field ("multihead_attention.num_heads: 0: must be >= 1").
absl::StatusOr<Graph> BuildTorchLayerModel(const ModelSpec& spec, DType dtype,
                                           const MemoryBudget& budget);

}  // namespace rill

#endif  // RILL_MODELS_TORCH_LAYER_SPEC_H_

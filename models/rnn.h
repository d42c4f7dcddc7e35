#ifndef RILL_MODELS_RNN_H_
#define RILL_MODELS_RNN_H_

// Recurrent layer builders (issue 6): one unidirectional layer unrolled over
// a fixed number of steps, appended to a Graph as primitive ops, with the
// equations of SPEC.md ("Block semantics").
//
// Layout (PyTorch's, sequence-first):
//   input x           [T, B, I]   B may be symbolic (-1)
//   <prefix>/weight_ih  Parameter [G*H, I]
//   <prefix>/weight_hh  Parameter [G*H, H]
//   <prefix>/bias_ih    Parameter [G*H]
//   <prefix>/bias_hh    Parameter [G*H]
// with G gate blocks stacked along the rows: RNN 1; LSTM 4 in the order
// i, f, g, o; GRU 3 in the order r, z, n. Weights start uniform in
// [-1/sqrt(H), 1/sqrt(H)] (PyTorch's initialisation), from `seed`.
//
// The input projection of all steps is one MatMul of x as [T*B, I] by
// weight_ih^T, plus bias_ih. Each step then adds h_{t-1} . weight_hh^T +
// bias_hh. Node names: <prefix>/x_proj..., and <prefix>/t<k>/... for step k.
//
// Bidirectional: a second direction with its own weights
// <prefix>/weight_ih_reverse, ... (PyTorch's `_reverse` names) and initial
// states <prefix>/h0_reverse (c0_reverse) runs over t = T-1..0, its steps
// named <prefix>/reverse/t<k>/...; the two per-step outputs are merged by
// concat ([T, B, 2H], forward first, as PyTorch) or sum ([T, B, H]).
//
// Variable-length batches: with `sequence_lengths`, step t of sequence b is
// valid when t < lengths[b]. A padded step leaves the state unchanged
// (state = prev + m (new - prev), m the 0/1 step mask from PaddingMask) and
// outputs zeros (m * h), so everything stays differentiable. The final state
// is thus each sequence's state at its own last valid step; the reverse
// direction, run over t = T-1..0, keeps its initial state through the padded
// tail and so starts from each sequence's own last valid step, as PyTorch's
// packed sequences do. A length outside [0, T] fails at run time
// (PaddingMask names it).
//
// Fused form: the builder writes only the primitive ops (each step as
// graph/recurrent_step.h describes it). The pass of graph/fuse_recurrent.h
// recognises a fixed-length layer among them, wherever the graph came
// from, and runs it on the RecurrentLayer op (oneDNN's RNN primitives), as
// `rill train`, `run` and `grad` do unless given --no-fuse. Variable-length
// layers stay unrolled: the step masks break the pattern.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "ops/recurrent_cell.h"  // RecurrentCell, GateCount
#include "proto/graph.pb.h"

namespace rill {

enum class InitialState {
  kZeros,  // h0 (and c0) are zero
  // Input nodes <prefix>/h0 (and <prefix>/c0 for LSTM) of shape [-1, H]
  // (batch symbolic), fed at run time.
  kInput,
  // Tensors the caller made: RecurrentLayerOptions::initial_states.
  kGiven,
};

// How a bidirectional layer joins its two per-step outputs.
enum class RecurrentMerge {
  kConcat,  // [B, 2H]: forward then reverse
  kSum,     // [B, H]
};

struct RecurrentLayerOptions {
  RecurrentCell cell = RecurrentCell::kGru;
  // Prefix of every node name; must be a valid node name.
  std::string prefix;
  int64_t steps = 0;          // T >= 1
  int64_t input_size = 0;     // I >= 1
  int64_t hidden_size = 0;    // H >= 1
  DType dtype = DType::kF32;  // kF32 or kF64
  InitialState initial_state = InitialState::kZeros;
  // kGiven only: "node" or "node:k" references to the [B, H] states, in the
  // order of RecurrentLayer::state_inputs (h0, c0 for LSTM, then the
  // _reverse ones when bidirectional).
  std::vector<std::string> initial_states;
  uint64_t seed = 0;  // of the initial weights
  // Optional: a "node" or "node:k" reference to the [B] i32/i64 lengths.
  // Empty: every sequence has all T steps.
  std::string sequence_lengths;
  bool bidirectional = false;
  RecurrentMerge merge = RecurrentMerge::kConcat;  // bidirectional only
  // Unidirectional only: run over t = T-1..0, as ONNX's direction
  // "reverse" (nodes, weights and state inputs take the _reverse names).
  bool reverse = false;
  // Optional: "node" or "node:k" references to existing tensors to use as
  // weight_ih, weight_hh, bias_ih and bias_hh (then the four _reverse ones
  // when bidirectional), of the shapes above, instead of Parameters the
  // builder draws: the ONNX importer passes its gate-reordered views of an
  // ONNX node's initialisers, which stay trainable under their own names.
  // Empty: the builder makes the Parameters, from `seed`.
  std::vector<std::string> weights;
};

struct RecurrentLayer {
  // [T, B, F], the (merged) output of every step; F = 2H for a concat
  // bidirectional layer, else H. Zero at padded steps.
  std::string output;
  std::vector<std::string> step_outputs;  // [B, F], t = 0..T-1
  // [B, H], the forward direction's (a reverse layer's: after t = 0).
  std::string final_h;
  std::string final_c;  // LSTM only: [B, H]; else empty
  // Bidirectional only: the reverse direction's state after t = 0.
  std::string final_h_reverse, final_c_reverse;
  // The Input nodes made by InitialState::kInput: h0, then c0 for LSTM,
  // then h0_reverse (c0_reverse) when bidirectional.
  std::vector<std::string> state_inputs;
  // weight_ih, weight_hh, bias_ih, bias_hh, then the four _reverse ones
  // (RecurrentLayerOptions::weights when given).
  std::vector<std::string> parameters;
};

// L layers, the output sequence of one feeding the next. Layer k is a
// RecurrentLayer built from `layer` with prefix <prefix>/l<k> (so its
// weights are <prefix>/l<k>/weight_ih[_reverse], PyTorch's weight_ih_l<k>
// [_reverse]), seed `layer.seed + k`, and, for k > 0, input size H (2H for
// a concat bidirectional layer). Every layer reads the same
// sequence_lengths.
struct RecurrentStackOptions {
  RecurrentLayerOptions layer;
  int64_t num_layers = 1;  // L >= 1
  // Inverted dropout (the Dropout op, training on) on the input of every
  // layer k > 0, node <prefix>/l<k>/dropout, seeded with that layer's seed.
  // 0: none.
  double dropout = 0;
  // Optional: PyTorch's h_0 (and c_0, LSTM only), "node" or "node:k"
  // references to [L*D, B, H] tensors (D = 2 when bidirectional), layer
  // by layer, forward before reverse. They are split into every layer's
  // InitialState::kGiven states (nodes <prefix>/h0_split, <prefix>/l<k>/h0,
  // h0_reverse, ...), overriding `layer.initial_state`. Empty: every layer
  // starts as `layer.initial_state` says.
  std::string initial_h, initial_c;
};

struct RecurrentStack {
  std::string output;                  // the last layer's output
  std::vector<RecurrentLayer> layers;  // L of them
};

// Appends the layer reading `input` (a "node" or "node:k" reference to the
// [T, B, I] sequence) to `graph`. Fails, leaving `graph` unchanged, on bad
// options (naming the field) or when a node name it would add exists.
absl::StatusOr<RecurrentLayer> AddRecurrentLayer(
    const std::string& input, const RecurrentLayerOptions& options,
    Graph* graph);

// Appends the L layers of a stack, all or nothing, as AddRecurrentLayer.
absl::StatusOr<RecurrentStack> AddRecurrentStack(
    const std::string& input, const RecurrentStackOptions& options,
    Graph* graph);

}  // namespace rill

#endif  // RILL_MODELS_RNN_H_

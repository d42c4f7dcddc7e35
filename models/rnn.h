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

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "proto/graph.pb.h"

namespace rill {

enum class RecurrentCell {
  kRnnTanh,  // h = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
  kRnnRelu,  // the same with relu
  kLstm,
  // The seed GRU (the default): the reset gate multiplies h before the
  // W_hn matmul, and z weights the candidate: h' = (1 - z) h + z n.
  kGru,
  // PyTorch's (oneDNN's lbr_gru): n = tanh(W_in x + b_in + r (W_hn h +
  // b_hn)), h' = (1 - z) n + z h.
  kGruPyTorch,
};

enum class InitialState {
  kZeros,  // h0 (and c0) are zero
  // Input nodes <prefix>/h0 (and <prefix>/c0 for LSTM) of shape [-1, H]
  // (batch symbolic), fed at run time.
  kInput,
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
  uint64_t seed = 0;  // of the initial weights
};

struct RecurrentLayer {
  std::string output;                     // [T, B, H], the h of every step
  std::vector<std::string> step_outputs;  // h_t [B, H], t = 0..T-1
  std::string final_h;                    // [B, H] (= step_outputs.back())
  std::string final_c;                    // LSTM only: [B, H]; else empty
  // The Input nodes made by InitialState::kInput: h0, then c0 for LSTM.
  std::vector<std::string> state_inputs;
  // weight_ih, weight_hh, bias_ih, bias_hh.
  std::vector<std::string> parameters;
};

// Appends the layer reading `input` (a "node" or "node:k" reference to the
// [T, B, I] sequence) to `graph`. Fails, leaving `graph` unchanged, on bad
// options (naming the field) or when a node name it would add exists.
absl::StatusOr<RecurrentLayer> AddRecurrentLayer(
    const std::string& input, const RecurrentLayerOptions& options,
    Graph* graph);

// The number of gate blocks G of a cell: 1, 4 or 3.
int64_t GateCount(RecurrentCell cell);

}  // namespace rill

#endif  // RILL_MODELS_RNN_H_

#ifndef RILL_OPS_RECURRENT_CELL_H_
#define RILL_OPS_RECURRENT_CELL_H_

// What ops/recurrent_ops.cc (RecurrentLayer's schema, shapes, reference
// kernels and gradient) and ops/recurrent_onednn.cc (its oneDNN kernels)
// share.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ops/op_def.h"

namespace rill {

// A recurrent cell: the `cell` attr of RecurrentLayer and
// RecurrentLayerGrad, and what models/rnn.h unrolls.
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

absl::StatusOr<RecurrentCell> ParseRecurrentCell(const std::string& s);
// The `cell` attr that ParseRecurrentCell reads back as `cell`.
const char* RecurrentCellName(RecurrentCell cell);
// G, the gate blocks stacked in the weights: 1, 4 (LSTM) or 3 (GRU).
int64_t GateCount(RecurrentCell c);
// The cell of a node whose attrs were checked.
RecurrentCell RecurrentCellOf(const KernelArgs& a);

// The oneDNN kernels, or nullptr where oneDNN cannot run the node.
absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerOneDnn(
    const KernelArgs& a);
absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerGradOneDnn(
    const KernelArgs& a);

}  // namespace rill

#endif  // RILL_OPS_RECURRENT_CELL_H_

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

// The `cell` attr of RecurrentLayer and RecurrentLayerGrad.
enum class RecurrentCellKind { kRnnTanh, kRnnRelu, kLstm, kGru, kGruPyTorch };

absl::StatusOr<RecurrentCellKind> ParseRecurrentCell(const std::string& s);
// G, the gate blocks stacked in the weights: 1, 4 (LSTM) or 3 (GRU).
int64_t RecurrentGates(RecurrentCellKind c);
// The cell of a node whose attrs were checked.
RecurrentCellKind RecurrentCellOf(const KernelArgs& a);

// The oneDNN kernels, or nullptr where oneDNN cannot run the node.
absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerOneDnn(
    const KernelArgs& a);
absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerGradOneDnn(
    const KernelArgs& a);

}  // namespace rill

#endif  // RILL_OPS_RECURRENT_CELL_H_

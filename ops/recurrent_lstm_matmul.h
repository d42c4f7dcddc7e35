#ifndef RILL_OPS_RECURRENT_LSTM_MATMUL_H_
#define RILL_OPS_RECURRENT_LSTM_MATMUL_H_

// rill's own kernels of RecurrentLayer and RecurrentLayerGrad for cell
// lstm: oneDNN matmul primitives on `operands` (bf16 or f32) operands with
// f32 accumulation, and f32 elementwise loops; results, cell states, bias
// and gradients are f32. The oneDNN factories (ops/recurrent_onednn.cc)
// pick them for bf16 precision; f32 operands are for tests against oneDNN's
// f32 LSTM. A gradient kernel shares its forward pass with the forward
// node's kernel as oneDNN's do (ops/recurrent_link.h).

#include <memory>

#include "absl/status/statusor.h"
#include "ops/op_def.h"

namespace rill {

absl::StatusOr<std::unique_ptr<OpKernel>> MakeLstmMatmulLayer(
    const KernelArgs& a, dnnl::memory::data_type operands);
absl::StatusOr<std::unique_ptr<OpKernel>> MakeLstmMatmulLayerGrad(
    const KernelArgs& a, dnnl::memory::data_type operands);

}  // namespace rill

#endif  // RILL_OPS_RECURRENT_LSTM_MATMUL_H_

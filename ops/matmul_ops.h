#ifndef RILL_OPS_MATMUL_OPS_H_
#define RILL_OPS_MATMUL_OPS_H_

// MatMul, and the fused MatMul -> bias Add -> activation kernel that the
// executor substitutes for that chain on the oneDNN backend (one matmul
// primitive with a bias and an eltwise post-op).

#include <memory>
#include <optional>
#include <string>

#include "ops/op_def.h"

namespace rill {

enum class FusedActivation { kNone, kTanh, kSigmoid, kRelu, kGelu };

// The activation that an op of this name applies, if it can be fused.
std::optional<FusedActivation> FusableActivation(const std::string& op);

// Whether the bias of a fused chain fits oneDNN's matmul: left-padded to
// the output's rank, every dimension is 1 except possibly the last, which
// equals the output's last dimension.
bool IsMatMulBias(const Shape& bias, const Shape& out);

// Inputs {a, b, bias}, outputs {y}; `attrs` are the MatMul's. f32 only.
absl::StatusOr<std::unique_ptr<OpKernel>> MakeFusedMatMulKernel(
    const KernelArgs& args, FusedActivation activation);

}  // namespace rill

#endif  // RILL_OPS_MATMUL_OPS_H_

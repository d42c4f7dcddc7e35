// Identity. The element-wise math ops are in elementwise_ops.cc, MatMul in
// matmul_ops.cc.

#include <cstring>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Identity ----

struct CopyKernel : OpKernel {
  explicit CopyKernel(const KernelArgs& a) : x(a.inputs[0]), y(a.outputs[0]) {}
  absl::Status Compute() override {
    if (y.byte_size() > 0)
      std::memcpy(y.raw_data(), x.raw_data(), y.byte_size());
    return absl::OkStatus();
  }
  Tensor x, y;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeCopy(const KernelArgs& a) {
  return std::make_unique<CopyKernel>(a);
}

// A oneDNN reorder between identical plain layouts is a copy.
absl::StatusOr<std::unique_ptr<OpKernel>> CopyOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    dnnl::memory::desc md = PlainDesc(a.inputs[0].shape());
    dnnl::memory src = MemoryFor(a, a.inputs[0], md);
    dnnl::memory dst = MemoryFor(a, a.outputs[0], md);
    dnnl::primitive p =
        CachedPrimitive(a, [&] { return dnnl::reorder(src, dst); });
    return std::make_unique<PrimitiveKernel>(
        a, p, DnnlArgs{{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
  });
}

}  // namespace

void RegisterMathOps(OpRegistry& r) {
  r.Add(OpDef("Identity")
            .Doc("y = x. Gradient: dx = dy.")
            .TypeVar("T", kAnyType)
            .Input("x", "T")
            .Output("y")
            .Shape(UnchangedShape)
            .Gradient([](GradContext& g) {
              g.SetInputGrad(0, g.output_grad(0));
              return absl::OkStatus();
            })
            .Reference(MakeCopy)
            .OneDnn(CopyOneDnn)
            .OutputViewsInput());
}

}  // namespace rill

// Element-wise math (Identity, Add, Mul, Tanh, Sigmoid); MatMul is in
// matmul_ops.cc.

#include <cmath>
#include <cstring>

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
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(a.inputs[0].shape());
    dnnl::memory src = MemoryFor(a.inputs[0], md, eng);
    dnnl::memory dst = MemoryFor(a.outputs[0], md, eng);
    return std::make_unique<PrimitiveKernel>(
        a, dnnl::reorder(src, dst),
        std::unordered_map<int, dnnl::memory>{{DNNL_ARG_FROM, src},
                                              {DNNL_ARG_TO, dst}});
  });
}

}  // namespace

void RegisterMathOps(OpRegistry& r) {
  r.Add(OpDef("Identity")
            .Doc("y = x.")
            .TypeVar("T", kAnyType)
            .Input("x", "T")
            .Output("y")
            .Shape(UnchangedShape)
            .Reference(MakeCopy)
            .OneDnn(CopyOneDnn));
  r.Add(OpDef("Add")
            .Doc("z = a + b, with NumPy broadcasting.")
            .TypeVar("T", kFloatTypes)
            .Input("a", "T")
            .Input("b", "T")
            .Output("z")
            .Shape(BroadcastBinaryShape)
            .Reference(BinaryReference([](auto x, auto y) { return x + y; }))
            .OneDnn(BinaryOneDnn(dnnl::algorithm::binary_add, true)));
  r.Add(OpDef("Mul")
            .Doc("z = a * b element-wise, with NumPy broadcasting.")
            .TypeVar("T", kFloatTypes)
            .Input("a", "T")
            .Input("b", "T")
            .Output("z")
            .Shape(BroadcastBinaryShape)
            .Reference(BinaryReference([](auto x, auto y) { return x * y; }))
            .OneDnn(BinaryOneDnn(dnnl::algorithm::binary_mul, true)));
  r.Add(OpDef("Tanh")
            .Doc("y = tanh(x).")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Shape(UnchangedShape)
            .Reference(UnaryReference([](auto x) { return std::tanh(x); }))
            .OneDnn(EltwiseOneDnn(dnnl::algorithm::eltwise_tanh)));
  r.Add(OpDef("Sigmoid")
            .Doc("y = 1 / (1 + exp(-x)).")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Shape(UnchangedShape)
            // Written so that exp never overflows: for x < 0 use e^x/(1+e^x).
            .Reference(UnaryReference([](auto x) {
              using T = decltype(x);
              if (x >= 0) return T(1) / (T(1) + std::exp(-x));
              T e = std::exp(x);
              return e / (T(1) + e);
            }))
            .OneDnn(EltwiseOneDnn(dnnl::algorithm::eltwise_logistic)));
}

}  // namespace rill

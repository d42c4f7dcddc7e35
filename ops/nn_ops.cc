// Neural-network ops: Softmax.

#include <algorithm>
#include <cmath>

#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

absl::Status SoftmaxShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError("Softmax needs an input of rank >= 1");
  }
  RETURN_IF_ERROR(
      NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis").status());
  return UnchangedShape(c);
}

// The tensor seen as [outer, axis, inner] around the softmax axis.
struct AxisSplit {
  int64_t outer = 1, axis = 1, inner = 1;
};

AxisSplit SplitAt(const Shape& shape, int axis) {
  AxisSplit s;
  for (int d = 0; d < shape.rank(); ++d) {
    (d < axis ? s.outer : d == axis ? s.axis : s.inner) *= shape.dim(d);
  }
  return s;
}

template <typename T>
struct SoftmaxReference : OpKernel {
  explicit SoftmaxReference(const KernelArgs& a)
      : x(a.inputs[0]),
        y(a.outputs[0]),
        s(SplitAt(x.shape(), *NormalizeAxis(a.attrs.GetInt("axis"),
                                            x.shape().rank(), "axis"))) {}

  // Subtracting the row maximum keeps exp() from overflowing.
  absl::Status Compute() override {
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* in = src + o * s.axis * s.inner + i;
        T* out = dst + o * s.axis * s.inner + i;
        T max = in[0];
        for (int64_t k = 1; k < s.axis; ++k)
          max = std::max(max, in[k * s.inner]);
        T sum = 0;
        for (int64_t k = 0; k < s.axis; ++k) {
          out[k * s.inner] = std::exp(in[k * s.inner] - max);
          sum += out[k * s.inner];
        }
        for (int64_t k = 0; k < s.axis; ++k) out[k * s.inner] /= sum;
      }
    }
    return absl::OkStatus();
  }

  Tensor x, y;
  AxisSplit s;
};

absl::StatusOr<std::unique_ptr<OpKernel>> SoftmaxOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const Shape& shape = a.inputs[0].shape();
    int axis = *NormalizeAxis(a.attrs.GetInt("axis"), shape.rank(), "axis");
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(shape);
    dnnl::softmax_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, md, axis}, eng);
    return std::make_unique<PrimitiveKernel>(
        a, dnnl::softmax_forward(pd),
        std::unordered_map<int, dnnl::memory>{
            {DNNL_ARG_SRC, MemoryFor(a.inputs[0], md, eng)},
            {DNNL_ARG_DST, MemoryFor(a.outputs[0], md, eng)}});
  });
}

}  // namespace

void RegisterNnOps(OpRegistry& r) {
  r.Add(OpDef("Softmax")
            .Doc("y = exp(x) / sum(exp(x)) along `axis`, computed stably.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxShape)
            .Reference(MakeFloatKernel<SoftmaxReference>)
            .OneDnn(SoftmaxOneDnn));
}

}  // namespace rill

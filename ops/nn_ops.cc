// Neural-network ops: Softmax, LogSoftmax, LayerNorm.

#include <algorithm>
#include <cmath>

#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Softmax, LogSoftmax ----

absl::Status SoftmaxShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError(
        "input 'x' is a scalar; it needs rank >= 1 to have an axis");
  }
  RETURN_IF_ERROR(
      NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis").status());
  return UnchangedShape(c);
}

// Subtracting the maximum along the axis keeps exp() from overflowing; an
// axis of size 0 has nothing to normalise (and no maximum to read).
template <typename T, bool kLog>
struct SoftmaxReference : OpKernel {
  explicit SoftmaxReference(const KernelArgs& a)
      : x(a.inputs[0]),
        y(a.outputs[0]),
        s(SplitAt(x.shape(), *NormalizeAxis(a.attrs.GetInt("axis"),
                                            x.shape().rank(), "axis"))) {}

  absl::Status Compute() override {
    if (s.axis == 0) return absl::OkStatus();
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        Normalise(src + o * s.axis * s.inner + i,
                  dst + o * s.axis * s.inner + i);
      }
    }
    return absl::OkStatus();
  }

  void Normalise(const T* in, T* out) const {
    const int64_t n = s.axis, step = s.inner;
    T max = in[0];
    for (int64_t k = 1; k < n; ++k) max = std::max(max, in[k * step]);
    T sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      out[k * step] = std::exp(in[k * step] - max);
      sum += out[k * step];
    }
    if (kLog) {
      T log_sum = std::log(sum);  // sum >= 1: the maximum contributes 1.
      for (int64_t k = 0; k < n; ++k)
        out[k * step] = (in[k * step] - max) - log_sum;
    } else {
      for (int64_t k = 0; k < n; ++k) out[k * step] /= sum;
    }
  }

  Tensor x, y;
  AxisSplit s;
};
template <typename T>
using SoftmaxKernel = SoftmaxReference<T, false>;
template <typename T>
using LogSoftmaxKernel = SoftmaxReference<T, true>;

// softmax_forward and logsoftmax_forward take the same arguments.
template <typename Primitive>
absl::StatusOr<std::unique_ptr<OpKernel>> SoftmaxOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const Shape& shape = a.inputs[0].shape();
    int axis = *NormalizeAxis(a.attrs.GetInt("axis"), shape.rank(), "axis");
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(shape);
    typename Primitive::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, md, axis}, eng);
    return std::make_unique<PrimitiveKernel>(
        a, Primitive(pd),
        std::unordered_map<int, dnnl::memory>{
            {DNNL_ARG_SRC, MemoryFor(a.inputs[0], md, eng)},
            {DNNL_ARG_DST, MemoryFor(a.outputs[0], md, eng)}});
  });
}

// ---- LayerNorm ----

// Outputs: y like x; mean and variance with x's shape minus the last axis.
absl::Status LayerNormShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError(
        "input 'x' is a scalar; LayerNorm normalises over the last axis, so "
        "it needs rank >= 1");
  }
  int64_t features = x.dim(x.rank() - 1);
  for (int i : {1, 2}) {
    const char* name = i == 1 ? "gamma" : "beta";
    const Shape& p = c.input_shape(i);
    bool fits =
        p.rank() == 1 && (p.dim(0) == features || p.dim(0) == kSymbolicDim ||
                          features == kSymbolicDim);
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "' has shape ", p.ToString(), " but x ",
                       x.ToString(), " needs ", Shape({features}).ToString(),
                       " (one value per element of the last axis)"));
    }
  }
  float epsilon = c.attrs().GetFloat("epsilon");
  if (!(epsilon >= 0) || std::isinf(epsilon)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'epsilon' = ", epsilon, " must be finite and >= 0"));
  }
  Shape stats(std::vector<int64_t>(x.dims().begin(), x.dims().end() - 1));
  c.SetOutput(0, c.input_dtype(0), x);
  c.SetOutput(1, c.input_dtype(0), stats);
  c.SetOutput(2, c.input_dtype(0), stats);
  return absl::OkStatus();
}

template <typename T>
struct LayerNormReference : OpKernel {
  explicit LayerNormReference(const KernelArgs& a)
      : x(a.inputs[0]),
        gamma(a.inputs[1]),
        beta(a.inputs[2]),
        y(a.outputs[0]),
        mean(a.outputs[1]),
        variance(a.outputs[2]),
        features(x.shape().dim(x.shape().rank() - 1)),
        epsilon(a.attrs.GetFloat("epsilon")) {}

  // Two passes (mean, then squared deviations) for accuracy; with no
  // features the statistics are 0/0 = NaN, like ReduceMean.
  absl::Status Compute() override {
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    for (int64_t r = 0; r < mean.num_elements(); ++r) {
      const T* in = x.data<T>() + r * features;
      T* out = y.data<T>() + r * features;
      T sum = 0;
      for (int64_t k = 0; k < features; ++k) sum += in[k];
      T mu = sum / static_cast<T>(features);
      T squares = 0;
      for (int64_t k = 0; k < features; ++k)
        squares += (in[k] - mu) * (in[k] - mu);
      T var = squares / static_cast<T>(features);
      T rstd = T(1) / std::sqrt(var + epsilon);
      for (int64_t k = 0; k < features; ++k)
        out[k] = (in[k] - mu) * rstd * g[k] + b[k];
      mean.data<T>()[r] = mu;
      variance.data<T>()[r] = var;
    }
    return absl::OkStatus();
  }

  Tensor x, gamma, beta, y, mean, variance;
  int64_t features;
  T epsilon;
};

// forward_training, so that the primitive also writes mean and variance.
// oneDNN wants rank >= 2: a rank-1 x is seen as [1, C].
absl::StatusOr<std::unique_ptr<OpKernel>> LayerNormOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    std::vector<int64_t> dims = a.inputs[0].shape().dims();
    if (dims.size() == 1) dims.insert(dims.begin(), 1);
    std::vector<int64_t> stat_dims(dims.begin(), dims.end() - 1);
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc data = PlainDesc(dims);
    dnnl::memory::desc stat = PlainDesc(stat_dims);
    dnnl::memory::desc param = PlainDesc(std::vector<int64_t>{dims.back()});
    dnnl::layer_normalization_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_training, data, stat,
         a.attrs.GetFloat("epsilon"),
         dnnl::normalization_flags::use_scale |
             dnnl::normalization_flags::use_shift},
        eng);
    return std::make_unique<PrimitiveKernel>(
        a, dnnl::layer_normalization_forward(pd),
        std::unordered_map<int, dnnl::memory>{
            {DNNL_ARG_SRC, MemoryFor(a.inputs[0], data, eng)},
            {DNNL_ARG_SCALE, MemoryFor(a.inputs[1], param, eng)},
            {DNNL_ARG_SHIFT, MemoryFor(a.inputs[2], param, eng)},
            {DNNL_ARG_DST, MemoryFor(a.outputs[0], data, eng)},
            {DNNL_ARG_MEAN, MemoryFor(a.outputs[1], stat, eng)},
            {DNNL_ARG_VARIANCE, MemoryFor(a.outputs[2], stat, eng)}});
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
            .Reference(MakeFloatKernel<SoftmaxKernel>)
            .OneDnn(SoftmaxOneDnn<dnnl::softmax_forward>));
  r.Add(OpDef("LogSoftmax")
            .Doc("y = x - log(sum(exp(x))) along `axis`, computed stably as "
                 "(x - m) - log(sum(exp(x - m))) with m the maximum along "
                 "`axis`.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxShape)
            .Reference(MakeFloatKernel<LogSoftmaxKernel>)
            .OneDnn(SoftmaxOneDnn<dnnl::logsoftmax_forward>));
  r.Add(OpDef("LayerNorm")
            .Doc("Normalises x over its last axis: with mean and variance "
                 "(biased, i.e. divided by the axis size) taken over that "
                 "axis, y = (x - mean) / sqrt(variance + epsilon) * gamma + "
                 "beta. gamma and beta have one value per element of the "
                 "last axis. Also outputs mean and variance (shape of x "
                 "without its last axis), which the gradient reuses; over an "
                 "empty last axis they are NaN.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Input("gamma", "T")
            .Input("beta", "T")
            .Output("y")
            .Output("mean")
            .Output("variance")
            .Attr("epsilon", AttrType::kFloat, FloatAttr(1e-5f))
            .Shape(LayerNormShape)
            .Reference(MakeFloatKernel<LayerNormReference>)
            .OneDnn(LayerNormOneDnn));
}

}  // namespace rill

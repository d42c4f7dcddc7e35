// Neural-network ops: Softmax, LogSoftmax, LayerNorm, and their backward
// ops SoftmaxGrad, LogSoftmaxGrad and LayerNormGrad.

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Softmax, LogSoftmax ----

// Input `input` needs rank >= 1 and `axis` must name one of its axes.
absl::Status CheckSoftmaxAxis(const InferenceContext& c, int input,
                              const char* name) {
  const Shape& x = c.input_shape(input);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", name, "' is a scalar; it needs rank >= 1 to have an axis"));
  }
  return NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis").status();
}

absl::Status SoftmaxShape(InferenceContext& c) {
  RETURN_IF_ERROR(CheckSoftmaxAxis(c, 0, "x"));
  return UnchangedShape(c);
}

// The shape that inputs `a` and `b` must share, each dim taken from
// whichever of them knows it.
absl::StatusOr<Shape> SharedShape(const InferenceContext& c, int a, int b,
                                  const char* name_a, const char* name_b) {
  const Shape& sa = c.input_shape(a);
  const Shape& sb = c.input_shape(b);
  if (!ShapesCompatible(sa, sb)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", name_b, "' has shape ", sb.ToString(), " but '",
                     name_a, "' has ", sa.ToString(), "; they must be equal"));
  }
  std::vector<int64_t> dims = sa.dims();
  for (int d = 0; d < sa.rank(); ++d) {
    if (dims[d] == kSymbolicDim) dims[d] = sb.dim(d);
  }
  return Shape(std::move(dims));
}

// SoftmaxGrad and LogSoftmaxGrad: y and dy of one shape, which dx has.
absl::Status SoftmaxGradShape(InferenceContext& c) {
  RETURN_IF_ERROR(CheckSoftmaxAxis(c, 0, "y"));
  ASSIGN_OR_RETURN(Shape dx, SharedShape(c, 0, 1, "y", "dy"));
  c.SetOutput(0, c.input_dtype(0), std::move(dx));
  return absl::OkStatus();
}

// Calls f(offset) with the offset of the first element of each line along
// the split axis; a line's elements lie s.inner apart.
template <typename F>
void ForEachLine(const AxisSplit& s, F f) {
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) f(o * s.axis * s.inner + i);
  }
}

AxisSplit SplitAtAxisAttr(const KernelArgs& a, const Shape& shape) {
  return SplitAt(shape,
                 *NormalizeAxis(a.attrs.GetInt("axis"), shape.rank(), "axis"));
}

// Subtracting the maximum along the axis keeps exp() from overflowing; an
// axis of size 0 has nothing to normalise (and no maximum to read).
template <typename T, bool kLog>
struct SoftmaxReference : OpKernel {
  explicit SoftmaxReference(const KernelArgs& a)
      : x(a.inputs[0]), y(a.outputs[0]), s(SplitAtAxisAttr(a, x.shape())) {}

  absl::Status Compute() override {
    if (s.axis == 0) return absl::OkStatus();
    ForEachLine(s, [this](int64_t at) {
      Normalise(x.data<T>() + at, y.data<T>() + at);
    });
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

// Along each line: SoftmaxGrad dx = y * (dy - sum(dy * y)), LogSoftmaxGrad
// dx = dy - exp(y) * sum(dy).
template <typename T, bool kLog>
struct SoftmaxGradReference : OpKernel {
  explicit SoftmaxGradReference(const KernelArgs& a)
      : y(a.inputs[0]),
        dy(a.inputs[1]),
        dx(a.outputs[0]),
        s(SplitAtAxisAttr(a, y.shape())) {}

  absl::Status Compute() override {
    ForEachLine(s, [this](int64_t at) {
      Line(y.data<T>() + at, dy.data<T>() + at, dx.data<T>() + at);
    });
    return absl::OkStatus();
  }

  void Line(const T* yl, const T* dyl, T* dxl) const {
    const int64_t n = s.axis, step = s.inner;
    T sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      sum += kLog ? dyl[k * step] : dyl[k * step] * yl[k * step];
    }
    for (int64_t k = 0; k < n; ++k) {
      T yk = yl[k * step], dyk = dyl[k * step];
      dxl[k * step] = kLog ? dyk - std::exp(yk) * sum : yk * (dyk - sum);
    }
  }

  Tensor y, dy, dx;
  AxisSplit s;
};
template <typename T>
using SoftmaxGradKernel = SoftmaxGradReference<T, false>;
template <typename T>
using LogSoftmaxGradKernel = SoftmaxGradReference<T, true>;

int AxisAttr(const KernelArgs& a) {
  return *NormalizeAxis(a.attrs.GetInt("axis"), a.inputs[0].shape().rank(),
                        "axis");
}

// softmax_forward and logsoftmax_forward take the same arguments.
template <typename Primitive>
absl::StatusOr<std::unique_ptr<OpKernel>> SoftmaxOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(a.inputs[0].shape());
    dnnl::primitive p = CachedPrimitive(a, [&] {
      return Primitive(
          {{dnnl::prop_kind::forward_inference, md, AxisAttr(a)}, eng});
    });
    return std::make_unique<PrimitiveKernel>(
        a, p,
        DnnlArgs{{DNNL_ARG_SRC, MemoryFor(a, a.inputs[0], md)},
                 {DNNL_ARG_DST, MemoryFor(a, a.outputs[0], md)}});
  });
}

// softmax_backward and logsoftmax_backward read the forward output (DST)
// and its gradient; their primitive_desc wants a forward one as a hint.
template <typename Forward, typename Backward>
absl::StatusOr<std::unique_ptr<OpKernel>> SoftmaxGradOneDnn(
    const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(a.outputs[0].shape());
    int axis = AxisAttr(a);
    dnnl::primitive p = CachedPrimitive(a, [&] {
      typename Forward::primitive_desc hint(
          {dnnl::prop_kind::forward_training, md, axis}, eng);
      return Backward({{md, md, axis}, eng, hint});
    });
    return std::make_unique<PrimitiveKernel>(
        a, p,
        DnnlArgs{{DNNL_ARG_DST, MemoryFor(a, a.inputs[0], md)},
                 {DNNL_ARG_DIFF_DST, MemoryFor(a, a.inputs[1], md)},
                 {DNNL_ARG_DIFF_SRC, MemoryFor(a, a.outputs[0], md)}});
  });
}

// ---- Softmax gradients ----

// sum(t) along `axis`, kept as size 1 so that it broadcasts back.
std::string SumAlong(GradContext& g, const std::string& t, int64_t axis) {
  return g.Emit("ReduceSum", {t},
                {{"axes", IntListAttr({axis})}, {"keepdims", BoolAttr(true)}});
}

// Softmax and LogSoftmax: dx = backward(y, dy) with the forward's axis.
GradientFn ViaBackwardOp(const std::string& backward) {
  return [backward](GradContext& g) {
    g.SetInputGrad(0, g.Emit(backward, {g.output(0), g.output_grad(0)},
                             {{"axis", g.attrs().Get("axis")}}));
    return absl::OkStatus();
  };
}

// SoftmaxGrad(y, dy) = y * (dy - s) with s = sum(dy * y). For the gradient
// g of its output, with t = sum(g * y): d/ddy = y * (g - t), which is
// SoftmaxGrad(y, g), and d/dy = g * (dy - s) - dy * t.
absl::Status SoftmaxGradGradient(GradContext& g) {
  int64_t axis = g.attrs().GetInt("axis");
  const std::string& y = g.input(0);
  const std::string& dy = g.input(1);
  const std::string& grad = g.output_grad(0);
  if (g.Wants(1)) {
    g.SetInputGrad(
        1, g.Emit("SoftmaxGrad", {y, grad}, {{"axis", g.attrs().Get("axis")}}));
  }
  if (g.Wants(0)) {
    std::string s = SumAlong(g, g.Emit("Mul", {dy, y}), axis);
    std::string t = SumAlong(g, g.Emit("Mul", {grad, y}), axis);
    std::string along_g = g.Emit("Mul", {grad, g.Emit("Sub", {dy, s})});
    g.SetInputGrad(0, g.Emit("Sub", {along_g, g.Emit("Mul", {dy, t})}));
  }
  return absl::OkStatus();
}

// LogSoftmaxGrad(y, dy) = dy - p * S with p = exp(y) and S = sum(dy). For
// the gradient g of its output: d/ddy = g - sum(g * p), and d/dy =
// -g * p * S.
absl::Status LogSoftmaxGradGradient(GradContext& g) {
  int64_t axis = g.attrs().GetInt("axis");
  const std::string& dy = g.input(1);
  std::string gp =
      g.Emit("Mul", {g.output_grad(0), g.Emit("Exp", {g.input(0)})});
  if (g.Wants(1)) {
    g.SetInputGrad(1, g.Emit("Sub", {g.output_grad(0), SumAlong(g, gp, axis)}));
  }
  if (g.Wants(0)) {
    g.SetInputGrad(0,
                   g.Emit("Neg", {g.Emit("Mul", {gp, SumAlong(g, dy, axis)})}));
  }
  return absl::OkStatus();
}

// ---- LayerNorm ----

// x's shape without its last axis: that of the mean and variance.
Shape StatsShape(const Shape& x) {
  return Shape(std::vector<int64_t>(x.dims().begin(), x.dims().end() - 1));
}

absl::Status CheckLayerNormRank(const Shape& x) {
  if (x.rank() > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "input 'x' is a scalar; LayerNorm normalises over the last axis, so "
      "it needs rank >= 1");
}

// Input `i` must have shape `want`: one value per element of x's last axis,
// or per row of x.
absl::Status CheckLayerNormInput(const InferenceContext& c, int i,
                                 const char* name, const Shape& want,
                                 const char* what) {
  const Shape& p = c.input_shape(i);
  if (ShapesCompatible(p, want)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("input '", name, "' has shape ", p.ToString(), " but x ",
                   c.input_shape(0).ToString(), " needs ", want.ToString(),
                   " (", what, ")"));
}

absl::Status CheckEpsilon(const InferenceContext& c) {
  const double epsilon = c.attrs().GetFloat("epsilon");
  if (epsilon >= 0 && !std::isinf(epsilon)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("attr 'epsilon' = ", epsilon, " must be finite and >= 0"));
}

constexpr char kPerFeature[] = "one value per element of the last axis";
constexpr char kPerRow[] = "one value per row: x's shape without its last axis";

// Outputs: y like x; mean and variance with x's shape minus the last axis.
absl::Status LayerNormShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  RETURN_IF_ERROR(CheckLayerNormRank(x));
  Shape features({x.dim(x.rank() - 1)});
  RETURN_IF_ERROR(CheckLayerNormInput(c, 1, "gamma", features, kPerFeature));
  RETURN_IF_ERROR(CheckLayerNormInput(c, 2, "beta", features, kPerFeature));
  RETURN_IF_ERROR(CheckEpsilon(c));
  c.SetOutput(0, c.input_dtype(0), x);
  c.SetOutput(1, c.input_dtype(0), StatsShape(x));
  c.SetOutput(2, c.input_dtype(0), StatsShape(x));
  return absl::OkStatus();
}

// LayerNormGrad(x, gamma, mean, variance, dy): dx like x and dy, dgamma and
// dbeta like gamma.
absl::Status LayerNormGradShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  RETURN_IF_ERROR(CheckLayerNormRank(x));
  Shape features({x.dim(x.rank() - 1)});
  RETURN_IF_ERROR(CheckLayerNormInput(c, 1, "gamma", features, kPerFeature));
  RETURN_IF_ERROR(CheckLayerNormInput(c, 2, "mean", StatsShape(x), kPerRow));
  RETURN_IF_ERROR(
      CheckLayerNormInput(c, 3, "variance", StatsShape(x), kPerRow));
  RETURN_IF_ERROR(CheckEpsilon(c));
  ASSIGN_OR_RETURN(Shape dx, SharedShape(c, 0, 4, "x", "dy"));
  if (features.dim(0) == kSymbolicDim) features = c.input_shape(1);
  c.SetOutput(0, c.input_dtype(0), std::move(dx));
  c.SetOutput(1, c.input_dtype(0), features);
  c.SetOutput(2, c.input_dtype(0), features);
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

// With r = 1 / sqrt(variance + epsilon), xhat = (x - mean) * r and a = dy *
// gamma, per row of N features: dx = r * (a - mean(a) - xhat * mean(a *
// xhat)); dgamma and dbeta sum dy * xhat and dy over the rows. mean and
// variance are read as given (not recomputed from x).
template <typename T>
struct LayerNormGradReference : OpKernel {
  explicit LayerNormGradReference(const KernelArgs& a)
      : x(a.inputs[0]),
        gamma(a.inputs[1]),
        mean(a.inputs[2]),
        variance(a.inputs[3]),
        dy(a.inputs[4]),
        dx(a.outputs[0]),
        dgamma(a.outputs[1]),
        dbeta(a.outputs[2]),
        features(x.shape().dim(x.shape().rank() - 1)),
        epsilon(a.attrs.GetFloat("epsilon")) {}

  absl::Status Compute() override {
    const T* g = gamma.data<T>();
    T* dg = dgamma.data<T>();
    T* db = dbeta.data<T>();
    std::fill_n(dg, features, T(0));
    std::fill_n(db, features, T(0));
    for (int64_t r = 0; r < mean.num_elements(); ++r) {
      const T* in = x.data<T>() + r * features;
      const T* d = dy.data<T>() + r * features;
      T* out = dx.data<T>() + r * features;
      T mu = mean.data<T>()[r];
      T rstd = T(1) / std::sqrt(variance.data<T>()[r] + epsilon);
      T sum_a = 0, sum_ax = 0;
      for (int64_t k = 0; k < features; ++k) {
        T xhat = (in[k] - mu) * rstd;
        sum_a += d[k] * g[k];
        sum_ax += d[k] * g[k] * xhat;
        dg[k] += d[k] * xhat;
        db[k] += d[k];
      }
      T n = static_cast<T>(features);
      for (int64_t k = 0; k < features; ++k) {
        T xhat = (in[k] - mu) * rstd;
        out[k] = rstd * (d[k] * g[k] - sum_a / n - xhat * sum_ax / n);
      }
    }
    return absl::OkStatus();
  }

  Tensor x, gamma, mean, variance, dy, dx, dgamma, dbeta;
  int64_t features;
  T epsilon;
};

// oneDNN's layer normalization wants rank >= 2: a rank-1 x is seen as
// [1, C].
struct LayerNormDescs {
  dnnl::memory::desc data, stat, param;
};
LayerNormDescs LayerNormDescsFor(const Shape& x) {
  std::vector<int64_t> dims = x.dims();
  if (dims.size() == 1) dims.insert(dims.begin(), 1);
  std::vector<int64_t> stat_dims(dims.begin(), dims.end() - 1);
  return {PlainDesc(dims), PlainDesc(stat_dims),
          PlainDesc(std::vector<int64_t>{dims.back()})};
}

dnnl::normalization_flags ScaleShift() {
  return dnnl::normalization_flags::use_scale |
         dnnl::normalization_flags::use_shift;
}

// oneDNN takes epsilon as a float; attributes hold doubles.
float Epsilon(const KernelArgs& a) {
  return static_cast<float>(a.attrs.GetFloat("epsilon"));
}

dnnl::layer_normalization_forward::primitive_desc LayerNormForwardDesc(
    const KernelArgs& a, const LayerNormDescs& d) {
  return {{dnnl::prop_kind::forward_training, d.data, d.stat, Epsilon(a),
           ScaleShift()},
          a.onednn->engine};
}

// forward_training, so that the primitive also writes mean and variance.
absl::StatusOr<std::unique_ptr<OpKernel>> LayerNormOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    LayerNormDescs d = LayerNormDescsFor(a.inputs[0].shape());
    dnnl::primitive p = CachedPrimitive(a, [&] {
      return dnnl::layer_normalization_forward(LayerNormForwardDesc(a, d));
    });
    return std::make_unique<PrimitiveKernel>(
        a, p,
        DnnlArgs{{DNNL_ARG_SRC, MemoryFor(a, a.inputs[0], d.data)},
                 {DNNL_ARG_SCALE, MemoryFor(a, a.inputs[1], d.param)},
                 {DNNL_ARG_SHIFT, MemoryFor(a, a.inputs[2], d.param)},
                 {DNNL_ARG_DST, MemoryFor(a, a.outputs[0], d.data)},
                 {DNNL_ARG_MEAN, MemoryFor(a, a.outputs[1], d.stat)},
                 {DNNL_ARG_VARIANCE, MemoryFor(a, a.outputs[2], d.stat)}});
  });
}

// prop_kind::backward with scale and shift, so that it also writes dgamma
// and dbeta. oneDNN lists SHIFT among the backward pass's inputs although
// no result depends on beta; gamma's buffer, of the same descriptor, stands
// in for it.
absl::StatusOr<std::unique_ptr<OpKernel>> LayerNormGradOneDnn(
    const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const dnnl::engine& eng = a.onednn->engine;
    LayerNormDescs d = LayerNormDescsFor(a.inputs[0].shape());
    dnnl::primitive p = CachedPrimitive(a, [&] {
      return dnnl::layer_normalization_backward(
          {{dnnl::prop_kind::backward, d.data, d.data, d.stat, Epsilon(a),
            ScaleShift()},
           eng,
           LayerNormForwardDesc(a, d)});
    });
    return std::make_unique<PrimitiveKernel>(
        a, p,
        DnnlArgs{{DNNL_ARG_SRC, MemoryFor(a, a.inputs[0], d.data)},
                 {DNNL_ARG_SCALE, MemoryFor(a, a.inputs[1], d.param)},
                 {DNNL_ARG_SHIFT, MemoryFor(a, a.inputs[1], d.param)},
                 {DNNL_ARG_MEAN, MemoryFor(a, a.inputs[2], d.stat)},
                 {DNNL_ARG_VARIANCE, MemoryFor(a, a.inputs[3], d.stat)},
                 {DNNL_ARG_DIFF_DST, MemoryFor(a, a.inputs[4], d.data)},
                 {DNNL_ARG_DIFF_SRC, MemoryFor(a, a.outputs[0], d.data)},
                 {DNNL_ARG_DIFF_SCALE, MemoryFor(a, a.outputs[1], d.param)},
                 {DNNL_ARG_DIFF_SHIFT, MemoryFor(a, a.outputs[2], d.param)}});
  });
}

// ---- LayerNorm gradients ----

std::string LastAxisExpanded(GradContext& g, const std::string& t) {
  return g.Emit("ExpandDims", {t}, {{"axis", IntAttr(-1)}});
}

// sum or mean over the last axis; kept as size 1 with `keepdims`.
std::string OverLastAxis(GradContext& g, const char* op, const std::string& t,
                         bool keepdims) {
  return g.Emit(
      op, {t}, {{"axes", IntListAttr({-1})}, {"keepdims", BoolAttr(keepdims)}});
}

// N, the size of x's last axis, as a scalar: a constant when known, else
// counted at run time.
std::string FeatureCount(GradContext& g) {
  const Shape& x = g.shape_of(g.input(0));
  int64_t n = x.dim(x.rank() - 1);
  if (n != kSymbolicDim) return g.Scalar(static_cast<double>(n), g.input(0));
  return g.Emit("ReduceSum", {g.Emit("OnesLike", {g.input(1)})});
}

// The part of dx due to gradients reaching the mean and variance outputs
// (d mean / dx = 1/N, d variance / dx = 2 (x - mean) / N along each row), or
// "" when none does.
std::string StatsInputGrad(GradContext& g) {
  const std::string& dmean = g.output_grad(1);
  const std::string& dvar = g.output_grad(2);
  if (dmean.empty() && dvar.empty()) return "";
  const std::string& x = g.input(0);
  std::string sum;
  if (!dmean.empty()) sum = LastAxisExpanded(g, dmean);
  if (!dvar.empty()) {
    std::string centred = g.Emit("Sub", {x, LastAxisExpanded(g, g.output(1))});
    std::string twice =
        g.Emit("Mul", {LastAxisExpanded(g, dvar), g.Scalar(2, x)});
    std::string term = g.Emit("Mul", {twice, centred});
    sum = sum.empty() ? term : g.Emit("Add", {sum, term});
  }
  std::string grad = g.Emit("Div", {sum, FeatureCount(g)});
  return dvar.empty() ? g.Emit("BroadcastLike", {grad, x}) : grad;
}

// y goes through LayerNormGrad; mean and variance add StatsInputGrad to dx.
absl::Status LayerNormGradient(GradContext& g) {
  std::string grads;
  if (!g.output_grad(0).empty()) {
    grads = g.Emit(
        "LayerNormGrad",
        {g.input(0), g.input(1), g.output(1), g.output(2), g.output_grad(0)},
        {{"epsilon", g.attrs().Get("epsilon")}});
  }
  if (g.Wants(0)) {
    std::string stats = StatsInputGrad(g);
    std::string dx = grads.empty()   ? stats
                     : stats.empty() ? grads
                                     : g.Emit("Add", {grads, stats});
    g.SetInputGrad(0, dx);
  }
  for (int i : {1, 2}) {
    if (!g.Wants(i)) continue;
    g.SetInputGrad(i, grads.empty() ? g.Emit("ZerosLike", {g.input(i)})
                                    : absl::StrCat(grads, ":", i));
  }
  return absl::OkStatus();
}

// The second-order gradient of LayerNormGrad(x, gamma, mu, v, dy), with
// mu and v independent inputs. Per row, with r = (v + eps)^-1/2, xc = x - mu,
// xhat = xc * r, a = dy * gamma, B = mean(a * xhat), and Gx, Gg, Gb the
// gradients reaching dx, dgamma, dbeta:
//   ga   = r * (Gx - mean(Gx) - xhat * mean(Gx * xhat))   (d / da)
//   gxh  = -r * (a * mean(Gx * xhat) + B * Gx) + Gg * dy  (d / dxhat)
//   d/ddy    = ga * gamma + Gg * xhat + Gb
//   d/dgamma = sum over rows of ga * dy
//   d/dx     = r * gxh,   d/dmu = -sum(r * gxh)
//   d/dv     = -r^2 / 2 * (sum(Gx * dx) + sum(gxh * xhat))
// (sums and means over the last axis). Gx, Gg and Gb may be absent.
class LayerNormGradGradient {
 public:
  explicit LayerNormGradGradient(GradContext& g) : g_(g) {}

  absl::Status Build() {
    const std::string &x = g_.input(0), &gamma = g_.input(1);
    const std::string &mu = g_.input(2), &dy = g_.input(4);
    std::string eps = g_.Scalar(g_.attrs().GetFloat("epsilon"), x);
    std::string var_eps = g_.Emit("Add", {g_.input(3), eps});
    r_ = g_.Emit("Rsqrt", {LastAxisExpanded(g_, var_eps)});
    xhat_ = Mul(g_.Emit("Sub", {x, LastAxisExpanded(g_, mu)}), r_);
    gx_ = g_.OutputGradOrZeros(0);
    gg_ = g_.output_grad(1);
    gb_ = g_.output_grad(2);
    std::string gx_xhat = MeanLast(Mul(gx_, xhat_));
    std::string ga = Mul(r_, Sub(Sub(gx_, MeanLast(gx_)), Mul(xhat_, gx_xhat)));
    if (g_.Wants(4)) g_.SetInputGrad(4, DyGrad(ga, gamma));
    if (g_.Wants(1)) g_.SetInputGradSummed(1, Mul(ga, dy));
    if (!g_.Wants(0) && !g_.Wants(2) && !g_.Wants(3)) return absl::OkStatus();
    std::string a = Mul(dy, gamma);
    std::string gxh = g_.Emit(
        "Neg",
        {Mul(r_, Add(Mul(a, gx_xhat), Mul(MeanLast(Mul(a, xhat_)), gx_)))});
    if (!gg_.empty()) gxh = Add(gxh, Mul(gg_, dy));
    std::string dx_part = Mul(r_, gxh);
    if (g_.Wants(0)) g_.SetInputGrad(0, dx_part);
    if (g_.Wants(2)) {
      g_.SetInputGrad(2, g_.Emit("Neg", {SumLast(dx_part)}));
    }
    if (g_.Wants(3)) {
      std::string sums =
          Add(SumLast(Mul(gx_, g_.output(0))), SumLast(Mul(gxh, xhat_)));
      std::string half_r2 =
          g_.Emit("Div", {g_.Scalar(-0.5, x), var_eps});  // -r^2 / 2, per row.
      g_.SetInputGrad(3, Mul(half_r2, sums));
    }
    return absl::OkStatus();
  }

 private:
  std::string DyGrad(const std::string& ga, const std::string& gamma) {
    std::string grad = Mul(ga, gamma);
    if (!gg_.empty()) grad = Add(grad, Mul(gg_, xhat_));
    if (!gb_.empty()) grad = Add(grad, gb_);
    return grad;
  }
  std::string Mul(const std::string& a, const std::string& b) {
    return g_.Emit("Mul", {a, b});
  }
  std::string Add(const std::string& a, const std::string& b) {
    return g_.Emit("Add", {a, b});
  }
  std::string Sub(const std::string& a, const std::string& b) {
    return g_.Emit("Sub", {a, b});
  }
  std::string MeanLast(const std::string& t) {
    return OverLastAxis(g_, "ReduceMean", t, true);
  }
  std::string SumLast(const std::string& t) {
    return OverLastAxis(g_, "ReduceSum", t, false);
  }

  GradContext& g_;
  std::string r_, xhat_, gx_, gg_, gb_;
};

}  // namespace

void RegisterNnOps(OpRegistry& r) {
  r.Add(OpDef("Softmax")
            .Doc("y = exp(x) / sum(exp(x)) along `axis`, computed stably.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxShape)
            .Gradient(ViaBackwardOp("SoftmaxGrad"))
            .Reference(MakeFloatKernel<SoftmaxKernel>)
            .OneDnn(SoftmaxOneDnn<dnnl::softmax_forward>));
  r.Add(OpDef("SoftmaxGrad")
            .Doc("The gradient of Softmax from its output y and the gradient "
                 "dy reaching it: dx = y * (dy - sum(dy * y)), the sum along "
                 "`axis` (broadcast back along it). y and dy have one shape.")
            .TypeVar("T", kFloatTypes)
            .Input("y", "T")
            .Input("dy", "T")
            .Output("dx")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxGradShape)
            .Gradient(SoftmaxGradGradient)
            .Reference(MakeFloatKernel<SoftmaxGradKernel>)
            .OneDnn(SoftmaxGradOneDnn<dnnl::softmax_forward,
                                      dnnl::softmax_backward>));
  r.Add(OpDef("LogSoftmax")
            .Doc("y = x - log(sum(exp(x))) along `axis`, computed stably as "
                 "(x - m) - log(sum(exp(x - m))) with m the maximum along "
                 "`axis`.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxShape)
            .Gradient(ViaBackwardOp("LogSoftmaxGrad"))
            .Reference(MakeFloatKernel<LogSoftmaxKernel>)
            .OneDnn(SoftmaxOneDnn<dnnl::logsoftmax_forward>));
  r.Add(OpDef("LogSoftmaxGrad")
            .Doc("The gradient of LogSoftmax from its output y and the "
                 "gradient dy reaching it: dx = dy - exp(y) * sum(dy), the "
                 "sum along `axis` (broadcast back along it). y and dy have "
                 "one shape.")
            .TypeVar("T", kFloatTypes)
            .Input("y", "T")
            .Input("dy", "T")
            .Output("dx")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(SoftmaxGradShape)
            .Gradient(LogSoftmaxGradGradient)
            .Reference(MakeFloatKernel<LogSoftmaxGradKernel>)
            .OneDnn(SoftmaxGradOneDnn<dnnl::logsoftmax_forward,
                                      dnnl::logsoftmax_backward>));
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
            .Attr("epsilon", AttrType::kFloat, FloatAttr(1e-5))
            .Shape(LayerNormShape)
            .Gradient(LayerNormGradient)
            .Reference(MakeFloatKernel<LayerNormReference>)
            .OneDnn(LayerNormOneDnn));
  r.Add(OpDef("LayerNormGrad")
            .Doc("The gradient of LayerNorm from x, gamma, the mean and "
                 "variance it output (used as given) and the gradient dy "
                 "reaching y. Per row of N = x.shape[-1] features, with r = "
                 "1 / sqrt(variance + epsilon), xhat = (x - mean) * r and a "
                 "= dy * gamma: dx = r * (a - mean(a) - xhat * mean(a * "
                 "xhat)) (means over the row); dgamma = sum over the rows of "
                 "dy * xhat; dbeta = sum over the rows of dy. No rows give "
                 "dgamma = dbeta = 0.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Input("gamma", "T")
            .Input("mean", "T")
            .Input("variance", "T")
            .Input("dy", "T")
            .Output("dx")
            .Output("dgamma")
            .Output("dbeta")
            .Attr("epsilon", AttrType::kFloat, FloatAttr(1e-5))
            .Shape(LayerNormGradShape)
            .Gradient(
                [](GradContext& g) { return LayerNormGradGradient(g).Build(); })
            .Reference(MakeFloatKernel<LayerNormGradReference>)
            .OneDnn(LayerNormGradOneDnn));
}

}  // namespace rill

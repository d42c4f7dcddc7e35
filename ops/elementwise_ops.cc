// Element-wise ops: unary math and activations, binary arithmetic with NumPy
// broadcasting, comparisons, Where and AddN.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

constexpr DTypeSet kNumericTypes{DType::kF32, DType::kF64, DType::kI32,
                                 DType::kI64};

// ---- oneDNN helpers ----

// How a binary op maps onto oneDNN's binary primitive, which broadcasts only
// its second source.
struct BinaryAlgs {
  dnnl::algorithm alg;
  // The algorithm computing a op b as b op' a, used when only `a`
  // broadcasts; unset when there is none (Div).
  std::optional<dnnl::algorithm> swapped;
  // Sub swaps as a - b = -(b - a), which is exact in round-to-nearest.
  bool negate_swapped = false;
};

// oneDNN binary for f32 inputs; the output is f32, or bool (as u8 0/1) for
// comparisons. When both inputs broadcast, the reference kernel runs.
KernelFactory BinaryPrimitive(BinaryAlgs algs, bool bool_out) {
  return [=](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    const Tensor& out = a.outputs[0];
    if (!OneDnnCanTake(a.inputs[0], DType::kF32) ||
        !OneDnnCanTake(a.inputs[1], DType::kF32) ||
        !OneDnnCanTake(out, bool_out ? DType::kBool : DType::kF32)) {
      return nullptr;
    }
    // With broadcast-compatible shapes, equal element counts mean that the
    // input does not broadcast (its padded dims equal the output's).
    int first = 0, second = 1;
    dnnl::algorithm alg = algs.alg;
    bool negate = false;
    if (a.inputs[0].num_elements() != out.num_elements()) {
      if (!algs.swapped || a.inputs[1].num_elements() != out.num_elements()) {
        return nullptr;
      }
      std::swap(first, second);
      alg = *algs.swapped;
      negate = algs.negate_swapped;
    }
    return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
      using dt = dnnl::memory::data_type;
      const dnnl::engine& eng = a.onednn->engine;
      int rank = std::max(out.shape().rank(), 1);
      auto md0 = PlainDesc(PaddedDims(a.inputs[first].shape(), rank), dt::f32);
      auto md1 = PlainDesc(PaddedDims(a.inputs[second].shape(), rank), dt::f32);
      auto mdd =
          PlainDesc(PaddedDims(out.shape(), rank), bool_out ? dt::u8 : dt::f32);
      dnnl::primitive_attr attr;
      if (negate) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
        attr.set_post_ops(ops);
      }
      dnnl::binary::primitive_desc pd({alg, md0, md1, mdd}, attr, eng);
      return std::make_unique<PrimitiveKernel>(
          a, dnnl::binary(pd),
          std::unordered_map<int, dnnl::memory>{
              {DNNL_ARG_SRC_0, MemoryFor(a.inputs[first], md0, eng)},
              {DNNL_ARG_SRC_1, MemoryFor(a.inputs[second], md1, eng)},
              {DNNL_ARG_DST, MemoryFor(out, mdd, eng)}});
    });
  };
}

// ---- Unary ----

// An f32/f64 op y = f(x), where `f` is generic over float and double.
template <typename F>
OpDef UnaryOp(const char* name, const char* doc, F f, KernelFactory onednn) {
  OpDef def(name);
  def.Doc(doc)
      .TypeVar("T", kFloatTypes)
      .Input("x", "T")
      .Output("y")
      .Shape(UnchangedShape)
      .Reference(UnaryReference(f))
      .OneDnn(std::move(onednn));
  return def;
}

// log(1 + e^x) without overflow for large x or loss of precision for very
// negative x.
template <typename T>
T Softplus(T x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// Written so that exp never overflows: for x < 0, e^x / (1 + e^x).
template <typename T>
T Sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
T Gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}

void RegisterUnaryOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(UnaryOp(
      "Neg", "y = -x.", [](auto x) { return -x; },
      EltwiseOneDnn(algorithm::eltwise_linear, -1.f, 0.f)));
  r.Add(UnaryOp(
      "Abs", "y = |x|.", [](auto x) { return std::abs(x); },
      EltwiseOneDnn(algorithm::eltwise_abs)));
  r.Add(UnaryOp(
      "Exp", "y = e^x.", [](auto x) { return std::exp(x); },
      EltwiseOneDnn(algorithm::eltwise_exp)));
  r.Add(UnaryOp(
      "Log", "y = ln(x); -inf at 0, NaN below 0.",
      [](auto x) { return std::log(x); },
      EltwiseOneDnn(algorithm::eltwise_log)));
  r.Add(UnaryOp(
      "Sqrt", "y = sqrt(x); NaN below 0.", [](auto x) { return std::sqrt(x); },
      EltwiseOneDnn(algorithm::eltwise_sqrt)));
  r.Add(UnaryOp(
      "Rsqrt", "y = 1 / sqrt(x); inf at 0, NaN below 0.",
      [](auto x) { return decltype(x)(1) / std::sqrt(x); },
      EltwiseOneDnn(algorithm::eltwise_pow, 1.f, -0.5f)));
  r.Add(UnaryOp(
      "Square", "y = x * x.", [](auto x) { return x * x; },
      EltwiseOneDnn(algorithm::eltwise_square)));
  r.Add(UnaryOp(
      "Reciprocal", "y = 1 / x; +-inf at +-0.",
      [](auto x) { return decltype(x)(1) / x; },
      EltwiseOneDnn(algorithm::eltwise_pow, 1.f, -1.f)));
  r.Add(UnaryOp(
      "Tanh", "y = tanh(x).", [](auto x) { return std::tanh(x); },
      EltwiseOneDnn(algorithm::eltwise_tanh))
            .Gradient([](GradContext& g) {
              std::string dy = g.output_grad(0);
              std::string y2 = g.Emit("Square", {g.output(0)});
              g.SetInputGrad(
                  0, g.Emit("Sub", {dy, g.Emit("Mul", {dy, y2})}));
              return absl::OkStatus();
            }));
  r.Add(UnaryOp(
      "Sigmoid", "y = 1 / (1 + e^-x), computed without overflow.",
      [](auto x) { return Sigmoid(x); },
      EltwiseOneDnn(algorithm::eltwise_logistic)));
  r.Add(UnaryOp(
      "Relu", "y = max(x, 0).",
      [](auto x) { return x > 0 ? x : decltype(x)(0); },
      EltwiseOneDnn(algorithm::eltwise_relu, 0.f)));
  r.Add(UnaryOp(
      "Gelu", "y = 0.5 * x * (1 + erf(x / sqrt(2))), the exact (erf) GELU.",
      [](auto x) { return Gelu(x); },
      EltwiseOneDnn(algorithm::eltwise_gelu_erf)));
  // oneDNN 2.6's soft_relu is ln(1 + e^x), with no alpha.
  r.Add(UnaryOp(
      "Softplus",
      "y = ln(1 + e^x), computed without overflow: x + ln(1 + "
      "e^-x) for x > 0.",
      [](auto x) { return Softplus(x); },
      EltwiseOneDnn(algorithm::eltwise_soft_relu)));
}

// ---- Binary arithmetic ----

template <typename F>
OpDef BinaryOp(const char* name, const char* doc, F f) {
  OpDef def(name);
  def.Doc(doc)
      .TypeVar("T", kFloatTypes)
      .Input("a", "T")
      .Input("b", "T")
      .Output("z")
      .Shape(BroadcastBinaryShape)
      .Reference(BinaryReference(f));
  return def;
}

void RegisterBinaryOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(BinaryOp("Add", "z = a + b, with NumPy broadcasting.",
                 [](auto x, auto y) { return x + y; })
            .Gradient([](GradContext& g) {
              for (int i : {0, 1}) {
                if (g.Wants(i)) g.SetInputGradSummed(i, g.output_grad(0));
              }
              return absl::OkStatus();
            })
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_add, algorithm::binary_add}, false)));
  r.Add(BinaryOp("Mul", "z = a * b element-wise, with NumPy broadcasting.",
                 [](auto x, auto y) { return x * y; })
            .Gradient([](GradContext& g) {
              for (int i : {0, 1}) {
                if (!g.Wants(i)) continue;
                g.SetInputGradSummed(
                    i, g.Emit("Mul", {g.output_grad(0), g.input(1 - i)}));
              }
              return absl::OkStatus();
            })
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_mul, algorithm::binary_mul}, false)));
  r.Add(BinaryOp("Sub", "z = a - b, with NumPy broadcasting.",
                 [](auto x, auto y) { return x - y; })
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_sub, algorithm::binary_sub, true}, false)));
  r.Add(BinaryOp("Div",
                 "z = a / b (IEEE: +-inf or NaN where b = 0), with "
                 "NumPy broadcasting.",
                 [](auto x, auto y) { return x / y; })
            .OneDnn(BinaryPrimitive({algorithm::binary_div}, false)));
  // oneDNN 2.6 has no binary pow (eltwise_pow takes a constant exponent).
  r.Add(BinaryOp("Pow",
                 "z = a^b as std::pow (NaN for a < 0 with a non-integer b), "
                 "with NumPy broadcasting.",
                 [](auto x, auto y) { return std::pow(x, y); })
            .NoOneDnnPrimitive());
  r.Add(BinaryOp("Maximum",
                 "z = max(a, b) element-wise, with NumPy broadcasting.",
                 [](auto x, auto y) { return x < y ? y : x; })
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_max, algorithm::binary_max}, false)));
  r.Add(BinaryOp("Minimum",
                 "z = min(a, b) element-wise, with NumPy broadcasting.",
                 [](auto x, auto y) { return y < x ? y : x; })
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_min, algorithm::binary_min}, false)));
}

// ---- Comparisons ----

absl::Status CompareShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Shape out,
                   BroadcastShapes(c.input_shape(0), c.input_shape(1)));
  c.SetOutput(0, DType::kBool, std::move(out));
  return absl::OkStatus();
}

// z = cmp(a, b) as bool, with NumPy broadcasting.
template <typename T, typename Cmp>
class CompareReference : public OpKernel {
 public:
  explicit CompareReference(const KernelArgs& a)
      : a_(a.inputs[0]),
        b_(a.inputs[1]),
        z_(a.outputs[0]),
        same_shapes_(a_.shape() == z_.shape() && b_.shape() == z_.shape()) {
    if (!same_shapes_) {
      a_offsets_ = BroadcastOffsets(a_.shape(), z_.shape());
      b_offsets_ = BroadcastOffsets(b_.shape(), z_.shape());
    }
  }
  absl::Status Compute() override {
    const T* as = a_.data<T>();
    const T* bs = b_.data<T>();
    bool* zs = z_.data<bool>();
    int64_t n = z_.num_elements();
    Cmp cmp;
    if (same_shapes_) {
      for (int64_t i = 0; i < n; ++i) zs[i] = cmp(as[i], bs[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        zs[i] = cmp(as[a_offsets_[i]], bs[b_offsets_[i]]);
    }
    return absl::OkStatus();
  }

 private:
  Tensor a_, b_, z_;
  bool same_shapes_;
  std::vector<int64_t> a_offsets_, b_offsets_;
};

template <typename T>
using LessReference = CompareReference<T, std::less<T>>;
template <typename T>
using GreaterReference = CompareReference<T, std::greater<T>>;
template <typename T>
using EqualReference = CompareReference<T, std::equal_to<T>>;

template <template <typename> class Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> ForInputType(const KernelArgs& a) {
  return MakeKernelForType<Kernel>(a.inputs[0].dtype(), a);
}

OpDef CompareOp(const char* name, const char* doc, KernelFactory reference,
                BinaryAlgs algs) {
  OpDef def(name);
  def.Doc(doc)
      .TypeVar("T", kNumericTypes)
      .Input("a", "T")
      .Input("b", "T")
      .Output("z")
      .Shape(CompareShape)
      .NoGradient()
      .Reference(std::move(reference))
      .OneDnn(BinaryPrimitive(algs, true));
  return def;
}

void RegisterCompareOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(CompareOp("Less",
                  "z = a < b as bool, with NumPy broadcasting (false where "
                  "either is NaN).",
                  ForInputType<LessReference>,
                  {algorithm::binary_lt, algorithm::binary_gt}));
  r.Add(CompareOp("Greater",
                  "z = a > b as bool, with NumPy broadcasting (false where "
                  "either is NaN).",
                  ForInputType<GreaterReference>,
                  {algorithm::binary_gt, algorithm::binary_lt}));
  r.Add(CompareOp("Equal",
                  "z = a == b as bool, with NumPy broadcasting (false where "
                  "either is NaN).",
                  ForInputType<EqualReference>,
                  {algorithm::binary_eq, algorithm::binary_eq}));
}

// ---- Where ----

absl::Status WhereShape(InferenceContext& c) {
  absl::StatusOr<Shape> out =
      BroadcastShapes(c.input_shape(0), c.input_shape(1));
  if (out.ok()) out = BroadcastShapes(*out, c.input_shape(2));
  if (!out.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cond ", c.input_shape(0).ToString(), ", a ",
        c.input_shape(1).ToString(), " and b ", c.input_shape(2).ToString(),
        " do not broadcast together: ", out.status().message()));
  }
  c.SetOutput(0, c.input_dtype(1), *std::move(out));
  return absl::OkStatus();
}

template <typename T>
class WhereReference : public OpKernel {
 public:
  explicit WhereReference(const KernelArgs& a)
      : cond_(a.inputs[0]), a_(a.inputs[1]), b_(a.inputs[2]), y_(a.outputs[0]) {
    const Shape& out = y_.shape();
    same_shapes_ =
        cond_.shape() == out && a_.shape() == out && b_.shape() == out;
    if (!same_shapes_) {
      cond_offsets_ = BroadcastOffsets(cond_.shape(), out);
      a_offsets_ = BroadcastOffsets(a_.shape(), out);
      b_offsets_ = BroadcastOffsets(b_.shape(), out);
    }
  }
  absl::Status Compute() override {
    const bool* cs = cond_.data<bool>();
    const T* as = a_.data<T>();
    const T* bs = b_.data<T>();
    T* ys = y_.data<T>();
    int64_t n = y_.num_elements();
    if (same_shapes_) {
      for (int64_t i = 0; i < n; ++i) ys[i] = cs[i] ? as[i] : bs[i];
    } else {
      for (int64_t i = 0; i < n; ++i) {
        ys[i] = cs[cond_offsets_[i]] ? as[a_offsets_[i]] : bs[b_offsets_[i]];
      }
    }
    return absl::OkStatus();
  }

 private:
  Tensor cond_, a_, b_, y_;
  bool same_shapes_;
  std::vector<int64_t> cond_offsets_, a_offsets_, b_offsets_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeWhere(const KernelArgs& a) {
  return MakeKernelForType<WhereReference>(a.inputs[1].dtype(), a);
}

// ---- AddN ----

// All inputs have one shape; a symbolic dim takes a known size from any
// other input.
absl::Status AddNShape(InferenceContext& c) {
  Shape out = c.input_shape(0);
  for (int i = 1; i < c.num_inputs(); ++i) {
    const Shape& s = c.input_shape(i);
    bool same = s.rank() == out.rank();
    for (int d = 0; same && d < s.rank(); ++d) {
      int64_t& o = out.mutable_dims()[d];
      if (o == kSymbolicDim) {
        o = s.dim(d);
      } else if (s.dim(d) != kSymbolicDim && s.dim(d) != o) {
        same = false;
      }
    }
    if (!same) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " has shape ", s.ToString(),
                       " but input 0 has ", c.input_shape(0).ToString(),
                       "; AddN needs equal shapes (it does not broadcast)"));
    }
  }
  c.SetOutput(0, c.input_dtype(0), std::move(out));
  return absl::OkStatus();
}

template <typename T>
class AddNReference : public OpKernel {
 public:
  explicit AddNReference(const KernelArgs& a)
      : xs_(a.inputs), y_(a.outputs[0]) {}
  // Left to right: y = ((x0 + x1) + x2) + ...
  absl::Status Compute() override {
    T* y = y_.data<T>();
    int64_t n = y_.num_elements();
    if (n == 0) return absl::OkStatus();
    std::memcpy(y, xs_[0].data<T>(), n * sizeof(T));
    for (size_t k = 1; k < xs_.size(); ++k) {
      const T* x = xs_[k].data<T>();
      for (int64_t i = 0; i < n; ++i) y[i] += x[i];
    }
    return absl::OkStatus();
  }

 private:
  std::vector<Tensor> xs_;
  Tensor y_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> AddNOneDnn(const KernelArgs& a) {
  for (const Tensor& x : a.inputs) {
    if (!OneDnnCanTake(x, DType::kF32)) return nullptr;
  }
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(a.outputs[0].shape());
    std::vector<dnnl::memory::desc> srcs(a.inputs.size(), md);
    std::vector<float> scales(a.inputs.size(), 1.f);
    dnnl::sum::primitive_desc pd(md, scales, srcs, eng);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_DST, MemoryFor(a.outputs[0], md, eng)}};
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      args.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i),
                   MemoryFor(a.inputs[i], md, eng));
    }
    return std::make_unique<PrimitiveKernel>(a, dnnl::sum(pd), std::move(args));
  });
}

}  // namespace

void RegisterElementwiseOps(OpRegistry& r) {
  RegisterUnaryOps(r);
  RegisterBinaryOps(r);
  RegisterCompareOps(r);
  r.Add(OpDef("Where")
            .Doc("y = cond ? a : b element-wise; cond, a and b broadcast "
                 "together (NumPy rules).")
            .TypeVar("C", {DType::kBool})
            .TypeVar("T", kAnyType)
            .Input("cond", "C")
            .Input("a", "T")
            .Input("b", "T")
            .Output("y")
            .Shape(WhereShape)
            .Reference(MakeWhere)
            .NoOneDnnPrimitive());
  r.Add(OpDef("AddN")
            .Doc("y = x_0 + x_1 + ... + x_{n-1} for n >= 1 inputs of one "
                 "shape (no broadcasting), summed left to right.")
            .TypeVar("T", kFloatTypes)
            .VariadicInput("x", "T", 1)
            .Output("y")
            .Shape(AddNShape)
            .Gradient([](GradContext& g) {
              for (int i = 0; i < g.num_inputs(); ++i) {
                if (g.Wants(i)) g.SetInputGrad(i, g.output_grad(0));
              }
              return absl::OkStatus();
            })
            .Reference(MakeFloatKernel<AddNReference>)
            .OneDnn(AddNOneDnn));
}

}  // namespace rill

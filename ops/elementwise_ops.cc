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
      dnnl::primitive p = CachedPrimitive(a, [&] {
        dnnl::primitive_attr attr;
        if (negate) {
          dnnl::post_ops ops;
          ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
          attr.set_post_ops(ops);
        }
        return dnnl::binary({{alg, md0, md1, mdd}, attr, eng});
      });
      return std::make_unique<PrimitiveKernel>(
          a, p,
          DnnlArgs{{DNNL_ARG_SRC_0, MemoryFor(a, a.inputs[first], md0)},
                   {DNNL_ARG_SRC_1, MemoryFor(a, a.inputs[second], md1)},
                   {DNNL_ARG_DST, MemoryFor(a, out, mdd)}});
    });
  };
}

// ---- Unary ----

// A tensor reference ("node" or "node:k"), in gradient builders.
using Ref = const std::string&;

// The gradient of a unary op y = f(x): dx from x, y and dy.
using UnaryGradFn = std::string (*)(GradContext& g, Ref x, Ref y, Ref dy);

GradientFn UnaryGradient(UnaryGradFn dx) {
  return [dx](GradContext& g) {
    g.SetInputGrad(0, dx(g, g.input(0), g.output(0), g.output_grad(0)));
    return absl::OkStatus();
  };
}

// An f32/f64 op y = f(x), where `f` is generic over float and double.
template <typename F>
OpDef UnaryOp(const char* name, const char* doc, F f, KernelFactory onednn,
              UnaryGradFn dx) {
  OpDef def(name);
  def.Doc(doc)
      .TypeVar("T", kFloatTypes)
      .Input("x", "T")
      .Output("y")
      .Shape(UnchangedShape)
      .Gradient(UnaryGradient(dx))
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

// The standard normal pdf phi and cdf Phi, and gelu(x) = x * Phi(x).
constexpr double kInvSqrt2Pi = 0.5 * M_2_SQRTPI * M_SQRT1_2;

template <typename T>
T NormalPdf(T x) {
  return std::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
}

template <typename T>
T NormalCdf(T x) {
  return T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
}

template <typename T>
T Gelu(T x) {
  return x * NormalCdf(x);
}

// The tanh approximation 0.5 x (1 + tanh(u)), u = c (x + k x^3): Google
// BERT's gelu and HF's "gelu_new". u' = c (1 + 3 k x^2).
constexpr double kGeluTanhC = 0.5 * M_2_SQRTPI * M_SQRT2;  // sqrt(2 / pi)
constexpr double kGeluTanhK = 0.044715;

template <typename T>
T GeluTanh(T x) {
  return T(0.5) * x *
         (T(1) + std::tanh(T(kGeluTanhC) * (x + T(kGeluTanhK) * x * x * x)));
}

template <typename T>
T GeluTanhSlope(T x) {
  const T t = std::tanh(T(kGeluTanhC) * (x + T(kGeluTanhK) * x * x * x));
  const T du = T(kGeluTanhC) * (T(1) + T(3 * kGeluTanhK) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

void RegisterUnaryOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(UnaryOp(
      "Neg", "y = -x. Gradient: dx = -dy.", [](auto x) { return -x; },
      EltwiseOneDnn(algorithm::eltwise_linear, -1.f, 0.f),
      [](GradContext& g, Ref, Ref, Ref dy) { return g.Emit("Neg", {dy}); }));
  // sign(x) * dy = relu'(x) * dy - relu'(-x) * dy, which is 0 at x = 0
  // like sign, and differentiable again (ReluGrad has a gradient).
  r.Add(UnaryOp(
      "Abs", "y = |x|. Gradient: dx = sign(x) * dy (0 at x = 0).",
      [](auto x) { return std::abs(x); }, EltwiseOneDnn(algorithm::eltwise_abs),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        std::string neg_x = g.Emit("Neg", {x});
        return g.Emit("Sub", {g.Emit("ReluGrad", {x, dy}),
                              g.Emit("ReluGrad", {neg_x, dy})});
      }));
  r.Add(UnaryOp(
      "Exp", "y = e^x. Gradient: dx = dy * y.",
      [](auto x) { return std::exp(x); }, EltwiseOneDnn(algorithm::eltwise_exp),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        return g.Emit("Mul", {dy, y});
      }));
  r.Add(UnaryOp(
      "Log", "y = ln(x); -inf at 0, NaN below 0. Gradient: dx = dy / x.",
      [](auto x) { return std::log(x); }, EltwiseOneDnn(algorithm::eltwise_log),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("Div", {dy, x});
      }));
  r.Add(UnaryOp(
      "Sqrt", "y = sqrt(x); NaN below 0. Gradient: dx = dy / (2 * y).",
      [](auto x) { return std::sqrt(x); },
      EltwiseOneDnn(algorithm::eltwise_sqrt),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        return g.Emit("Div", {dy, g.Emit("Add", {y, y})});
      }));
  r.Add(UnaryOp(
      "Rsqrt",
      "y = 1 / sqrt(x); inf at 0, NaN below 0. Gradient: dx = -0.5 * dy * "
      "y^3.",
      [](auto x) { return decltype(x)(1) / std::sqrt(x); },
      EltwiseOneDnn(algorithm::eltwise_pow, 1.f, -0.5f),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        std::string y3 = g.Emit("Mul", {g.Emit("Square", {y}), y});
        return g.Emit("Mul", {g.Emit("Mul", {dy, y3}), g.Scalar(-0.5, dy)});
      }));
  r.Add(UnaryOp(
      "Square", "y = x * x. Gradient: dx = 2 * x * dy.",
      [](auto x) { return x * x; }, EltwiseOneDnn(algorithm::eltwise_square),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("Mul", {dy, g.Emit("Add", {x, x})});
      }));
  r.Add(UnaryOp(
      "Reciprocal", "y = 1 / x; +-inf at +-0. Gradient: dx = -dy * y^2.",
      [](auto x) { return decltype(x)(1) / x; },
      EltwiseOneDnn(algorithm::eltwise_pow, 1.f, -1.f),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        return g.Emit("Neg", {g.Emit("Mul", {dy, g.Emit("Square", {y})})});
      }));
  // Recurrent nets unroll Tanh and Sigmoid many times: one backward node
  // each.
  r.Add(UnaryOp(
      "Tanh", "y = tanh(x). Gradient: dx = TanhGrad(y, dy) = dy * (1 - y^2).",
      [](auto x) { return std::tanh(x); },
      EltwiseOneDnn(algorithm::eltwise_tanh),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        return g.Emit("TanhGrad", {y, dy});
      }));
  r.Add(UnaryOp(
      "Sigmoid",
      "y = 1 / (1 + e^-x), computed without overflow. Gradient: dx = "
      "SigmoidGrad(y, dy) = dy * y * (1 - y).",
      [](auto x) { return Sigmoid(x); },
      EltwiseOneDnn(algorithm::eltwise_logistic),
      [](GradContext& g, Ref, Ref y, Ref dy) {
        return g.Emit("SigmoidGrad", {y, dy});
      }));
  r.Add(UnaryOp(
      "Relu",
      "y = max(x, 0). Gradient: dx = ReluGrad(x, dy) = (x > 0 ? dy : 0).",
      [](auto x) { return x > 0 ? x : decltype(x)(0); },
      EltwiseOneDnn(algorithm::eltwise_relu, 0.f),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("ReluGrad", {x, dy});
      }));
  r.Add(UnaryOp(
      "Gelu",
      "y = 0.5 * x * (1 + erf(x / sqrt(2))), the exact (erf) GELU. "
      "Gradient: dx = GeluGrad(x, dy).",
      [](auto x) { return Gelu(x); },
      EltwiseOneDnn(algorithm::eltwise_gelu_erf),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("GeluGrad", {x, dy});
      }));
  r.Add(UnaryOp(
      "GeluTanh",
      "y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), the "
      "tanh form of GELU (Google BERT's, Hugging Face's \"gelu_new\"). "
      "Gradient: dx = GeluTanhGrad(x, dy).",
      [](auto x) { return GeluTanh(x); },
      EltwiseOneDnn(algorithm::eltwise_gelu_tanh),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("GeluTanhGrad", {x, dy});
      }));
  // oneDNN 2.6 has no erf eltwise (only gelu_erf, whose inverse would
  // divide by x): the oneDNN backend runs this reference loop.
  OpDef erf = UnaryOp(
      "Erf",
      "y = erf(x) = 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt. "
      "Gradient: dx = dy * 2/sqrt(pi) * e^(-x^2).",
      [](auto x) { return std::erf(x); }, nullptr,
      [](GradContext& g, Ref x, Ref, Ref dy) {
        std::string slope = g.Emit(
            "Mul", {g.Emit("Exp", {g.Emit("Neg", {g.Emit("Square", {x})})}),
                    g.Scalar(M_2_SQRTPI, x)});
        return g.Emit("Mul", {dy, slope});
      });
  erf.NoOneDnnPrimitive();
  r.Add(std::move(erf));
  // oneDNN 2.6's soft_relu is ln(1 + e^x), with no alpha.
  r.Add(UnaryOp(
      "Softplus",
      "y = ln(1 + e^x), computed without overflow: x + ln(1 + "
      "e^-x) for x > 0. Gradient: dx = dy * sigmoid(x).",
      [](auto x) { return Softplus(x); },
      EltwiseOneDnn(algorithm::eltwise_soft_relu),
      [](GradContext& g, Ref x, Ref, Ref dy) {
        return g.Emit("Mul", {dy, g.Emit("Sigmoid", {x})});
      }));
}

// ---- Element-wise backward ops ----

// Inputs of one shape (no broadcasting); a symbolic dim takes a known size
// from any other input.
absl::Status EqualShapes(InferenceContext& c) {
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
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " has shape ", s.ToString(), " but input 0 has ",
          c.input_shape(0).ToString(),
          "; the inputs must have equal shapes (the op does not broadcast)"));
    }
  }
  c.SetOutput(0, c.input_dtype(0), std::move(out));
  return absl::OkStatus();
}

// Which forward tensor a backward op dx = f(v, dy) reads as v: the forward
// op's input x (oneDNN's DNNL_ARG_SRC) or its output y (DNNL_ARG_DST, for
// the *_use_dst_for_bwd algorithms).
enum class Reads { kX, kY };

// oneDNN eltwise backward, f32: diff_src from v and diff_dst.
KernelFactory EltwiseBackwardOneDnn(dnnl::algorithm alg, Reads reads) {
  return [=](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    if (!OneDnnCanRun(a)) return nullptr;
    return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
      const dnnl::engine& eng = a.onednn->engine;
      dnnl::memory::desc md = PlainDesc(a.inputs[0].shape());
      dnnl::primitive p = CachedPrimitive(a, [&] {
        dnnl::eltwise_forward::primitive_desc hint(
            {dnnl::prop_kind::forward_training, alg, md, 0.f, 0.f}, eng);
        return dnnl::eltwise_backward({{alg, md, md, 0.f, 0.f}, eng, hint});
      });
      int value_arg = reads == Reads::kY ? DNNL_ARG_DST : DNNL_ARG_SRC;
      return std::make_unique<PrimitiveKernel>(
          a, p,
          DnnlArgs{{value_arg, MemoryFor(a, a.inputs[0], md)},
                   {DNNL_ARG_DIFF_DST, MemoryFor(a, a.inputs[1], md)},
                   {DNNL_ARG_DIFF_SRC, MemoryFor(a, a.outputs[0], md)}});
    });
  };
}

// The gradient of a backward op dx = f(v, dy) with respect to v, given the
// gradient `g_dx` reaching dx.
using ValueGradFn = std::string (*)(GradContext& g, Ref v, Ref dy, Ref g_dx);

// An element-wise backward op dx = f(v, dy), with `f` generic over float and
// double. It is linear in dy, so its gradient with respect to dy is the op
// itself applied to the incoming gradient; `dv` gives the one for v.
template <typename F>
OpDef EltwiseBackwardOp(const char* name, const char* doc, Reads reads,
                        dnnl::algorithm alg, F f, ValueGradFn dv) {
  OpDef def(name);
  def.Doc(doc)
      .TypeVar("T", kFloatTypes)
      .Input(reads == Reads::kY ? "y" : "x", "T")
      .Input("dy", "T")
      .Output("dx")
      .Shape(EqualShapes)
      .Gradient([dv](GradContext& g) {
        const std::string& g_dx = g.output_grad(0);
        if (g.Wants(0)) g.SetInputGrad(0, dv(g, g.input(0), g.input(1), g_dx));
        if (g.Wants(1)) {
          g.SetInputGrad(1, g.Emit(g.node().op(), {g.input(0), g_dx}));
        }
        return absl::OkStatus();
      })
      .Reference(BinaryReference(f))
      .OneDnn(EltwiseBackwardOneDnn(alg, reads));
  return def;
}

void RegisterBackwardOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(EltwiseBackwardOp(
      "TanhGrad",
      "dx = dy * (1 - y^2): the gradient of y = tanh(x), from y. Gradient: "
      "d/ddy = TanhGrad(y, g), d/dy = -2 * y * dy * g.",
      Reads::kY, algorithm::eltwise_tanh_use_dst_for_bwd,
      [](auto y, auto dy) { return dy * (decltype(y)(1) - y * y); },
      [](GradContext& g, Ref y, Ref dy, Ref g_dx) {
        std::string dyg = g.Emit("Mul", {dy, g_dx});
        return g.Emit("Mul", {g.Emit("Mul", {dyg, y}), g.Scalar(-2, y)});
      }));
  r.Add(EltwiseBackwardOp(
      "SigmoidGrad",
      "dx = dy * y * (1 - y): the gradient of y = sigmoid(x), from y. "
      "Gradient: d/ddy = SigmoidGrad(y, g), d/dy = dy * g * (1 - 2 * y).",
      Reads::kY, algorithm::eltwise_logistic_use_dst_for_bwd,
      [](auto y, auto dy) { return dy * y * (decltype(y)(1) - y); },
      [](GradContext& g, Ref y, Ref dy, Ref g_dx) {
        std::string dyg = g.Emit("Mul", {dy, g_dx});
        std::string slope =
            g.Emit("Sub", {g.Scalar(1, y), g.Emit("Add", {y, y})});
        return g.Emit("Mul", {dyg, slope});
      }));
  r.Add(EltwiseBackwardOp(
      "ReluGrad",
      "dx = (x > 0 ? dy : 0): the gradient of y = max(x, 0). Gradient: "
      "d/ddy = ReluGrad(x, g), d/dx = 0.",
      Reads::kX, algorithm::eltwise_relu,
      [](auto x, auto dy) { return x > 0 ? dy : decltype(dy)(0); },
      [](GradContext& g, Ref x, Ref, Ref) {
        return g.Emit("ZerosLike", {x});
      }));
  r.Add(EltwiseBackwardOp(
      "GeluGrad",
      "dx = dy * (Phi(x) + x * phi(x)): the gradient of the exact GELU "
      "y = x * Phi(x), with phi and Phi the standard normal pdf and cdf. "
      "Gradient: d/ddy = GeluGrad(x, g), d/dx = dy * g * phi(x) * (2 - x^2).",
      Reads::kX, algorithm::eltwise_gelu_erf,
      [](auto x, auto dy) { return dy * (NormalCdf(x) + x * NormalPdf(x)); },
      [](GradContext& g, Ref x, Ref dy, Ref g_dx) {
        std::string x2 = g.Emit("Square", {x});
        std::string pdf = g.Emit(
            "Mul", {g.Emit("Exp", {g.Emit("Mul", {x2, g.Scalar(-0.5, x)})}),
                    g.Scalar(kInvSqrt2Pi, x)});
        std::string curve =
            g.Emit("Mul", {pdf, g.Emit("Sub", {g.Scalar(2, x), x2})});
        return g.Emit("Mul", {g.Emit("Mul", {dy, g_dx}), curve});
      }));
  // With t = tanh(u), u = c (x + k x^3): y'' = (1 - t^2) (u' + x (u''/2 -
  // t u'^2)), u' = c (1 + 3 k x^2), u'' = 6 c k x.
  r.Add(EltwiseBackwardOp(
      "GeluTanhGrad",
      "dx = dy * y'(x): the gradient of the tanh-form GELU (GeluTanh). "
      "Gradient: d/ddy = GeluTanhGrad(x, g), d/dx = dy * g * y''(x).",
      Reads::kX, algorithm::eltwise_gelu_tanh,
      [](auto x, auto dy) { return dy * GeluTanhSlope(x); },
      [](GradContext& g, Ref x, Ref dy, Ref g_dx) {
        std::string x2 = g.Emit("Square", {x});
        std::string u = g.Emit(
            "Mul",
            {g.Emit("Add", {x, g.Emit("Mul", {g.Emit("Mul", {x2, x}),
                                              g.Scalar(kGeluTanhK, x)})}),
             g.Scalar(kGeluTanhC, x)});
        std::string t = g.Emit("Tanh", {u});
        std::string du = g.Emit(
            "Mul",
            {g.Emit("Add", {g.Scalar(1, x),
                            g.Emit("Mul", {x2, g.Scalar(3 * kGeluTanhK, x)})}),
             g.Scalar(kGeluTanhC, x)});
        std::string half_ddu =
            g.Emit("Mul", {x, g.Scalar(3 * kGeluTanhC * kGeluTanhK, x)});
        std::string inner = g.Emit(
            "Sub", {half_ddu, g.Emit("Mul", {t, g.Emit("Square", {du})})});
        std::string sech2 =
            g.Emit("Sub", {g.Scalar(1, x), g.Emit("Square", {t})});
        std::string curve = g.Emit(
            "Mul", {sech2, g.Emit("Add", {du, g.Emit("Mul", {x, inner})})});
        return g.Emit("Mul", {g.Emit("Mul", {dy, g_dx}), curve});
      }));
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

// Where(cond, dy, 0) to input `if_true` and Where(cond, 0, dy) to input
// `if_false`, each summed to that input's shape; cond broadcasts to dy.
void RouteBySelection(GradContext& g, const std::string& cond, int if_true,
                      int if_false) {
  const std::string& dy = g.output_grad(0);
  std::string zero = g.Scalar(0, dy);
  if (g.Wants(if_true)) {
    g.SetInputGradSummed(if_true, g.Emit("Where", {cond, dy, zero}));
  }
  if (g.Wants(if_false)) {
    g.SetInputGradSummed(if_false, g.Emit("Where", {cond, zero, dy}));
  }
}

absl::Status AddGradient(GradContext& g) {
  for (int i : {0, 1}) {
    if (g.Wants(i)) g.SetInputGradSummed(i, g.output_grad(0));
  }
  return absl::OkStatus();
}

absl::Status SubGradient(GradContext& g) {
  const std::string& dy = g.output_grad(0);
  if (g.Wants(0)) g.SetInputGradSummed(0, dy);
  // Negating after the sum touches b's (fewer) elements only.
  if (g.Wants(1)) {
    g.SetInputGrad(1, g.Emit("Neg", {g.SumToShapeOf(dy, g.input(1))}));
  }
  return absl::OkStatus();
}

absl::Status MulGradient(GradContext& g) {
  for (int i : {0, 1}) {
    if (!g.Wants(i)) continue;
    g.SetInputGradSummed(i, g.Emit("Mul", {g.output_grad(0), g.input(1 - i)}));
  }
  return absl::OkStatus();
}

// da = dy / b and db = -dy * z / b = -(dy / b) * z share dy / b.
absl::Status DivGradient(GradContext& g) {
  const std::string& b = g.input(1);
  std::string dy_over_b = g.Emit("Div", {g.output_grad(0), b});
  if (g.Wants(0)) g.SetInputGradSummed(0, dy_over_b);
  if (g.Wants(1)) {
    std::string dbz = g.Emit("Mul", {dy_over_b, g.output(0)});
    g.SetInputGrad(1, g.Emit("Neg", {g.SumToShapeOf(dbz, b)}));
  }
  return absl::OkStatus();
}

// da = dy * b * a^(b-1) (a^(b-1), not z / a, so that a = 0 works);
// db = dy * z * ln(a), taking ln(a) as 0 where a <= 0, where z is not
// differentiable in b (or is NaN), so that db stays finite there.
absl::Status PowGradient(GradContext& g) {
  const std::string& a = g.input(0);
  const std::string& b = g.input(1);
  const std::string& dy = g.output_grad(0);
  if (g.Wants(0)) {
    std::string b_minus_1 = g.Emit("Sub", {b, g.Scalar(1, b)});
    std::string slope = g.Emit("Mul", {b, g.Emit("Pow", {a, b_minus_1})});
    g.SetInputGradSummed(0, g.Emit("Mul", {dy, slope}));
  }
  if (g.Wants(1)) {
    std::string zero = g.Scalar(0, a);
    std::string ln_a = g.Emit(
        "Where", {g.Emit("Greater", {a, zero}), g.Emit("Log", {a}), zero});
    std::string dyz = g.Emit("Mul", {dy, g.output(0)});
    g.SetInputGradSummed(1, g.Emit("Mul", {dyz, ln_a}));
  }
  return absl::OkStatus();
}

// dy goes to the input the kernel selected: b where b beats a strictly,
// else a, so at ties a gets it all (as the kernels return a there).
absl::Status MaximumGradient(GradContext& g) {
  RouteBySelection(g, g.Emit("Less", {g.input(0), g.input(1)}), 1, 0);
  return absl::OkStatus();
}

absl::Status MinimumGradient(GradContext& g) {
  RouteBySelection(g, g.Emit("Less", {g.input(1), g.input(0)}), 1, 0);
  return absl::OkStatus();
}

void RegisterBinaryOps(OpRegistry& r) {
  using dnnl::algorithm;
  r.Add(BinaryOp("Add",
                 "z = a + b, with NumPy broadcasting. Gradient: da = dy, "
                 "db = dy, each summed over its broadcast axes.",
                 [](auto x, auto y) { return x + y; })
            .Gradient(AddGradient)
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_add, algorithm::binary_add}, false)));
  r.Add(BinaryOp("Mul",
                 "z = a * b element-wise, with NumPy broadcasting. "
                 "Gradient: da = dy * b, db = dy * a, each summed over its "
                 "broadcast axes.",
                 [](auto x, auto y) { return x * y; })
            .Gradient(MulGradient)
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_mul, algorithm::binary_mul}, false)));
  r.Add(BinaryOp("Sub",
                 "z = a - b, with NumPy broadcasting. Gradient: da = dy, "
                 "db = -dy, each summed over its broadcast axes.",
                 [](auto x, auto y) { return x - y; })
            .Gradient(SubGradient)
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_sub, algorithm::binary_sub, true}, false)));
  r.Add(BinaryOp("Div",
                 "z = a / b (IEEE: +-inf or NaN where b = 0), with "
                 "NumPy broadcasting. Gradient: da = dy / b, db = -dy * z / "
                 "b, each summed over its broadcast axes.",
                 [](auto x, auto y) { return x / y; })
            .Gradient(DivGradient)
            .OneDnn(BinaryPrimitive({algorithm::binary_div}, false)));
  // oneDNN 2.6 has no binary pow (eltwise_pow takes a constant exponent).
  r.Add(BinaryOp("Pow",
                 "z = a^b as std::pow (NaN for a < 0 with a non-integer b), "
                 "with NumPy broadcasting. Gradient: da = dy * b * a^(b-1), "
                 "db = dy * z * ln(a) where a > 0 and 0 elsewhere, each "
                 "summed over its broadcast axes.",
                 [](auto x, auto y) { return std::pow(x, y); })
            .Gradient(PowGradient)
            .NoOneDnnPrimitive());
  r.Add(BinaryOp("Maximum",
                 "z = max(a, b) element-wise (a at ties), with NumPy "
                 "broadcasting. Gradient: dy goes to the selected input: "
                 "db = (a < b ? dy : 0), da = (a < b ? 0 : dy), each summed "
                 "over its broadcast axes.",
                 [](auto x, auto y) { return x < y ? y : x; })
            .Gradient(MaximumGradient)
            .OneDnn(BinaryPrimitive(
                {algorithm::binary_max, algorithm::binary_max}, false)));
  r.Add(BinaryOp("Minimum",
                 "z = min(a, b) element-wise (a at ties), with NumPy "
                 "broadcasting. Gradient: dy goes to the selected input: "
                 "db = (b < a ? dy : 0), da = (b < a ? 0 : dy), each summed "
                 "over its broadcast axes.",
                 [](auto x, auto y) { return y < x ? y : x; })
            .Gradient(MinimumGradient)
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
        same_shapes_(a_.shape() == z_.shape() && b_.shape() == z_.shape()),
        walk_(z_.shape(), {&a_.shape(), &b_.shape()}) {}
  absl::Status Compute() override {
    const T* as = a_.data<T>();
    const T* bs = b_.data<T>();
    bool* zs = z_.data<bool>();
    int64_t n = z_.num_elements();
    Cmp cmp;
    if (same_shapes_) {
      for (int64_t i = 0; i < n; ++i) zs[i] = cmp(as[i], bs[i]);
    } else {
      walk_.Run([&](int64_t i, const std::array<int64_t, 2>& at) {
        zs[i] = cmp(as[at[0]], bs[at[1]]);
      });
    }
    return absl::OkStatus();
  }

 private:
  Tensor a_, b_, z_;
  bool same_shapes_;
  BroadcastWalk<2> walk_;
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
      : cond_(a.inputs[0]),
        a_(a.inputs[1]),
        b_(a.inputs[2]),
        y_(a.outputs[0]),
        walk_(y_.shape(), {&cond_.shape(), &a_.shape(), &b_.shape()}) {
    const Shape& out = y_.shape();
    same_shapes_ =
        cond_.shape() == out && a_.shape() == out && b_.shape() == out;
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
      walk_.Run([&](int64_t i, const std::array<int64_t, 3>& at) {
        ys[i] = cs[at[0]] ? as[at[1]] : bs[at[2]];
      });
    }
    return absl::OkStatus();
  }

 private:
  Tensor cond_, a_, b_, y_;
  bool same_shapes_;
  BroadcastWalk<3> walk_;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeWhere(const KernelArgs& a) {
  return MakeKernelForType<WhereReference>(a.inputs[1].dtype(), a);
}

// ---- AddN ----

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

// oneDNN's sum numbers its sources DNNL_ARG_MULTIPLE_SRC + i, a range that
// ends where DNNL_ARG_MULTIPLE_DST begins; wider sums (a weight shared by
// every step of a long unrolled RNN) run on the reference loop.
constexpr int kMaxOneDnnSumInputs =
    DNNL_ARG_MULTIPLE_DST - DNNL_ARG_MULTIPLE_SRC;

absl::StatusOr<std::unique_ptr<OpKernel>> AddNOneDnn(const KernelArgs& a) {
  if (a.inputs.size() > kMaxOneDnnSumInputs) return nullptr;
  for (const Tensor& x : a.inputs) {
    if (!OneDnnCanTake(x, DType::kF32)) return nullptr;
  }
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    const dnnl::engine& eng = a.onednn->engine;
    dnnl::memory::desc md = PlainDesc(a.outputs[0].shape());
    std::vector<dnnl::memory::desc> srcs(a.inputs.size(), md);
    std::vector<float> scales(a.inputs.size(), 1.f);
    dnnl::primitive p = CachedPrimitive(a, [&] {
      return dnnl::sum({md, scales, srcs, eng});
    });
    DnnlArgs args{{DNNL_ARG_DST, MemoryFor(a, a.outputs[0], md)}};
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i),
                      MemoryFor(a, a.inputs[i], md)});
    }
    return std::make_unique<PrimitiveKernel>(a, p, std::move(args));
  });
}

}  // namespace

void RegisterElementwiseOps(OpRegistry& r) {
  RegisterUnaryOps(r);
  RegisterBackwardOps(r);
  RegisterBinaryOps(r);
  RegisterCompareOps(r);
  r.Add(OpDef("Where")
            .Doc("y = cond ? a : b element-wise; cond, a and b broadcast "
                 "together (NumPy rules). Gradient: da = (cond ? dy : 0), "
                 "db = (cond ? 0 : dy), each summed over its broadcast axes; "
                 "cond (bool) has none.")
            .TypeVar("C", {DType::kBool})
            .TypeVar("T", kAnyType)
            .Input("cond", "C")
            .Input("a", "T")
            .Input("b", "T")
            .Output("y")
            .Shape(WhereShape)
            .Gradient([](GradContext& g) {
              RouteBySelection(g, g.input(0), 1, 2);
              return absl::OkStatus();
            })
            .Reference(MakeWhere)
            .NoOneDnnPrimitive());
  r.Add(OpDef("AddN")
            .Doc("y = x_0 + x_1 + ... + x_{n-1} for n >= 1 inputs of one "
                 "shape (no broadcasting), summed left to right. Gradient: "
                 "dx_i = dy.")
            .TypeVar("T", kFloatTypes)
            .VariadicInput("x", "T", 1)
            .Output("y")
            .Shape(EqualShapes)
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

// Ops that make values: Fill, ZerosLike, OnesLike, and Cast.

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Fill, ZerosLike, OnesLike ----

absl::StatusOr<DType> DTypeAttr(InferenceContext& c) {
  absl::StatusOr<DType> dtype = DTypeFromProto(c.attrs().GetDType("dtype"));
  if (!dtype.ok()) return Annotate(dtype.status(), "attr 'dtype'");
  return dtype;
}

absl::Status FillShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(DType dtype, DTypeAttr(c));
  std::vector<int64_t> dims = c.attrs().GetIntList("shape");
  for (int64_t d : dims) {
    if (d < 0) return AttrListError("shape", dims, "dimensions must be >= 0");
  }
  Shape shape(std::move(dims));
  RETURN_IF_ERROR(Annotate(shape.ByteSize(dtype).status(), "attr 'shape'"));
  float value = c.attrs().GetFloat("value");
  if ((dtype == DType::kI32 && !FitsIn<int32_t>(value)) ||
      (dtype == DType::kI64 && !FitsIn<int64_t>(value))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr 'value' = ", value, " is out of range for ", DTypeName(dtype)));
  }
  c.SetOutput(0, dtype, std::move(shape));
  return absl::OkStatus();
}

double FillValue(const KernelArgs& a) { return a.attrs.GetFloat("value"); }
double Zero(const KernelArgs&) { return 0; }
double One(const KernelArgs&) { return 1; }

template <double (*Value)(const KernelArgs&)>
struct Constant {
  template <typename T>
  struct Kernel : OpKernel {
    // FillShape has checked that the value converts to T.
    explicit Kernel(const KernelArgs& a)
        : y(a.outputs[0]), value(static_cast<T>(Value(a))) {}
    absl::Status Compute() override {
      std::fill(y.data<T>(), y.data<T>() + y.num_elements(), value);
      return absl::OkStatus();
    }
    Tensor y;
    T value;
  };
};

template <double (*Value)(const KernelArgs&)>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeConstant(const KernelArgs& a) {
  return MakeKernelForType<Constant<Value>::template Kernel>(
      a.outputs[0].dtype(), a);
}

// ---- Cast ----

absl::Status CastShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(DType dtype, DTypeAttr(c));
  c.SetOutput(0, dtype, c.input_shape(0));
  return absl::OkStatus();
}

// A conversion that can leave Out's range (and is then undefined in C++).
template <typename In, typename Out>
constexpr bool kNarrowing =
    std::is_integral_v<Out> && !std::is_same_v<Out, bool> &&
    (std::is_floating_point_v<In> ||
     (std::is_integral_v<In> && sizeof(In) > sizeof(Out)));

template <typename In>
struct CastKernel : OpKernel {
  explicit CastKernel(const KernelArgs& a) : x(a.inputs[0]), y(a.outputs[0]) {}
  absl::Status Compute() override {
    switch (y.dtype()) {
      case DType::kF32:
        return Convert<float>();
      case DType::kF64:
        return Convert<double>();
      case DType::kI32:
        return Convert<int32_t>();
      case DType::kI64:
        return Convert<int64_t>();
      case DType::kBool:
        return Convert<bool>();
    }
    return absl::InternalError("unknown dtype");
  }
  template <typename Out>
  absl::Status Convert() {
    const In* src = x.data<In>();
    Out* dst = y.data<Out>();
    int64_t n = x.num_elements();
    if constexpr (kNarrowing<In, Out>) {
      for (int64_t i = 0; i < n; ++i) {
        if (!FitsIn<Out>(src[i])) {
          return absl::InvalidArgumentError(
              absl::StrCat("x[", i, "] (flat index) = ", src[i],
                           " is out of range for ", DTypeName(y.dtype())));
        }
      }
    }
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Out>(src[i]);
    return absl::OkStatus();
  }
  Tensor x, y;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeCast(const KernelArgs& a) {
  return MakeKernelForType<CastKernel>(a.inputs[0].dtype(), a);
}

// Float to float: dx = Cast(dy) back to x's dtype. To an integer or bool,
// y is piecewise constant in x: dx = 0 (the pass asks only if such a y
// somehow gets a gradient; integer inputs never need one).
absl::Status CastGradient(GradContext& g) {
  if (!g.Wants(0)) return absl::OkStatus();
  const std::string& x = g.input(0);
  const std::string& dy = g.output_grad(0);
  if (dy.empty() || !kFloatTypes.Contains(g.dtype_of(g.output(0)))) {
    g.SetInputGrad(0, g.Emit("ZerosLike", {x}));
  } else if (g.dtype_of(dy) == g.dtype_of(x)) {
    g.SetInputGrad(0, dy);
  } else {
    g.SetInputGrad(0,
                   g.Emit("Cast", {dy},
                          {{"dtype", TypeAttr(DTypeToProto(g.dtype_of(x)))}}));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterValueOps(OpRegistry& r) {
  r.Add(OpDef("Fill")
            .Doc("y, of shape `shape` and dtype `dtype`, holds `value` "
                 "everywhere: truncated toward zero for integer dtypes "
                 "(an error when out of range), value != 0 for bool.")
            .Output("y")
            .Attr("shape", AttrType::kIntList)
            .Attr("value", AttrType::kFloat)
            .Attr("dtype", AttrType::kDType, TypeAttr(DT_FLOAT))
            .Shape(FillShape)
            .NoGradient()
            .Reference(MakeConstant<FillValue>)
            .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp("ZerosLike", "y = 0 (false), with x's shape and dtype.",
                       UnchangedShape, MakeConstant<Zero>)
            .ShapeOnly("x")
            .NoGradient()
            .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp("OnesLike", "y = 1 (true), with x's shape and dtype.",
                       UnchangedShape, MakeConstant<One>)
            .ShapeOnly("x")
            .NoGradient()
            .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp(
            "Cast",
            "y = x converted to `dtype`, element by element: float to "
            "integer truncates toward zero, and is an error naming the "
            "element when the result is out of range or x is NaN (so is "
            "i64 to i32 out of range); to bool is x != 0; bool is 0 or 1; "
            "f64 to f32 rounds, and overflows to +-inf. Gradient, float to "
            "float: dx = Cast(dy) to x's dtype; to an integer or bool: "
            "dx = 0.",
            CastShape, MakeCast)
            .Attr("dtype", AttrType::kDType)
            .Gradient(CastGradient)
            .NoOneDnnPrimitive());
}

}  // namespace rill

// Index ops: Gather and the ScatterAdd its gradient needs, OneHot, and the
// causal and padding masks of attention. oneDNN has no primitive for any of
// them: both backends run the plain loops here.

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_join.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

constexpr DTypeSet kNumberTypes{DType::kF32, DType::kF64, DType::kI32,
                                DType::kI64};
// What a masked position gets in an additive mask: large enough that
// softmax gives it exactly 0 next to any unmasked score, yet finite, so that
// a fully masked row stays finite (never NaN; see the op docs).
constexpr double kMaskedScore = -1e9;

// ---- Gather and ScatterAdd ----

// params.shape[:axis] + indices.shape + params.shape[axis+1:]
Shape GatheredShape(const Shape& params, int axis, const Shape& indices) {
  std::vector<int64_t> dims(params.dims().begin(),
                            params.dims().begin() + axis);
  dims.insert(dims.end(), indices.dims().begin(), indices.dims().end());
  dims.insert(dims.end(), params.dims().begin() + axis + 1,
              params.dims().end());
  return Shape(std::move(dims));
}

// The axis of `shape` that the `axis` attr names; shape must have rank >= 1.
absl::StatusOr<int> IndexedAxis(const InferenceContext& c, const Shape& shape,
                                const char* input) {
  if (shape.rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", input, "' must have rank >= 1, got a scalar"));
  }
  return NormalizeAxis(c.attrs().GetInt("axis"), shape.rank(), "axis");
}

absl::Status GatherShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(int axis, IndexedAxis(c, c.input_shape(0), "params"));
  c.SetOutput(0, c.input_dtype(0),
              GatheredShape(c.input_shape(0), axis, c.input_shape(1)));
  return absl::OkStatus();
}

absl::Status ScatterAddShape(InferenceContext& c) {
  const Shape& like = c.input_shape(0);
  ASSIGN_OR_RETURN(int axis, IndexedAxis(c, like, "shape_like"));
  Shape want = GatheredShape(like, axis, c.input_shape(1));
  if (!ShapesCompatible(c.input_shape(2), want)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'updates' has shape ", c.input_shape(2).ToString(), " but must be ",
        want.ToString(), ": 'shape_like' ", like.ToString(), " with axis ",
        axis, " replaced by the 'indices' shape ",
        c.input_shape(1).ToString()));
  }
  c.SetOutput(0, c.input_dtype(2), like);
  return absl::OkStatus();
}

// The first index outside [0, size), as an error naming its position.
template <typename I>
absl::Status CheckIndices(const Tensor& indices, int64_t size, int axis,
                          const char* of) {
  const I* ids = indices.data<I>();
  for (int64_t j = 0; j < indices.num_elements(); ++j) {
    if (ids[j] >= 0 && ids[j] < size) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "indices", ElementPosition(j, indices.shape()), " = ", ids[j],
        " is out of range for axis ", axis, " of '", of, "', of size ", size,
        " (valid: 0 to ", size - 1, "; negative indices do not wrap)"));
  }
  return absl::OkStatus();
}

template <typename T>
struct GatherKernel : OpKernel {
  explicit GatherKernel(const KernelArgs& a)
      : params(a.inputs[0]),
        indices(a.inputs[1]),
        y(a.outputs[0]),
        axis(*NormalizeAxis(a.attrs.GetInt("axis"), params.shape().rank(),
                            "axis")),
        s(SplitAt(params.shape(), axis)) {}

  absl::Status Compute() override {
    return indices.dtype() == DType::kI32 ? Run<int32_t>() : Run<int64_t>();
  }

  template <typename I>
  absl::Status Run() {
    RETURN_IF_ERROR(CheckIndices<I>(indices, s.axis, axis, "params"));
    const I* ids = indices.data<I>();
    const T* src = params.data<T>();
    T* dst = y.data<T>();
    int64_t n = indices.num_elements();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t j = 0; j < n; ++j) {
        std::copy_n(src + (o * s.axis + ids[j]) * s.inner, s.inner,
                    dst + (o * n + j) * s.inner);
      }
    }
    return absl::OkStatus();
  }

  Tensor params, indices, y;
  int axis;
  AxisSplit s;
};

template <typename T>
struct ScatterAddKernel : OpKernel {
  explicit ScatterAddKernel(const KernelArgs& a)
      : indices(a.inputs[1]),
        updates(a.inputs[2]),
        y(a.outputs[0]),
        axis(*NormalizeAxis(a.attrs.GetInt("axis"), y.shape().rank(), "axis")),
        s(SplitAt(y.shape(), axis)) {}

  absl::Status Compute() override {
    return indices.dtype() == DType::kI32 ? Run<int32_t>() : Run<int64_t>();
  }

  // Updates are added in index order, so duplicates sum deterministically.
  template <typename I>
  absl::Status Run() {
    RETURN_IF_ERROR(CheckIndices<I>(indices, s.axis, axis, "shape_like"));
    const I* ids = indices.data<I>();
    const T* src = updates.data<T>();
    T* dst = y.data<T>();
    std::fill_n(dst, y.num_elements(), T(0));
    int64_t n = indices.num_elements();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t j = 0; j < n; ++j) {
        const T* from = src + (o * n + j) * s.inner;
        T* to = dst + (o * s.axis + ids[j]) * s.inner;
        for (int64_t i = 0; i < s.inner; ++i) to[i] += from[i];
      }
    }
    return absl::OkStatus();
  }

  Tensor indices, updates, y;
  int axis;
  AxisSplit s;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeScatterAdd(const KernelArgs& a) {
  switch (a.outputs[0].dtype()) {
    case DType::kF64:
      return std::make_unique<ScatterAddKernel<double>>(a);
    case DType::kI32:
      return std::make_unique<ScatterAddKernel<int32_t>>(a);
    case DType::kI64:
      return std::make_unique<ScatterAddKernel<int64_t>>(a);
    default:
      return std::make_unique<ScatterAddKernel<float>>(a);
  }
}

// Gather and ScatterAdd are each other's adjoints (for a fixed `indices`,
// which is an integer and gets no gradient).

// dparams = ScatterAdd(params, indices, dy).
absl::Status GatherGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(
        0, g.Emit("ScatterAdd", {g.input(0), g.input(1), g.output_grad(0)},
                  {{"axis", g.attrs().Get("axis")}}));
  }
  return absl::OkStatus();
}

// dupdates = Gather(dy, indices); y does not depend on shape_like's values,
// so its gradient is zero.
absl::Status ScatterAddGradient(GradContext& g) {
  if (g.Wants(0)) g.SetInputGrad(0, g.Emit("ZerosLike", {g.input(0)}));
  if (g.Wants(2)) {
    g.SetInputGrad(2, g.Emit("Gather", {g.output_grad(0), g.input(1)},
                             {{"axis", g.attrs().Get("axis")}}));
  }
  return absl::OkStatus();
}

// ---- OneHot ----

// on_value and off_value must be representable in an integer output dtype
// (a float-to-int conversion out of range is undefined behaviour).
absl::Status CheckFillValue(const InferenceContext& c, const char* attr,
                            DType dtype) {
  if (dtype != DType::kI32 && dtype != DType::kI64) return absl::OkStatus();
  double v = c.attrs().GetFloat(attr);
  double limit = dtype == DType::kI32 ? 0x1p31 : 0x1p63;
  if (std::isfinite(v) && v == std::trunc(v) && v >= -limit && v < limit) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "attr '", attr, "' = ", v, " is not an ", DTypeName(dtype), " integer"));
}

absl::Status OneHotShape(InferenceContext& c) {
  const Shape& indices = c.input_shape(0);
  int64_t depth = c.attrs().GetInt("depth");
  if (depth < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'depth' = ", depth, " must be >= 0"));
  }
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(c.attrs().GetInt("axis"),
                                           indices.rank() + 1, "axis"));
  absl::StatusOr<DType> dtype = DTypeFromProto(c.attrs().GetDType("dtype"));
  if (!dtype.ok()) return Annotate(dtype.status(), "attr 'dtype'");
  if (!kNumberTypes.Contains(*dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'dtype' is ", DTypeName(*dtype),
                     " but OneHot makes ", kNumberTypes.ToString()));
  }
  RETURN_IF_ERROR(CheckFillValue(c, "on_value", *dtype));
  RETURN_IF_ERROR(CheckFillValue(c, "off_value", *dtype));
  std::vector<int64_t> dims = indices.dims();
  dims.insert(dims.begin() + axis, depth);
  Shape out(std::move(dims));
  RETURN_IF_ERROR(out.Validate(/*allow_symbolic=*/true));
  c.SetOutput(0, *dtype, std::move(out));
  return absl::OkStatus();
}

template <typename T>
struct OneHotKernel : OpKernel {
  explicit OneHotKernel(const KernelArgs& a)
      : indices(a.inputs[0]),
        y(a.outputs[0]),
        depth(a.attrs.GetInt("depth")),
        on(static_cast<T>(a.attrs.GetFloat("on_value"))),
        off(static_cast<T>(a.attrs.GetFloat("off_value"))) {
    int axis = *NormalizeAxis(a.attrs.GetInt("axis"),
                              indices.shape().rank() + 1, "axis");
    for (int d = 0; d < indices.shape().rank(); ++d) {
      (d < axis ? outer : inner) *= indices.shape().dim(d);
    }
  }

  absl::Status Compute() override {
    indices.dtype() == DType::kI32 ? Run<int32_t>() : Run<int64_t>();
    return absl::OkStatus();
  }

  // y viewed as [outer, depth, inner]; an index outside [0, depth) leaves
  // its column all off.
  template <typename I>
  void Run() {
    const I* ids = indices.data<I>();
    T* dst = y.data<T>();
    std::fill_n(dst, y.num_elements(), off);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        I id = ids[o * inner + i];
        if (id >= 0 && id < depth) dst[(o * depth + id) * inner + i] = on;
      }
    }
  }

  Tensor indices, y;
  int64_t depth;
  T on, off;
  int64_t outer = 1, inner = 1;
};

// ---- Masks ----

absl::Status CausalMaskShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'x' must have rank >= 2 ([..., T_q, T_k]), got ", x.ToString()));
  }
  c.SetOutput(0, c.input_dtype(0),
              Shape({x.dim(x.rank() - 2), x.dim(x.rank() - 1)}));
  return absl::OkStatus();
}

// The values a mask holds where attention may look (keep) and may not.
template <typename T>
struct MaskValues {
  explicit MaskValues(bool additive)
      : keep(additive ? T(0) : T(1)),
        masked(additive ? T(kMaskedScore) : T(0)) {}
  T keep, masked;
};

template <typename T>
struct CausalMaskKernel : OpKernel {
  explicit CausalMaskKernel(const KernelArgs& a)
      : y(a.outputs[0]), v(a.attrs.GetBool("additive")) {}

  absl::Status Compute() override {
    int64_t tq = y.shape().dim(0), tk = y.shape().dim(1);
    T* dst = y.data<T>();
    for (int64_t q = 0; q < tq; ++q) {
      for (int64_t k = 0; k < tk; ++k) {
        dst[q * tk + k] = k <= q ? v.keep : v.masked;
      }
    }
    return absl::OkStatus();
  }

  Tensor y;
  MaskValues<T> v;
};

absl::Status PaddingMaskShape(InferenceContext& c) {
  const Shape& lengths = c.input_shape(0);
  const Shape& like = c.input_shape(1);
  if (lengths.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'lengths' must have rank 1 ([B]), got ", lengths.ToString()));
  }
  if (like.rank() == 0) {
    return absl::InvalidArgumentError(
        "'like' must have rank >= 1 ([..., T]), got a scalar");
  }
  c.SetOutput(0, c.input_dtype(1),
              Shape({lengths.dim(0), like.dim(like.rank() - 1)}));
  return absl::OkStatus();
}

template <typename T>
struct PaddingMaskKernel : OpKernel {
  explicit PaddingMaskKernel(const KernelArgs& a)
      : lengths(a.inputs[0]), y(a.outputs[0]), v(a.attrs.GetBool("additive")) {}

  absl::Status Compute() override {
    return lengths.dtype() == DType::kI32 ? Run<int32_t>() : Run<int64_t>();
  }

  template <typename I>
  absl::Status Run() {
    int64_t batch = y.shape().dim(0), t = y.shape().dim(1);
    const I* len = lengths.data<I>();
    for (int64_t b = 0; b < batch; ++b) {
      if (len[b] < 0 || len[b] > t) {
        return absl::InvalidArgumentError(
            absl::StrCat("lengths[", b, "] = ", len[b],
                         " is out of range for a sequence of length ", t,
                         " (valid: 0 to ", t, ")"));
      }
    }
    T* dst = y.data<T>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t k = 0; k < t; ++k) {
        dst[b * t + k] = k < len[b] ? v.keep : v.masked;
      }
    }
    return absl::OkStatus();
  }

  Tensor lengths, y;
  MaskValues<T> v;
};

}  // namespace

void RegisterIndexOps(OpRegistry& r) {
  r.Add(OpDef("Gather")
            .Doc("y = params taken at `indices` along `axis`: "
                 "y[p..., i..., q...] = params[p..., indices[i...], q...], of "
                 "shape params.shape[:axis] + indices.shape + "
                 "params.shape[axis+1:]. An index outside [0, "
                 "params.shape[axis]) is an error naming it and its position; "
                 "negative indices do not wrap around. Gradient: "
                 "dparams = ScatterAdd(params, indices, dy).")
            .TypeVar("T", kAnyType)
            .TypeVar("I", kIndexTypes)
            .Input("params", "T")
            .Input("indices", "I")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(0))
            .Shape(GatherShape)
            .Gradient(GatherGradient)
            .Reference([](const KernelArgs& a) {
              return MakeKernelForType<GatherKernel>(a.inputs[0].dtype(), a);
            })
            .NoOneDnnPrimitive());
  r.Add(OpDef("ScatterAdd")
            .Doc("The adjoint of Gather: y has the shape of `shape_like` "
                 "(whose values are not read) and the dtype of `updates`; it "
                 "is zero except that y[p..., indices[i...], q...] += "
                 "updates[p..., i..., q...] for every i, in index order, so "
                 "duplicate indices accumulate deterministically. `updates` "
                 "has shape shape_like.shape[:axis] + indices.shape + "
                 "shape_like.shape[axis+1:]. Indices out of range are an "
                 "error, as in Gather. Gradient: dupdates = Gather(dy, "
                 "indices); shape_like gets zero.")
            .TypeVar("S", kAnyType)
            .TypeVar("I", kIndexTypes)
            .TypeVar("T", kNumberTypes)
            .Input("shape_like", "S")
            .ShapeOnly("shape_like")
            .Input("indices", "I")
            .Input("updates", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(0))
            .Shape(ScatterAddShape)
            .Gradient(ScatterAddGradient)
            .Reference(MakeScatterAdd)
            .NoOneDnnPrimitive());
  r.Add(OpDef("OneHot")
            .Doc("y has `indices`' shape with a new axis of size `depth` "
                 "inserted at `axis` (-1: last); along it, y = `on_value` "
                 "where the position equals the index and `off_value` "
                 "elsewhere. An index outside [0, depth), negative ones "
                 "included, gives all `off_value` (as in TensorFlow). "
                 "`dtype`: f32, f64, i32 or i64; for integers the values "
                 "must be integral.")
            .TypeVar("I", kIndexTypes)
            .Input("indices", "I")
            .Output("y")
            .Attr("depth", AttrType::kInt)
            .Attr("on_value", AttrType::kFloat, FloatAttr(1.f))
            .Attr("off_value", AttrType::kFloat, FloatAttr(0.f))
            .Attr("dtype", AttrType::kDType, TypeAttr(DT_FLOAT))
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(OneHotShape)
            .Reference([](const KernelArgs& a) {
              return MakeKernelForType<OneHotKernel>(a.outputs[0].dtype(), a);
            })
            .NoOneDnnPrimitive()
            .NoGradient());
  r.Add(OpDef("CausalMask")
            .Doc("For attention scores x of shape [..., T_q, T_k] (only the "
                 "shape is read), the [T_q, T_k] mask that lets query q see "
                 "keys k <= q, in x's dtype. `additive` (default): 0 where "
                 "allowed and -1e9 elsewhere, to add to the scores before "
                 "softmax; -1e9 rather than -inf keeps a fully masked row "
                 "finite (softmax makes it uniform, never NaN; multiply by a "
                 "keep mask to make it zeros). additive=false: the keep mask, "
                 "1 where allowed and 0 elsewhere.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .ShapeOnly("x")
            .Output("mask")
            .Attr("additive", AttrType::kBool, BoolAttr(true))
            .Shape(CausalMaskShape)
            .Reference(MakeFloatKernel<CausalMaskKernel>)
            .NoOneDnnPrimitive()
            .NoGradient());
  r.Add(OpDef("PaddingMask")
            .Doc("The [B, T] key-padding mask for sequences of `lengths` "
                 "[B], where T is the last dimension of `like` (only its "
                 "shape is read) and the dtype is like's: position t of "
                 "sequence b is allowed when t < lengths[b]. Values as in "
                 "CausalMask (`additive`: 0 / -1e9; otherwise 1 / 0). A "
                 "length outside [0, T] is an error naming it and its row.")
            .TypeVar("I", kIndexTypes)
            .TypeVar("T", kFloatTypes)
            .Input("lengths", "I")
            .Input("like", "T")
            .ShapeOnly("like")
            .Output("mask")
            .Attr("additive", AttrType::kBool, BoolAttr(true))
            .Shape(PaddingMaskShape)
            .Reference(MakeFloatKernel<PaddingMaskKernel>)
            .NoOneDnnPrimitive()
            .NoGradient());
}

}  // namespace rill

// Shape and layout ops: Reshape, Transpose, Squeeze, ExpandDims,
// BroadcastTo, Reverse, BroadcastLike, ReshapeLike, StopGradient (Concat,
// Split and Slice are in slice_ops.cc; Fill, ZerosLike, OnesLike and Cast
// in value_ops.cc). Every kernel is a strided copy (copy_plan.h); oneDNN
// runs Transpose (reorder) in f32.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "ops/copy_plan.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Reshape ----

absl::Status ReshapeShape(InferenceContext& c) {
  std::vector<int64_t> dims = c.attrs().GetIntList("shape");
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else if (dims[i] < 0) {
      return AttrListError("shape", dims,
                           "dimensions must be >= 0, with at most one -1");
    } else {
      absl::StatusOr<int64_t> p = CheckedMul(known, dims[i]);
      if (!p.ok()) return AttrListError("shape", dims, "too many elements");
      known = *p;
    }
  }
  const Shape& x = c.input_shape(0);
  bool has_zero = std::count(x.dims().begin(), x.dims().end(), 0) > 0;
  if (x.IsFullyDefined() || has_zero) {
    int64_t count = has_zero ? 0 : *x.NumElements();
    if (inferred >= 0) {
      if (known == 0 || count % known != 0) {
        return AttrListError(
            "shape", dims,
            absl::StrCat("cannot infer the -1 for x of shape ", x.ToString(),
                         " (", count, " elements)"));
      }
      dims[inferred] = count / known;
    } else if (known != count) {
      return AttrListError("shape", dims,
                           absl::StrCat(known, " elements, but x of shape ",
                                        x.ToString(), " has ", count));
    }
  } else if (inferred < 0) {
    // x has a multiple of its known dims' product elements.
    int64_t x_known = 1;
    for (int64_t d : x.dims()) x_known *= d > 0 ? d : 1;
    if (known % x_known != 0) {
      return AttrListError(
          "shape", dims,
          absl::StrCat(known, " elements, but x of shape ", x.ToString(),
                       " has a multiple of ", x_known));
    }
  }
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(dims)));
  return absl::OkStatus();
}

// ---- Transpose ----

absl::StatusOr<std::vector<int>> Perm(const Attrs& attrs, int rank) {
  std::vector<int64_t> perm = attrs.GetIntList("perm");
  if (perm.empty()) {
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  }
  if (static_cast<int>(perm.size()) != rank) {
    return AttrListError(
        "perm", perm,
        absl::StrCat(perm.size(), " entries for x of rank ", rank));
  }
  return NormalizeAxes(perm, rank, "perm");
}

absl::Status TransposeShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  ASSIGN_OR_RETURN(std::vector<int> perm, Perm(c.attrs(), x.rank()));
  std::vector<int64_t> out;
  for (int p : perm) out.push_back(x.dim(p));
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(out)));
  return absl::OkStatus();
}

// Output axis i walks input axis perm[i].
std::vector<int64_t> PermutedStrides(const KernelArgs& a) {
  std::vector<int> perm = *Perm(a.attrs, a.inputs[0].shape().rank());
  std::vector<int64_t> in = Strides(a.inputs[0].shape()), out;
  for (int p : perm) out.push_back(in[p]);
  return out;
}

CopyPlan TransposePlan(const KernelArgs& a) {
  const Shape& y = a.outputs[0].shape();
  return {{0, 0, {y.dims(), PermutedStrides(a), Strides(y)}}};
}

// A reorder from the input, described with permuted strides, to a plain
// output.
absl::StatusOr<std::unique_ptr<OpKernel>> TransposeOneDnn(const KernelArgs& a) {
  const Shape& y = a.outputs[0].shape();
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    dnnl::memory::dims dims = y.dims(), strides = PermutedStrides(a);
    if (dims.empty()) dims = strides = {1};
    dnnl::memory::desc src_md(dims, dnnl::memory::data_type::f32, strides);
    dnnl::memory src = MemoryFor(a, a.inputs[0], src_md);
    dnnl::memory dst = MemoryFor(a, a.outputs[0], PlainDesc(y));
    dnnl::primitive p =
        CachedPrimitive(a, [&] { return dnnl::reorder(src, dst); });
    return std::make_unique<PrimitiveKernel>(
        a, p, DnnlArgs{{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
  });
}

// ---- Squeeze, ExpandDims ----

absl::Status SqueezeShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  std::vector<int64_t> list = c.attrs().GetIntList("axes");
  ASSIGN_OR_RETURN(std::vector<int> axes,
                   NormalizeAxes(list, x.rank(), "axes"));
  std::vector<int64_t> out;
  for (int d = 0; d < x.rank(); ++d) {
    bool named = std::count(axes.begin(), axes.end(), d) > 0;
    if (list.empty() && x.dim(d) == kSymbolicDim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "x of shape ", x.ToString(), " has a symbolic dimension ", d,
          " that may or may not be 1: name the axes to drop in attr 'axes'"));
    }
    if (named && x.dim(d) != 1 && x.dim(d) != kSymbolicDim) {
      return AttrListError("axes", list,
                           absl::StrCat("axis ", d, " of x ", x.ToString(),
                                        " has size ", x.dim(d), ", not 1"));
    }
    if (!(named || (list.empty() && x.dim(d) == 1))) out.push_back(x.dim(d));
  }
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(out)));
  return absl::OkStatus();
}

absl::Status ExpandDimsShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  ASSIGN_OR_RETURN(
      int axis, NormalizeAxis(c.attrs().GetInt("axis"), x.rank() + 1, "axis"));
  std::vector<int64_t> out = x.dims();
  out.insert(out.begin() + axis, 1);
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(out)));
  return absl::OkStatus();
}

// ---- BroadcastTo, Reverse ----

absl::Status BroadcastToShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  std::vector<int64_t> out = c.attrs().GetIntList("shape");
  int lead = static_cast<int>(out.size()) - x.rank();
  if (lead < 0) {
    return AttrListError(
        "shape", out,
        absl::StrCat("x of shape ", x.ToString(), " has a higher rank"));
  }
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    int64_t xd = i >= lead ? x.dim(i - lead) : 1;
    if (out[i] < -1 || (out[i] == -1 && i < lead)) {
      return AttrListError(
          "shape", out,
          absl::StrCat("entry ", i, " is ", out[i],
                       "; entries "
                       "are >= 0, or -1 to keep x's dimension"));
    }
    if (out[i] == -1) {
      out[i] = xd;
    } else if (xd != 1 && xd != kSymbolicDim && xd != out[i]) {
      return AttrListError("shape", out,
                           absl::StrCat("x of shape ", x.ToString(),
                                        " does not broadcast to it (dimension ",
                                        i - lead, " is ", xd, ")"));
    }
  }
  Shape shape(std::move(out));
  if (shape.IsFullyDefined()) {
    RETURN_IF_ERROR(
        Annotate(shape.ByteSize(c.input_dtype(0)).status(), "attr 'shape'"));
  }
  c.SetOutput(0, c.input_dtype(0), std::move(shape));
  return absl::OkStatus();
}

CopyPlan BroadcastPlan(const KernelArgs& a) {
  const Shape& x = a.inputs[0].shape();
  const Shape& y = a.outputs[0].shape();
  std::vector<int64_t> in = Strides(x), src(y.rank(), 0);
  int lead = y.rank() - x.rank();
  for (int d = 0; d < x.rank(); ++d) {
    if (x.dim(d) != 1) src[lead + d] = in[d];
  }
  return {{0, 0, {y.dims(), src, Strides(y)}}};
}

absl::Status ReverseShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError("Reverse needs an input of rank >= 1");
  }
  RETURN_IF_ERROR(
      NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis").status());
  return UnchangedShape(c);
}

CopyPlan ReversePlan(const KernelArgs& a) {
  const Shape& x = a.inputs[0].shape();
  int axis = *NormalizeAxis(a.attrs.GetInt("axis"), x.rank(), "axis");
  std::vector<int64_t> strides = Strides(x), src = strides;
  src[axis] = -strides[axis];
  int64_t offset = x.dim(axis) > 0 ? (x.dim(axis) - 1) * strides[axis] : 0;
  return {{0, 0, {x.dims(), src, strides, offset, 0}}};
}

// ---- BroadcastLike, ReshapeLike: shapes taken from a tensor ----

// Output 0 has x's dtype and like's shape.
absl::Status LikeShape(InferenceContext& c) {
  c.SetOutput(0, c.input_dtype(0), c.input_shape(1));
  return absl::OkStatus();
}

absl::Status BroadcastLikeShape(InferenceContext& c) {
  RETURN_IF_ERROR(CheckBroadcastsTo(c.input_shape(0), c.input_shape(1)));
  return LikeShape(c);
}

absl::Status ReshapeLikeShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  const Shape& like = c.input_shape(1);
  if (x.IsFullyDefined() && like.IsFullyDefined() &&
      *x.NumElements() != *like.NumElements()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x of shape ", x.ToString(), " and like of shape ",
                     like.ToString(), " differ in element count"));
  }
  return LikeShape(c);
}

// An op y = f(x) shaped like a second input `like`, whose values are not
// read.
OpDef LikeOp(const std::string& name, std::string doc, ShapeFn shape,
             KernelFactory reference) {
  return OpDef(name)
      .Doc(std::move(doc))
      .TypeVar("T", kAnyType)
      .TypeVar("L", kAnyType)
      .Input("x", "T")
      .Input("like", "L")
      .ShapeOnly("like")
      .Output("y")
      .Shape(std::move(shape))
      .Reference(std::move(reference))
      .NoOneDnnPrimitive();
}

// ---- Gradients ----

// y = x with another shape (Reshape, Squeeze, ExpandDims, ReshapeLike):
// dx = ReshapeLike(dy, x).
absl::Status ReshapeGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(0, g.Emit("ReshapeLike", {g.output_grad(0), g.input(0)}));
  }
  g.ZeroGradsFrom(1);
  return absl::OkStatus();
}

// y = x broadcast (BroadcastTo, BroadcastLike): dx = ReduceSumLike(dy, x).
absl::Status BroadcastGradient(GradContext& g) {
  if (g.Wants(0)) g.SetInputGradSummed(0, g.output_grad(0));
  g.ZeroGradsFrom(1);
  return absl::OkStatus();
}

// dx = Transpose(dy) with the inverse permutation.
absl::Status TransposeGradient(GradContext& g) {
  int rank = g.shape_of(g.input(0)).rank();
  ASSIGN_OR_RETURN(std::vector<int> perm, Perm(g.attrs(), rank));
  std::vector<int64_t> inverse(rank);
  for (int k = 0; k < rank; ++k) inverse[perm[k]] = k;
  g.SetInputGrad(0, g.Emit("Transpose", {g.output_grad(0)},
                           {{"perm", IntListAttr(std::move(inverse))}}));
  return absl::OkStatus();
}

// dx = Reverse(dy) along the same axis.
absl::Status ReverseGradient(GradContext& g) {
  g.SetInputGrad(0, g.Emit("Reverse", {g.output_grad(0)}, g.AttrsOf({"axis"})));
  return absl::OkStatus();
}

}  // namespace

void RegisterArrayOps(OpRegistry& r) {
  r.Add(AnyTypeUnaryOp("Reshape",
                       "y has x's elements, in C order, in shape `shape`; one "
                       "entry of `shape` may be -1, inferred from x's size. "
                       "Gradient: dx = ReshapeLike(dy, x).",
                       ReshapeShape, MakeMover<WholePlan>)
            .Attr("shape", AttrType::kIntList)
            .Gradient(ReshapeGradient)
            .NoOneDnnPrimitive()
            .OutputViewsInput());
  r.Add(
      AnyTypeUnaryOp("Transpose",
                     "y[i_0, ..., i_n] = x at index i_k along axis perm[k]: "
                     "y's axis k is x's axis perm[k]; an empty `perm` "
                     "reverses the axes. Negative entries count from the end. "
                     "Gradient: dx = Transpose(dy) with the inverse "
                     "permutation.",
                     TransposeShape, MakeMover<TransposePlan>)
          .Attr("perm", AttrType::kIntList, IntListAttr({}))
          .Gradient(TransposeGradient)
          .OneDnn(TransposeOneDnn));
  r.Add(AnyTypeUnaryOp("Squeeze",
                       "y = x without the size-1 axes listed in `axes` (each "
                       "must be 1), or without every size-1 axis when `axes` "
                       "is empty. Gradient: dx = ReshapeLike(dy, x).",
                       SqueezeShape, MakeMover<WholePlan>)
            .Attr("axes", AttrType::kIntList, IntListAttr({}))
            .Gradient(ReshapeGradient)
            .NoOneDnnPrimitive()
            .OutputViewsInput());
  r.Add(AnyTypeUnaryOp("ExpandDims",
                       "y = x with a size-1 axis inserted so that it becomes "
                       "axis `axis` of y (-1: the last). Gradient: "
                       "dx = ReshapeLike(dy, x).",
                       ExpandDimsShape, MakeMover<WholePlan>)
            .Attr("axis", AttrType::kInt)
            .Gradient(ReshapeGradient)
            .NoOneDnnPrimitive()
            .OutputViewsInput());
  r.Add(
      AnyTypeUnaryOp("BroadcastTo",
                     "y = x broadcast to `shape` by NumPy rules (x aligned on "
                     "the right; its size-1 axes repeat). A -1 in `shape` "
                     "keeps x's dimension there. Gradient: "
                     "dx = ReduceSumLike(dy, x).",
                     BroadcastToShape, MakeMover<BroadcastPlan>)
          .Attr("shape", AttrType::kIntList)
          .Gradient(BroadcastGradient)
          .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp("Reverse",
                       "y = x with the order of its elements along `axis` "
                       "reversed: y[..., i, ...] = x[..., n - 1 - i, ...]. "
                       "Gradient: dx = Reverse(dy) along `axis`.",
                       ReverseShape, MakeMover<ReversePlan>)
            .Attr("axis", AttrType::kInt)
            .Gradient(ReverseGradient)
            .NoOneDnnPrimitive());
  r.Add(LikeOp("BroadcastLike",
               "y = x broadcast (NumPy rules) to the shape of `like`, whose "
               "values are not read: BroadcastTo for shapes known only at "
               "run time, as in gradients. Gradient: "
               "dx = ReduceSumLike(dy, x); like gets zero.",
               BroadcastLikeShape, MakeMover<BroadcastPlan>)
            .Gradient(BroadcastGradient));
  r.Add(LikeOp("ReshapeLike",
               "y = x's elements, in C order, in the shape of `like`, whose "
               "values are not read; the element counts must match. "
               "Gradient: dx = ReshapeLike(dy, x); like gets zero.",
               ReshapeLikeShape, MakeMover<WholePlan>)
            .Gradient(ReshapeGradient)
            .OutputViewsInput());
  r.Add(AnyTypeUnaryOp("StopGradient",
                       "y = x; autodiff passes no gradient back through it.",
                       UnchangedShape, MakeMover<WholePlan>)
            .NoGradient()
            .NoOneDnnPrimitive());
}

}  // namespace rill

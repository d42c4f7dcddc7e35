// Ops that cut and join along axes: Concat, Split, Slice and its adjoint
// SliceGrad. Their kernels are strided copies (copy_plan.h); oneDNN runs
// Concat in f32.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ops/copy_plan.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Concat and Split ----

absl::StatusOr<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return absl::InvalidArgumentError(
        absl::StrCat("size ", a, " + ", b, " overflows int64"));
  }
  return sum;
}

absl::Status ConcatShape(InferenceContext& c) {
  const Shape& x0 = c.input_shape(0);
  if (x0.rank() == 0) {
    return absl::InvalidArgumentError("Concat needs inputs of rank >= 1");
  }
  ASSIGN_OR_RETURN(int axis,
                   NormalizeAxis(c.attrs().GetInt("axis"), x0.rank(), "axis"));
  std::vector<int64_t> out = x0.dims();
  for (int i = 1; i < c.num_inputs(); ++i) {
    const Shape& xi = c.input_shape(i);
    if (xi.rank() != x0.rank()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " has shape ", xi.ToString(),
                       " but input 0 has ", x0.ToString(), " (ranks differ)"));
    }
    for (int d = 0; d < x0.rank(); ++d) {
      if (d == axis || xi.dim(d) == kSymbolicDim) continue;
      if (out[d] != kSymbolicDim && xi.dim(d) != out[d]) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", i, " has shape ", xi.ToString(),
                         ", whose dimension ", d, " is ", xi.dim(d), " but ",
                         out[d], " in an earlier input (only the concat axis ",
                         axis, " may differ)"));
      }
      out[d] = xi.dim(d);
    }
    if (out[axis] == kSymbolicDim || xi.dim(axis) == kSymbolicDim) {
      out[axis] = kSymbolicDim;
    } else {
      ASSIGN_OR_RETURN(out[axis], CheckedAdd(out[axis], xi.dim(axis)));
    }
  }
  c.SetOutput(0, c.input_dtype(0), Shape(std::move(out)));
  return absl::OkStatus();
}

// Input i (or output i for Split) covers `dims` of the big tensor, starting
// `offset` along `axis`.
StridedCopy Block(const Shape& part, const Shape& whole, int axis,
                  int64_t offset, bool into_whole) {
  std::vector<int64_t> ps = Strides(part), ws = Strides(whole);
  if (into_whole) return {part.dims(), ps, ws, 0, offset * ws[axis]};
  return {part.dims(), ws, ps, offset * ws[axis], 0};
}

CopyPlan ConcatPlan(const KernelArgs& a) {
  const Shape& y = a.outputs[0].shape();
  int axis = *NormalizeAxis(a.attrs.GetInt("axis"), y.rank(), "axis");
  CopyPlan plan;
  int64_t offset = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const Shape& x = a.inputs[i].shape();
    plan.push_back(
        {static_cast<int>(i), 0, Block(x, y, axis, offset, /*into=*/true)});
    offset += x.dim(axis);
  }
  return plan;
}

absl::StatusOr<std::unique_ptr<OpKernel>> ConcatOneDnn(const KernelArgs& a) {
  const Shape& y = a.outputs[0].shape();
  if (!OneDnnCanRun(a) ||
      a.inputs.size() > DNNL_ARG_MULTIPLE_DST - DNNL_ARG_MULTIPLE_SRC) {
    return nullptr;
  }
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    int axis = *NormalizeAxis(a.attrs.GetInt("axis"), y.rank(), "axis");
    const dnnl::engine& eng = a.onednn->engine;
    std::vector<dnnl::memory::desc> srcs;
    DnnlArgs args;
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      srcs.push_back(PlainDesc(a.inputs[i].shape()));
      args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i),
                      MemoryFor(a, a.inputs[i], srcs[i])});
    }
    dnnl::memory::desc dst_md = PlainDesc(y);
    args.push_back({DNNL_ARG_DST, MemoryFor(a, a.outputs[0], dst_md)});
    dnnl::primitive p = CachedPrimitive(a, [&] {
      return dnnl::concat({dst_md, axis, srcs, eng});
    });
    return std::make_unique<PrimitiveKernel>(a, p, std::move(args));
  });
}

absl::Status SplitShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError("Split needs an input of rank >= 1");
  }
  ASSIGN_OR_RETURN(int axis,
                   NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis"));
  int64_t n = c.attrs().GetInt("num_splits");
  std::vector<int64_t> sizes = c.attrs().GetIntList("sizes");
  int64_t dim = x.dim(axis);
  if (n < 1 || n > OpDef::kMaxVariadicOutputs) {
    return absl::InvalidArgumentError(
        absl::StrCat("attr 'num_splits' = ", n, " is out of range"));
  }
  if (sizes.empty()) {
    if (dim != kSymbolicDim && dim % n != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "x of shape ", x.ToString(), " has ", dim, " along axis ", axis,
          ", which attr 'num_splits' = ", n, " does not divide"));
    }
    sizes.assign(n, dim == kSymbolicDim ? kSymbolicDim : dim / n);
  } else {
    if (static_cast<int64_t>(sizes.size()) != n) {
      return AttrListError("sizes", sizes,
                           absl::StrCat("needs attr 'num_splits' = ", n,
                                        " entries, has ", sizes.size()));
    }
    int inferred = -1;
    int64_t sum = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] == -1 && inferred < 0) {
        inferred = static_cast<int>(i);
      } else if (sizes[i] < 0) {
        return AttrListError("sizes", sizes,
                             "sizes must be >= 0, one may be -1");
      } else {
        absl::StatusOr<int64_t> s = CheckedAdd(sum, sizes[i]);
        if (!s.ok()) return AttrListError("sizes", sizes, "the sum overflows");
        sum = *s;
      }
    }
    if (dim != kSymbolicDim) {
      if (inferred >= 0 && sum <= dim) sizes[inferred] = dim - sum;
      if ((inferred >= 0 && sum > dim) || (inferred < 0 && sum != dim)) {
        return AttrListError(
            "sizes", sizes,
            absl::StrCat("do not add up to ", dim, ", x's size ", "along axis ",
                         axis, " (x is ", x.ToString(), ")"));
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> out = x.dims();
    out[axis] = sizes[i];
    c.SetOutput(static_cast<int>(i), c.input_dtype(0), Shape(std::move(out)));
  }
  return absl::OkStatus();
}

CopyPlan SplitPlan(const KernelArgs& a) {
  const Shape& x = a.inputs[0].shape();
  int axis = *NormalizeAxis(a.attrs.GetInt("axis"), x.rank(), "axis");
  CopyPlan plan;
  int64_t offset = 0;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    const Shape& y = a.outputs[i].shape();
    plan.push_back(
        {0, static_cast<int>(i), Block(y, x, axis, offset, /*into=*/false)});
    offset += y.dim(axis);
  }
  return plan;
}

// ---- Slice ----

struct SliceDim {
  int64_t begin = 0, len = -1, step = 1;
};

// Python's slice(start, end, step).indices(n), and the result's length.
SliceDim SliceAxis(int64_t n, int64_t start, int64_t end, int64_t step) {
  auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0) v += n;  // Cannot overflow: n >= 0.
    return std::clamp(v, lo, hi);
  };
  SliceDim s{0, 0, step};
  if (step > 0) {
    int64_t b = clamp(start, 0, n), e = clamp(end, 0, n);
    if (e > b) s = {b, (e - b - 1) / step + 1, step};
  } else {
    int64_t b = clamp(start, -1, n - 1), e = clamp(end, -1, n - 1);
    if (b > e) s = {b, (b - e - 1) / -step + 1, step};
  }
  return s;
}

absl::StatusOr<std::vector<SliceDim>> SliceDims(const Attrs& attrs,
                                                const Shape& x) {
  std::vector<int64_t> axes = attrs.GetIntList("axes");
  std::vector<int64_t> start = attrs.GetIntList("start");
  std::vector<int64_t> end = attrs.GetIntList("end");
  std::vector<int64_t> step = attrs.GetIntList("step");
  if (axes.empty()) {
    for (int d = 0; d < x.rank(); ++d) axes.push_back(d);
  }
  if (step.empty()) step.assign(axes.size(), 1);
  const std::pair<const char*, std::vector<int64_t>*> lists[] = {
      {"start", &start}, {"end", &end}, {"step", &step}};
  for (auto [name, list] : lists) {
    if (list->size() != axes.size()) {
      return AttrListError(
          name, *list,
          absl::StrCat("needs one entry per sliced axis (", axes.size(),
                       "; x has shape ", x.ToString(), ")"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<int> resolved,
                   NormalizeAxes(axes, x.rank(), "axes"));
  std::vector<SliceDim> dims(x.rank());
  for (int d = 0; d < x.rank(); ++d) dims[d] = {0, x.dim(d), 1};
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (step[i] == 0 || step[i] == std::numeric_limits<int64_t>::min()) {
      return AttrListError(
          "step", step,
          absl::StrCat("entry ", i, " is ", step[i],
                       "; a step must be nonzero and > -2^63"));
    }
    int64_t n = x.dim(resolved[i]);
    dims[resolved[i]] = n == kSymbolicDim
                            ? SliceDim{0, kSymbolicDim, step[i]}
                            : SliceAxis(n, start[i], end[i], step[i]);
  }
  return dims;
}

// The shape of x[slice] for the node's slice attrs.
absl::StatusOr<Shape> SlicedShape(const Attrs& attrs, const Shape& x) {
  ASSIGN_OR_RETURN(std::vector<SliceDim> dims, SliceDims(attrs, x));
  std::vector<int64_t> out;
  for (const SliceDim& s : dims) out.push_back(s.len);
  return Shape(std::move(out));
}

absl::Status SliceShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Shape y, SlicedShape(c.attrs(), c.input_shape(0)));
  c.SetOutput(0, c.input_dtype(0), std::move(y));
  return absl::OkStatus();
}

// y = x[slice] as one strided copy from x (concrete shapes) to a plain y.
StridedCopy SliceCopy(const Attrs& attrs, const Shape& x, const Shape& y) {
  std::vector<SliceDim> dims = *SliceDims(attrs, x);
  std::vector<int64_t> in = Strides(x);
  StridedCopy copy{y.dims(), {}, Strides(y)};
  for (int d = 0; d < x.rank(); ++d) {
    copy.src_strides.push_back(in[d] * dims[d].step);
    if (dims[d].len > 0) copy.src_offset += dims[d].begin * in[d];
  }
  return copy;
}

CopyPlan SlicePlan(const KernelArgs& a) {
  return {
      {0, 0, SliceCopy(a.attrs, a.inputs[0].shape(), a.outputs[0].shape())}};
}

// ---- SliceGrad: dy put back where Slice took it from ----

absl::Status SliceGradShape(InferenceContext& c) {
  const Shape& like = c.input_shape(1);
  ASSIGN_OR_RETURN(Shape want, SlicedShape(c.attrs(), like));
  if (!ShapesCompatible(c.input_shape(0), want)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'dy' has shape ", c.input_shape(0).ToString(), " but slicing 'like' ",
        like.ToString(), " gives ", want.ToString()));
  }
  c.SetOutput(0, c.input_dtype(0), like);
  return absl::OkStatus();
}

// Slice's copy run backwards: a slice takes each element at most once, so
// writing dy into zeros (no accumulation) is exact.
CopyPlan SliceGradPlan(const KernelArgs& a) {
  StridedCopy c = SliceCopy(a.attrs, a.inputs[1].shape(), a.inputs[0].shape());
  std::swap(c.src_strides, c.dst_strides);
  std::swap(c.src_offset, c.dst_offset);
  return {{0, 0, c}};
}

// Slice's attributes, shared by SliceGrad.
OpDef WithSliceAttrs(OpDef op) {
  op.Attr("start", AttrType::kIntList)
      .Attr("end", AttrType::kIntList)
      .Attr("step", AttrType::kIntList, IntListAttr({}))
      .Attr("axes", AttrType::kIntList, IntListAttr({}));
  return op;
}

// ---- Gradients ----

// dx_i = the part of dy that x_i filled: one Split of dy by the inputs'
// sizes along the axis. Split infers at most one size, so at most one input
// may have a symbolic size there.
absl::Status ConcatGradient(GradContext& g) {
  const std::string& dy = g.output_grad(0);
  if (g.num_inputs() == 1) {
    g.SetInputGrad(0, dy);
    return absl::OkStatus();
  }
  int rank = g.shape_of(g.input(0)).rank();
  ASSIGN_OR_RETURN(int axis,
                   NormalizeAxis(g.attrs().GetInt("axis"), rank, "axis"));
  std::vector<int64_t> sizes;
  for (int i = 0; i < g.num_inputs(); ++i) {
    sizes.push_back(g.shape_of(g.input(i)).dim(axis));
  }
  if (std::count(sizes.begin(), sizes.end(), kSymbolicDim) > 1) {
    g.Fail(absl::StrCat(
        "the inputs' sizes along the concat axis ", axis, " are ",
        IntListText(sizes),
        ": more than one is symbolic (-1), so dy cannot be split back into "
        "them; give all but one input a static size along that axis"));
    return absl::OkStatus();
  }
  std::string parts = g.Emit("Split", {dy},
                             {{"num_splits", IntAttr(g.num_inputs())},
                              {"axis", IntAttr(axis)},
                              {"sizes", IntListAttr(std::move(sizes))}});
  for (int i = 0; i < g.num_inputs(); ++i) {
    if (g.Wants(i)) {
      g.SetInputGrad(i, i == 0 ? parts : absl::StrCat(parts, ":", i));
    }
  }
  return absl::OkStatus();
}

// dx = Concat of the parts' gradients (zeros for parts that got none).
absl::Status SplitGradient(GradContext& g) {
  std::vector<std::string> parts;
  for (int k = 0; k < g.num_outputs(); ++k) {
    parts.push_back(g.OutputGradOrZeros(k));
  }
  g.SetInputGrad(0, parts.size() == 1
                        ? parts[0]
                        : g.Emit("Concat", parts, g.AttrsOf({"axis"})));
  return absl::OkStatus();
}

// dx = dy placed where the slice took it from, zeros elsewhere.
absl::Status SliceGradient(GradContext& g) {
  g.SetInputGrad(0, g.Emit("SliceGrad", {g.output_grad(0), g.input(0)},
                           g.AttrsOf({"start", "end", "step", "axes"})));
  return absl::OkStatus();
}

// SliceGrad is linear in dy, with adjoint Slice: d(dy) = Slice(dz).
absl::Status SliceGradGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(0, g.Emit("Slice", {g.output_grad(0)},
                             g.AttrsOf({"start", "end", "step", "axes"})));
  }
  g.ZeroGradsFrom(1);
  return absl::OkStatus();
}

}  // namespace

void RegisterSliceOps(OpRegistry& r) {
  r.Add(OpDef("Concat")
            .Doc("y joins the inputs, in order, along `axis`; they agree in "
                 "every other dimension. Gradient: dx_i = the part of dy "
                 "that x_i fills (a Split of dy; at most one input may have "
                 "a symbolic size along `axis`).")
            .TypeVar("T", kAnyType)
            .VariadicInput("x", "T", 1)
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(0))
            .Shape(ConcatShape)
            .Gradient(ConcatGradient)
            .Reference(MakeMover<ConcatPlan>)
            .OneDnn(ConcatOneDnn));
  r.Add(OpDef("Split")
            .Doc("Cuts x along `axis` into `num_splits` consecutive parts "
                 "y:0, y:1, ...: of sizes `sizes` (one entry may be -1, "
                 "inferred), or of equal sizes when `sizes` is empty. "
                 "Gradient: dx = Concat(dy:0, dy:1, ...) along `axis`, "
                 "zeros for parts that get no gradient.")
            .TypeVar("T", kAnyType)
            .Input("x", "T")
            .VariadicOutput("y", "num_splits")
            .Attr("num_splits", AttrType::kInt)
            .Attr("axis", AttrType::kInt, IntAttr(0))
            .Attr("sizes", AttrType::kIntList, IntListAttr({}))
            .Shape(SplitShape)
            .Gradient(SplitGradient)
            .Reference(MakeMover<SplitPlan>)
            .NoOneDnnPrimitive());
  r.Add(WithSliceAttrs(
            AnyTypeUnaryOp("Slice",
                           "y = x[start:end:step] along each axis of `axes` "
                           "(all axes when empty), with Python semantics: "
                           "negative start/end count from the end, "
                           "out-of-range bounds clamp, a negative step walks "
                           "backwards. `step` empty means 1 everywhere; 0 is "
                           "an error. Gradient: dx = SliceGrad(dy, x).",
                           SliceShape, MakeMover<SlicePlan>))
            .Gradient(SliceGradient)
            .NoOneDnnPrimitive());
  r.Add(WithSliceAttrs(
            OpDef("SliceGrad")
                .Doc("The adjoint of Slice, with Slice's attributes: y has "
                     "the shape of `like` (whose values are not read) and "
                     "dy's dtype; y[slice] = dy and y = 0 elsewhere, where "
                     "`slice` is what Slice takes from a tensor of like's "
                     "shape (dy has that slice's shape). Gradient: "
                     "d(dy) = Slice(dz); like gets zero.")
                .TypeVar("T", kAnyType)
                .TypeVar("L", kAnyType)
                .Input("dy", "T")
                .Input("like", "L")
                .ShapeOnly("like")
                .Output("y")
                .Shape(SliceGradShape)
                .Reference(MakeMover<SliceGradPlan, /*kZeroFirst=*/true>))
            .Gradient(SliceGradGradient)
            .NoOneDnnPrimitive());
}

}  // namespace rill

// Reductions over a list of axes: ReduceSum, ReduceMean, ReduceMax; and
// ReduceSumLike, the sum over the axes a broadcast added; and ArgMax, the
// position of the maximum along one axis (for metrics such as accuracy).
//
// Empty reductions follow NumPy: the sum of no elements is 0, their mean is
// 0/0 = NaN, and their maximum is undefined, so ReduceMax over an axis of
// size 0 is a shape error (at validation when the size is known, else when
// the executor binds the shapes).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

enum class Reduction { kSum, kMean, kMax };

const char* ReductionOp(Reduction r) {
  switch (r) {
    case Reduction::kSum:
      return "ReduceSum";
    case Reduction::kMean:
      return "ReduceMean";
    case Reduction::kMax:
      return "ReduceMax";
  }
  return "?";
}

// Which of the `rank` axes the node reduces. An empty `axes` reduces all;
// naming an axis twice (e.g. 1 and -1 of a rank-2 tensor) is an error.
absl::StatusOr<std::vector<bool>> ReducedAxes(const Attrs& attrs, int rank) {
  std::vector<int64_t> list = attrs.GetIntList("axes");
  ASSIGN_OR_RETURN(std::vector<int> axes, NormalizeAxes(list, rank, "axes"));
  std::vector<bool> reduced(rank, list.empty());
  for (int axis : axes) reduced[axis] = true;
  return reduced;
}

// The output dims: reduced axes become 1 with `keepdims`, else disappear.
std::vector<int64_t> ReducedDims(const Shape& x,
                                 const std::vector<bool>& reduced,
                                 bool keepdims) {
  std::vector<int64_t> out;
  for (int d = 0; d < x.rank(); ++d) {
    if (!reduced[d]) {
      out.push_back(x.dim(d));
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

ShapeFn ReduceShape(Reduction kind) {
  return [kind](InferenceContext& c) -> absl::Status {
    const Shape& x = c.input_shape(0);
    ASSIGN_OR_RETURN(std::vector<bool> reduced,
                     ReducedAxes(c.attrs(), x.rank()));
    for (int d = 0; kind == Reduction::kMax && d < x.rank(); ++d) {
      if (reduced[d] && x.dim(d) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ReduceMax over axis ", d, " of size 0 (input shape ", x.ToString(),
            "): the maximum of no elements is undefined"));
      }
    }
    c.SetOutput(0, c.input_dtype(0),
                Shape(ReducedDims(x, reduced, c.attrs().GetBool("keepdims"))));
    return absl::OkStatus();
  };
}

// The input seen as runs of adjacent axes that are all reduced or all kept
// (axes of size 1 dropped), so that the innermost run is a contiguous loop.
struct Run {
  int64_t size;
  bool reduced;
};

std::vector<Run> Coalesce(const Shape& x, const std::vector<bool>& reduced) {
  std::vector<Run> runs;
  for (int d = 0; d < x.rank(); ++d) {
    if (x.dim(d) == 1) continue;
    if (!runs.empty() && runs.back().reduced == reduced[d]) {
      runs.back().size *= x.dim(d);
    } else {
      runs.push_back({x.dim(d), reduced[d]});
    }
  }
  if (runs.empty()) runs.push_back({1, true});  // One element.
  return runs;
}

// Walks the input in C order, one innermost run at a time, accumulating
// into the output: along a reduced inner run into one output element, along
// a kept inner run element-wise into a row of the output.
template <typename T>
struct ReduceReference : OpKernel {
  ReduceReference(const KernelArgs& a, Reduction kind,
                  const std::vector<bool>& reduced)
      : x(a.inputs[0]), y(a.outputs[0]), kind(kind) {
    std::vector<Run> runs = Coalesce(x.shape(), reduced);
    inner = runs.back();
    runs.pop_back();
    int64_t stride = inner.reduced ? 1 : inner.size;
    for (int d = static_cast<int>(runs.size()) - 1; d >= 0; --d) {
      outer_sizes.insert(outer_sizes.begin(), runs[d].size);
      outer_strides.insert(outer_strides.begin(), runs[d].reduced ? 0 : stride);
      if (!runs[d].reduced) stride *= runs[d].size;
    }
    coord.resize(outer_sizes.size());
    for (int d = 0; d < x.shape().rank(); ++d) {
      if (reduced[d]) count *= x.shape().dim(d);
    }
  }

  absl::Status Compute() override {
    T* dst = y.data<T>();
    int64_t n = y.num_elements();
    T init =
        kind == Reduction::kMax ? -std::numeric_limits<T>::infinity() : T(0);
    for (int64_t i = 0; i < n; ++i) dst[i] = init;
    if (x.num_elements() > 0) {
      kind == Reduction::kMax ? Walk([](T acc, T v) {
        return (v > acc || v != v) ? v : acc;  // NaN propagates.
      })
                              : Walk([](T acc, T v) { return acc + v; });
    }
    if (kind == Reduction::kMean) {
      T c = static_cast<T>(count);  // 0 gives 0/0 = NaN.
      for (int64_t i = 0; i < n; ++i) dst[i] /= c;
    }
    return absl::OkStatus();
  }

  template <typename F>
  void Walk(F op) {
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    int64_t rows = x.num_elements() / inner.size;
    int64_t out = 0;
    std::fill(coord.begin(), coord.end(), 0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* in = src + r * inner.size;
      if (inner.reduced) {
        T acc = dst[out];
        for (int64_t k = 0; k < inner.size; ++k) acc = op(acc, in[k]);
        dst[out] = acc;
      } else {
        T* row = dst + out;
        for (int64_t k = 0; k < inner.size; ++k) row[k] = op(row[k], in[k]);
      }
      // Odometer step over the outer runs, keeping `out` in step.
      for (int d = static_cast<int>(coord.size()) - 1; d >= 0; --d) {
        out += outer_strides[d];
        if (++coord[d] < outer_sizes[d]) break;
        out -= outer_strides[d] * outer_sizes[d];
        coord[d] = 0;
      }
    }
  }

  Tensor x, y;
  Reduction kind;
  Run inner;
  std::vector<int64_t> outer_sizes, outer_strides, coord;
  int64_t count = 1;  // Input elements per output element.
};

// Which axes of the input a node reduces: from its attrs, or (for
// ReduceSumLike) from its input shapes.
using ReducedAxesFn =
    absl::StatusOr<std::vector<bool>> (*)(const KernelArgs& a);

absl::StatusOr<std::vector<bool>> AttrAxes(const KernelArgs& a) {
  return ReducedAxes(a.attrs, a.inputs[0].shape().rank());
}

KernelFactory ReduceReferenceFactory(Reduction kind, ReducedAxesFn axes) {
  return [kind, axes](
             const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    ASSIGN_OR_RETURN(std::vector<bool> reduced, axes(a));
    if (a.inputs[0].dtype() == DType::kF64) {
      return std::make_unique<ReduceReference<double>>(a, kind, reduced);
    }
    return std::make_unique<ReduceReference<float>>(a, kind, reduced);
  };
}

// Whether oneDNN dispatched `p` to its generic "ref" implementation. Its
// reduction does that unless the reduced axes are the innermost ones, and
// then gathers each output element from strided input: summing a
// [32, 256, 1024] tensor over axis 0 (a weight's gradient) took 40-90 ms
// there, against 1.5-4 ms in the reference kernel's contiguous row loop.
bool IsOneDnnRef(const dnnl::primitive& p) {
  const char* impl = nullptr;
  return dnnl_primitive_desc_query(p.get_primitive_desc(),
                                   dnnl_query_impl_info_str, 0,
                                   &impl) == dnnl_success &&
         impl != nullptr && std::strncmp(impl, "ref", 3) == 0;
}

// oneDNN's reduction wants src and dst of one rank, reduced dims of size 1,
// and at least one dim that really shrinks; otherwise, and where oneDNN has
// only its "ref" implementation (see IsOneDnnRef), the reference runs.
KernelFactory ReduceOneDnn(Reduction kind, ReducedAxesFn axes) {
  return [kind, axes](
             const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    if (!OneDnnCanRun(a)) return nullptr;
    const Shape& x = a.inputs[0].shape();
    ASSIGN_OR_RETURN(std::vector<bool> reduced, axes(a));
    std::vector<int64_t> dst_dims = ReducedDims(x, reduced, true);
    if (dst_dims == x.dims()) return nullptr;
    dnnl::algorithm alg =
        kind == Reduction::kSum    ? dnnl::algorithm::reduction_sum
        : kind == Reduction::kMean ? dnnl::algorithm::reduction_mean
                                   : dnnl::algorithm::reduction_max;
    return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
      const dnnl::engine& eng = a.onednn->engine;
      dnnl::memory::desc src = PlainDesc(x);
      dnnl::memory::desc dst = PlainDesc(dst_dims);
      dnnl::primitive p = CachedPrimitive(a, [&] {
        return dnnl::reduction({{alg, src, dst, 0.f, 0.f}, eng});
      });
      if (IsOneDnnRef(p)) return nullptr;
      return std::make_unique<PrimitiveKernel>(
          a, p,
          DnnlArgs{{DNNL_ARG_SRC, MemoryFor(a, a.inputs[0], src)},
                   {DNNL_ARG_DST, MemoryFor(a, a.outputs[0], dst)}});
    });
  };
}

OpDef ReduceOp(Reduction kind, const std::string& what) {
  return OpDef(ReductionOp(kind))
      .Doc(absl::StrCat(
          "y = the ", what,
          " of x over the axes in `axes` (all axes when empty; negative "
          "counts from the end; each at most once). With `keepdims` the "
          "reduced axes stay as size 1, else they are removed."))
      .TypeVar("T", kFloatTypes)
      .Input("x", "T")
      .Output("y")
      .Attr("axes", AttrType::kIntList, IntListAttr({}))
      .Attr("keepdims", AttrType::kBool, BoolAttr(false))
      .Shape(ReduceShape(kind))
      .Reference(ReduceReferenceFactory(kind, AttrAxes))
      .OneDnn(ReduceOneDnn(kind, AttrAxes));
}

// ---- ReduceSumLike ----

absl::Status ReduceSumLikeShape(InferenceContext& c) {
  RETURN_IF_ERROR(CheckBroadcastsTo(c.input_shape(1), c.input_shape(0)));
  c.SetOutput(0, c.input_dtype(0), c.input_shape(1));
  return absl::OkStatus();
}

// The axes of x that `like` was broadcast along: x's leading axes beyond
// like's rank, and those where like has size 1 and x does not.
std::vector<bool> BroadcastAxes(const Shape& x, const Shape& like) {
  int lead = x.rank() - like.rank();
  std::vector<bool> reduced(x.rank(), true);
  for (int d = lead; d < x.rank(); ++d) {
    reduced[d] = like.dim(d - lead) == 1 && x.dim(d) != 1;
  }
  return reduced;
}

// Same memory layout as ReduceSum with keepdims over these axes, so the
// ReduceSum kernels serve.
absl::StatusOr<std::vector<bool>> LikeAxes(const KernelArgs& a) {
  return BroadcastAxes(a.inputs[0].shape(), a.inputs[1].shape());
}

// ---- ArgMax ----

absl::Status ArgMaxShape(InferenceContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.rank() == 0) {
    return absl::InvalidArgumentError(
        "'x' must have rank >= 1, got a scalar: ArgMax needs an axis");
  }
  ASSIGN_OR_RETURN(int axis,
                   NormalizeAxis(c.attrs().GetInt("axis"), x.rank(), "axis"));
  if (x.dim(axis) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ArgMax over axis ", axis, " of size 0 (input shape ", x.ToString(),
        "): the position of the maximum of no elements is undefined"));
  }
  std::vector<int64_t> dims = x.dims();
  dims.erase(dims.begin() + axis);
  c.SetOutput(0, DType::kI64, Shape(std::move(dims)));
  return absl::OkStatus();
}

// Scans each row along the axis in order and keeps the first maximum, so
// ties give the lowest index and a NaN wins (its first occurrence), as
// NumPy's and PyTorch's argmax do.
template <typename T>
struct ArgMaxKernel : OpKernel {
  explicit ArgMaxKernel(const KernelArgs& a) : x(a.inputs[0]), y(a.outputs[0]) {
    const Shape& shape = x.shape();
    // The validator has checked the axis, so this cannot fail.
    int axis = *NormalizeAxis(a.attrs.GetInt("axis"), shape.rank(), "axis");
    size = shape.dim(axis);
    for (int d = axis + 1; d < shape.rank(); ++d) inner *= shape.dim(d);
  }

  absl::Status Compute() override {
    const T* src = x.data<T>();
    int64_t* dst = y.data<int64_t>();
    int64_t outer = size * inner == 0 ? 0 : x.num_elements() / (size * inner);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* row = src + o * size * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < size && row[best * inner] == row[best * inner];
             ++k) {
          T v = row[k * inner];
          if (v > row[best * inner] || v != v) best = k;
        }
        dst[o * inner + i] = best;
      }
    }
    return absl::OkStatus();
  }

  Tensor x, y;
  int64_t size = 1, inner = 1;
};

absl::StatusOr<std::unique_ptr<OpKernel>> MakeArgMax(const KernelArgs& a) {
  if (a.inputs[0].dtype() == DType::kF64) {
    return std::make_unique<ArgMaxKernel<double>>(a);
  }
  return std::make_unique<ArgMaxKernel<float>>(a);
}

// ---- Gradients ----

// The forward node's reduced axes (of its input 0).
std::vector<bool> NodeReducedAxes(GradContext& g) {
  // The validator has checked the axes, so this cannot fail.
  return *ReducedAxes(g.attrs(), g.shape_of(g.input(0)).rank());
}

// `t`, of the output's shape, with the reduced axes put back as size 1
// (unchanged with keepdims), so that it broadcasts against the input.
std::string KeepDims(GradContext& g, const std::string& t) {
  if (g.attrs().GetBool("keepdims")) return t;
  std::vector<bool> reduced = NodeReducedAxes(g);
  std::string kept = t;
  for (int d = 0; d < static_cast<int>(reduced.size()); ++d) {
    if (reduced[d]) kept = g.Emit("ExpandDims", {kept}, {{"axis", IntAttr(d)}});
  }
  return kept;
}

// `t` summed over the node's reduced axes, kept as size 1.
std::string SumKeepingDims(GradContext& g, const std::string& t) {
  return g.Emit(
      "ReduceSum", {t},
      {{"axes", g.attrs().Get("axes")}, {"keepdims", BoolAttr(true)}});
}

// How many input elements each output element reduces: a scalar constant
// when the reduced dims are known, else counted at run time (of the
// keepdims shape).
std::string ReducedCount(GradContext& g) {
  const std::string& x = g.input(0);
  const Shape& shape = g.shape_of(x);
  std::vector<bool> reduced = NodeReducedAxes(g);
  int64_t count = 1;
  for (int d = 0; d < shape.rank(); ++d) {
    if (!reduced[d]) continue;
    if (shape.dim(d) == kSymbolicDim) {
      return SumKeepingDims(g, g.Emit("OnesLike", {x}));
    }
    count *= shape.dim(d);
  }
  return g.Scalar(static_cast<double>(count), x);
}

// dx = dy broadcast back along the reduced axes.
absl::Status ReduceSumGradient(GradContext& g) {
  g.SetInputGrad(
      0, g.Emit("BroadcastLike", {KeepDims(g, g.output_grad(0)), g.input(0)}));
  return absl::OkStatus();
}

// dx = dy / count broadcast back along the reduced axes.
absl::Status ReduceMeanGradient(GradContext& g) {
  std::string share =
      g.Emit("Div", {KeepDims(g, g.output_grad(0)), ReducedCount(g)});
  g.SetInputGrad(0, g.Emit("BroadcastLike", {share, g.input(0)}));
  return absl::OkStatus();
}

// Ties share the gradient equally, as in TensorFlow: with mask = (x == y)
// as 0/1, dx = mask * dy / sum(mask), the sum over the reduced axes.
absl::Status ReduceMaxGradient(GradContext& g) {
  const std::string& x = g.input(0);
  std::string is_max = g.Emit("Equal", {x, KeepDims(g, g.output(0))});
  std::string mask = g.Emit("Cast", {is_max},
                            {{"dtype", TypeAttr(DTypeToProto(g.dtype_of(x)))}});
  std::string share =
      g.Emit("Div", {KeepDims(g, g.output_grad(0)), SumKeepingDims(g, mask)});
  g.SetInputGrad(0, g.Emit("Mul", {mask, share}));
  return absl::OkStatus();
}

// dx = dy broadcast back to x's shape; `like` gives only a shape, so its
// gradient (when asked, for a float `like`) is zero.
absl::Status ReduceSumLikeGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(0, g.Emit("BroadcastLike", {g.output_grad(0), g.input(0)}));
  }
  g.ZeroGradsFrom(1);
  return absl::OkStatus();
}

}  // namespace

void RegisterReduceOps(OpRegistry& r) {
  r.Add(ReduceOp(Reduction::kSum, "sum (0 over no elements)")
            .Gradient(ReduceSumGradient));
  r.Add(ReduceOp(Reduction::kMean, "mean (NaN over no elements)")
            .Gradient(ReduceMeanGradient));
  r.Add(ReduceOp(Reduction::kMax,
                 "maximum (an axis of size 0 is an error; a NaN element "
                 "gives NaN on the reference backend, while oneDNN's "
                 "reduction may skip it; the gradient is shared equally by "
                 "tied maxima)")
            .Gradient(ReduceMaxGradient));
  r.Add(OpDef("ReduceSumLike")
            .Doc("y = x summed over the axes along which `like` (whose values "
                 "are not read) broadcasts to x's shape, so y has like's "
                 "shape: the gradient of a broadcasting op's input.")
            .TypeVar("T", kFloatTypes)
            .TypeVar("L", kAnyType)
            .Input("x", "T")
            .Input("like", "L")
            .ShapeOnly("like")
            .Output("y")
            .Shape(ReduceSumLikeShape)
            .Gradient(ReduceSumLikeGradient)
            .Reference(ReduceReferenceFactory(Reduction::kSum, LikeAxes))
            .OneDnn(ReduceOneDnn(Reduction::kSum, LikeAxes))
            // Summing only over axes of size 1 keeps every byte: gradients
            // built for a symbolic batch are full of such sums, one copy of
            // an activation each when run as kernels.
            .OutputViewsInput());
  r.Add(OpDef("ArgMax")
            .Doc("y = the index of the maximum of x along `axis` (negative "
                 "counts from the end), as i64, with that axis removed. Ties "
                 "give the first index and a NaN counts as the maximum (its "
                 "first occurrence), as NumPy's and PyTorch's argmax. An "
                 "axis of size 0 is an error. Not differentiable.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Output("y")
            .Attr("axis", AttrType::kInt, IntAttr(-1))
            .Shape(ArgMaxShape)
            .Reference(MakeArgMax)
            .NoOneDnnPrimitive()
            .NoGradient());
}

}  // namespace rill

// Shape and layout ops: Reshape, Transpose, Concat, Split, Slice (and its
// adjoint SliceGrad), Squeeze, ExpandDims, BroadcastTo, Reverse,
// BroadcastLike, ReshapeLike, StopGradient (Fill, ZerosLike, OnesLike
// and Cast are in value_ops.cc). Every data-moving kernel is one strided copy
// (or a few); oneDNN runs Transpose (reorder) and Concat (concat) in f32.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- Helpers ----

// C-order element strides.
std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.rank(), 1);
  for (int d = s.rank() - 2; d >= 0; --d) st[d] = st[d + 1] * s.dim(d + 1);
  return st;
}

// ---- Strided copies: the reference kernel of every data-moving op ----

// Walks `dims` in C order; element c moves from src[src_offset + c . src
// strides] to dst[dst_offset + c . dst strides]. Strides may be 0
// (broadcast) or negative (reverse).
struct StridedCopy {
  std::vector<int64_t> dims, src_strides, dst_strides;
  int64_t src_offset = 0, dst_offset = 0;
};

// Drops size-1 dims and merges dims that are contiguous in both source and
// destination, so that plain copies become one std::copy.
StridedCopy Simplified(const StridedCopy& c) {
  StridedCopy s;
  s.src_offset = c.src_offset;
  s.dst_offset = c.dst_offset;
  for (size_t d = 0; d < c.dims.size(); ++d) {
    if (c.dims[d] == 0) {
      s.dims = {0};
      s.src_strides = s.dst_strides = {0};
      return s;
    }
    if (c.dims[d] == 1) continue;
    if (!s.dims.empty() &&
        s.src_strides.back() == c.src_strides[d] * c.dims[d] &&
        s.dst_strides.back() == c.dst_strides[d] * c.dims[d]) {
      s.dims.back() *= c.dims[d];
      s.src_strides.back() = c.src_strides[d];
      s.dst_strides.back() = c.dst_strides[d];
      continue;
    }
    s.dims.push_back(c.dims[d]);
    s.src_strides.push_back(c.src_strides[d]);
    s.dst_strides.push_back(c.dst_strides[d]);
  }
  if (s.dims.empty()) s.dims = s.src_strides = s.dst_strides = {1};
  return s;
}

// `coord` has room for c.dims.size() entries.
template <typename T>
void RunCopy(const StridedCopy& c, const T* src, T* dst, int64_t* coord) {
  int rank = static_cast<int>(c.dims.size());
  int64_t n = c.dims[rank - 1];
  int64_t ss = c.src_strides[rank - 1], ds = c.dst_strides[rank - 1];
  if (n == 0) return;
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= c.dims[d];
  std::fill(coord, coord + rank, 0);
  int64_t s = c.src_offset, o = c.dst_offset;
  for (int64_t k = 0; k < outer; ++k) {
    const T* from = src + s;
    T* to = dst + o;
    if (ss == 1 && ds == 1) {
      std::copy(from, from + n, to);
    } else {
      for (int64_t i = 0; i < n; ++i) to[i * ds] = from[i * ss];
    }
    for (int d = rank - 2; d >= 0; --d) {  // Odometer over the outer dims.
      s += c.src_strides[d];
      o += c.dst_strides[d];
      if (++coord[d] < c.dims[d]) break;
      s -= c.src_strides[d] * c.dims[d];
      o -= c.dst_strides[d] * c.dims[d];
      coord[d] = 0;
    }
  }
}

struct CopyStep {
  int input, output;
  StridedCopy copy;
};
using CopyPlan = std::vector<CopyStep>;
// Plans are built from shapes the shape function has already checked.
using PlanFn = CopyPlan (*)(const KernelArgs&);

// With `kZeroFirst`, the outputs are zeroed before the copies, which then
// fill only part of them (SliceGrad).
template <PlanFn Plan, bool kZeroFirst = false>
struct Mover {
  template <typename T>
  struct Kernel : OpKernel {
    explicit Kernel(const KernelArgs& a)
        : inputs(a.inputs), outputs(a.outputs), steps(Plan(a)) {
      size_t rank = 1;
      for (CopyStep& step : steps) {
        step.copy = Simplified(step.copy);
        rank = std::max(rank, step.copy.dims.size());
      }
      coord.resize(rank);
    }
    absl::Status Compute() override {
      if constexpr (kZeroFirst) {
        for (Tensor& y : outputs) {
          std::fill_n(y.data<T>(), y.num_elements(), T(0));
        }
      }
      for (const CopyStep& step : steps) {
        RunCopy(step.copy, inputs[step.input].data<T>(),
                outputs[step.output].data<T>(), coord.data());
      }
      return absl::OkStatus();
    }
    std::vector<Tensor> inputs, outputs;
    CopyPlan steps;
    std::vector<int64_t> coord;
  };
};

template <PlanFn Plan, bool kZeroFirst = false>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeMover(const KernelArgs& a) {
  return MakeKernelForType<Mover<Plan, kZeroFirst>::template Kernel>(
      a.outputs[0].dtype(), a);
}

// The output holds the input's elements in the same order.
CopyPlan WholePlan(const KernelArgs& a) {
  int64_t n = a.outputs[0].num_elements();
  return {{0, 0, {{n}, {1}, {1}}}};
}

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

// Slice's attributes, shared by SliceGrad.
OpDef WithSliceAttrs(OpDef op) {
  op.Attr("start", AttrType::kIntList)
      .Attr("end", AttrType::kIntList)
      .Attr("step", AttrType::kIntList, IntListAttr({}))
      .Attr("axes", AttrType::kIntList, IntListAttr({}));
  return op;
}

// ---- Gradients ----

// The node's attrs named in `names`, defaults filled in, for a gradient node
// that repeats them.
std::map<std::string, AttrValue> CopyAttrs(
    const GradContext& g, absl::Span<const char* const> names) {
  std::map<std::string, AttrValue> out;
  for (const char* name : names) out[name] = g.attrs().Get(name);
  return out;
}

// Inputs from `first` on are only shapes (`like`): y does not depend on
// their values, so their gradient is zero when the pass asks for it.
void ZeroGradsFrom(GradContext& g, int first) {
  for (int i = first; i < g.num_inputs(); ++i) {
    if (g.Wants(i)) g.SetInputGrad(i, g.Emit("ZerosLike", {g.input(i)}));
  }
}

// y = x with another shape (Reshape, Squeeze, ExpandDims, ReshapeLike):
// dx = ReshapeLike(dy, x).
absl::Status ReshapeGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(0, g.Emit("ReshapeLike", {g.output_grad(0), g.input(0)}));
  }
  ZeroGradsFrom(g, 1);
  return absl::OkStatus();
}

// y = x broadcast (BroadcastTo, BroadcastLike): dx = ReduceSumLike(dy, x).
absl::Status BroadcastGradient(GradContext& g) {
  if (g.Wants(0)) g.SetInputGradSummed(0, g.output_grad(0));
  ZeroGradsFrom(g, 1);
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
                        : g.Emit("Concat", parts, CopyAttrs(g, {"axis"})));
  return absl::OkStatus();
}

constexpr const char* kSliceAttrs[] = {"start", "end", "step", "axes"};

// dx = dy placed where the slice took it from, zeros elsewhere.
absl::Status SliceGradient(GradContext& g) {
  g.SetInputGrad(0, g.Emit("SliceGrad", {g.output_grad(0), g.input(0)},
                           CopyAttrs(g, kSliceAttrs)));
  return absl::OkStatus();
}

// SliceGrad is linear in dy, with adjoint Slice: d(dy) = Slice(dz).
absl::Status SliceGradGradient(GradContext& g) {
  if (g.Wants(0)) {
    g.SetInputGrad(
        0, g.Emit("Slice", {g.output_grad(0)}, CopyAttrs(g, kSliceAttrs)));
  }
  ZeroGradsFrom(g, 1);
  return absl::OkStatus();
}

// dx = Reverse(dy) along the same axis.
absl::Status ReverseGradient(GradContext& g) {
  g.SetInputGrad(0,
                 g.Emit("Reverse", {g.output_grad(0)}, CopyAttrs(g, {"axis"})));
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
            .NoOneDnnPrimitive());
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
                .ShapeOnly("like")
                .Output("y")
                .Shape(SliceGradShape)
                .Reference(MakeMover<SliceGradPlan, /*kZeroFirst=*/true>))
            .Gradient(SliceGradGradient)
            .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp("Squeeze",
                       "y = x without the size-1 axes listed in `axes` (each "
                       "must be 1), or without every size-1 axis when `axes` "
                       "is empty. Gradient: dx = ReshapeLike(dy, x).",
                       SqueezeShape, MakeMover<WholePlan>)
            .Attr("axes", AttrType::kIntList, IntListAttr({}))
            .Gradient(ReshapeGradient)
            .NoOneDnnPrimitive());
  r.Add(AnyTypeUnaryOp("ExpandDims",
                       "y = x with a size-1 axis inserted so that it becomes "
                       "axis `axis` of y (-1: the last). Gradient: "
                       "dx = ReshapeLike(dy, x).",
                       ExpandDimsShape, MakeMover<WholePlan>)
            .Attr("axis", AttrType::kInt)
            .Gradient(ReshapeGradient)
            .NoOneDnnPrimitive());
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
            .Gradient(ReshapeGradient));
  r.Add(AnyTypeUnaryOp("StopGradient",
                       "y = x; autodiff passes no gradient back through it.",
                       UnchangedShape, MakeMover<WholePlan>)
            .NoGradient()
            .NoOneDnnPrimitive());
}

}  // namespace rill

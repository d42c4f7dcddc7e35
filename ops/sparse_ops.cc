// SparseMatMul: a dense batch times a sparse matrix held as coordinate
// lists, for weights that are mostly zero (an ESN's reservoir).

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"

namespace rill {
namespace {

// Inputs: rows, cols, values, x.
constexpr int kRows = 0, kCols = 1, kValues = 2, kX = 3;

absl::Status SparseMatMulShape(InferenceContext& c) {
  const int64_t out = c.attrs().GetInt("out_features");
  if (out < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("out_features must be >= 0, got ", out));
  }
  const Shape& x = c.input_shape(kX);
  if (x.rank() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("x must be [batch, in_features], got ", x.ToString()));
  }
  int64_t nnz = kSymbolicDim;
  for (int i : {kRows, kCols, kValues}) {
    const Shape& s = c.input_shape(i);
    const int64_t n = s.rank() == 1 ? s.dim(0) : -2;
    if (n == -2 || (nnz != kSymbolicDim && n != kSymbolicDim && n != nnz)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rows, cols and values must be vectors of one length, got ",
          c.input_shape(kRows).ToString(), ", ",
          c.input_shape(kCols).ToString(), " and ",
          c.input_shape(kValues).ToString()));
    }
    if (n != kSymbolicDim) nnz = n;
  }
  c.SetOutput(0, c.input_dtype(kX), Shape({x.dim(0), out}));
  return absl::OkStatus();
}

// y[b, rows[k]] += values[k] * x[b, cols[k]], k ascending, from zeros:
// with the entries sorted by row, each output sums its row's terms in column
// order, as a compressed-sparse-row product does.
template <typename T, typename I>
struct SparseMatMulReference : OpKernel {
  explicit SparseMatMulReference(const KernelArgs& a)
      : rows(a.inputs[kRows]),
        cols(a.inputs[kCols]),
        values(a.inputs[kValues]),
        x(a.inputs[kX]),
        y(a.outputs[0]) {}

  absl::Status Compute() override {
    const int64_t batch = x.shape().dim(0), in = x.shape().dim(1);
    const int64_t out = y.shape().dim(1);
    for (int64_t b = 0; b < batch; ++b) {
      const T* xb = x.data<T>() + b * in;
      T* yb = y.data<T>() + b * out;
      std::fill(yb, yb + out, T(0));
      if (InStreams(xb, in, yb, out)) continue;
      std::fill(yb, yb + out, T(0));
      RETURN_IF_ERROR(InOrder(xb, in, yb, out));
    }
    return absl::OkStatus();
  }

  // One pass over the entries, checking each as it goes (a separate check
  // pass costs more than the product, which streams the lists from
  // memory). A run of entries in one row sums in a register, as a CSR
  // product does: the same additions, in the same order, as one entry at a
  // time through memory, without a store and reload per entry.
  absl::Status InOrder(const T* xb, int64_t in, T* yb, int64_t out) const {
    const I* r = rows.data<I>();
    const I* c = cols.data<I>();
    const T* v = values.data<T>();
    int64_t row = -1;
    T sum = 0;
    for (int64_t k = 0; k < values.num_elements(); ++k) {
      // Unsigned, so that a negative index is out of range too.
      if (static_cast<uint64_t>(r[k]) >= static_cast<uint64_t>(out) ||
          static_cast<uint64_t>(c[k]) >= static_cast<uint64_t>(in)) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry ", k, " at (", r[k], ", ", c[k],
                         ") lies outside the [", out, ", ", in, "] matrix"));
      }
      if (r[k] != row) {
        if (row >= 0) yb[row] = sum;
        row = r[k];
        sum = yb[row];
      }
      sum += v[k] * xb[c[k]];
    }
    if (row >= 0) yb[row] = sum;
    return absl::OkStatus();
  }

  // The same sums when the rows ascend (a CSR matrix's entries, as an ESN
  // reservoir gives them), four rows at a time: the entries cut into four
  // runs at row boundaries, each run summing its rows as InOrder does, so
  // that four chains of additions overlap instead of waiting on one. False,
  // with yb to be redone by InOrder, when the rows do not ascend or an index
  // lies outside the matrix.
  bool InStreams(const T* xb, int64_t in, T* yb, int64_t out) const {
    constexpr int kRuns = 4;
    const I* r = rows.data<I>();
    const I* c = cols.data<I>();
    const T* v = values.data<T>();
    const int64_t nnz = values.num_elements();
    struct Run {
      int64_t k, end, row = -1;
      T sum = 0;
    } runs[kRuns];
    for (int s = 0; s < kRuns; ++s) {
      int64_t k = nnz * s / kRuns;
      while (k > 0 && k < nnz && r[k] == r[k - 1]) ++k;
      runs[s].k = k;
      if (s > 0) runs[s - 1].end = k;
      if (k > 0 && k < nnz && r[k] < r[k - 1]) return false;
    }
    runs[kRuns - 1].end = nnz;
    // Moves `run` past its next entry.
    auto step = [&](Run& run) {
      const int64_t k = run.k++;
      if (r[k] != run.row) {
        if (static_cast<uint64_t>(r[k]) >= static_cast<uint64_t>(out) ||
            r[k] < run.row) {
          return false;
        }
        if (run.row >= 0) yb[run.row] = run.sum;
        run.row = r[k];
        run.sum = 0;  // Each row lies in one run, and yb starts at zero.
      }
      if (static_cast<uint64_t>(c[k]) >= static_cast<uint64_t>(in)) {
        return false;
      }
      run.sum += v[k] * xb[c[k]];
      return true;
    };
    int64_t together = nnz;
    for (const Run& run : runs) together = std::min(together, run.end - run.k);
    for (int64_t i = 0; i < together; ++i) {
      if (!(step(runs[0]) & step(runs[1]) & step(runs[2]) & step(runs[3]))) {
        return false;
      }
    }
    for (Run& run : runs) {
      while (run.k < run.end) {
        if (!step(run)) return false;
      }
      if (run.row >= 0) yb[run.row] = run.sum;
    }
    return true;
  }

  Tensor rows, cols, values, x, y;
};

// i32 indices halve the index bytes that every product streams through.
absl::StatusOr<std::unique_ptr<OpKernel>> MakeSparseMatMul(
    const KernelArgs& a) {
  const bool f64 = a.outputs[0].dtype() == DType::kF64;
  if (a.inputs[kRows].dtype() == DType::kI32) {
    if (f64) return std::make_unique<SparseMatMulReference<double, int32_t>>(a);
    return std::make_unique<SparseMatMulReference<float, int32_t>>(a);
  }
  if (f64) return std::make_unique<SparseMatMulReference<double, int64_t>>(a);
  return std::make_unique<SparseMatMulReference<float, int64_t>>(a);
}

// dx: the transpose is the same product with rows and cols swapped.
// dvalues[k] = sum over b of dy[b, rows[k]] * x[b, cols[k]].
absl::Status SparseMatMulGradient(GradContext& g) {
  const std::string& dy = g.output_grad(0);
  if (g.Wants(kX)) {
    const int64_t in = g.shape_of(g.input(kX)).dim(1);
    if (in == kSymbolicDim) {
      g.Fail("the gradient of x needs a known in_features");
      return absl::OkStatus();
    }
    g.SetInputGrad(
        kX, g.Emit("SparseMatMul",
                   {g.input(kCols), g.input(kRows), g.input(kValues), dy},
                   {{"out_features", IntAttr(in)}}));
  }
  if (g.Wants(kValues)) {
    const AttrValue axis1 = IntAttr(1);
    std::string dy_at =
        g.Emit("Gather", {dy, g.input(kRows)}, {{"axis", axis1}});
    std::string x_at =
        g.Emit("Gather", {g.input(kX), g.input(kCols)}, {{"axis", axis1}});
    g.SetInputGrad(kValues, g.Emit("ReduceSum", {g.Emit("Mul", {dy_at, x_at})},
                                   {{"axes", IntListAttr({0})}}));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterSparseOps(OpRegistry& r) {
  r.Add(OpDef("SparseMatMul")
            .Doc("y = x . W^T for a sparse W [out_features, in_features] "
                 "given as entries (rows[k], cols[k], values[k]): y is "
                 "[batch, out_features], zero except y[b, rows[k]] += "
                 "values[k] * x[b, cols[k]] for k in order (rows and cols i32 "
                 "or i64), so entries sorted "
                 "by row sum like a CSR product and repeated positions "
                 "accumulate. An entry outside the matrix is an error naming "
                 "it. Gradient: dx = SparseMatMul(cols, rows, values, dy) "
                 "(W^T), dvalues[k] = sum_b dy[b, rows[k]] * x[b, cols[k]].")
            .TypeVar("I", kIndexTypes)
            .TypeVar("T", kFloatTypes)
            .Input("rows", "I")
            .Input("cols", "I")
            .Input("values", "T")
            .Input("x", "T")
            .Output("y")
            .Attr("out_features", AttrType::kInt)
            .Shape(SparseMatMulShape)
            .Gradient(SparseMatMulGradient)
            .Reference(MakeSparseMatMul)
            .NoOneDnnPrimitive());
}

}  // namespace rill

#include "models/esn_graph.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/validate.h"
#include "models/node_writer.h"

namespace rill {
namespace {

constexpr char kScope[] = "esn";

// The nodes that every step reads.
struct ReservoirNodes {
  std::string w_rows, w_cols, w_values, w_dense, b, keep, leak;
  std::vector<std::string> input_steps;  // W_in u_t, one [1, units] per step.
};

absl::StatusOr<Tensor> F64Tensor(const Shape& shape, const double* data) {
  return FilledTensor(DType::kF64, shape, [&](int64_t i) { return data[i]; });
}

// i32 indices: the product streams fewer bytes (BuildEsnGraph checks that
// units fit).
absl::StatusOr<Tensor> I32Tensor(const std::vector<int64_t>& v) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kI32, Shape{int64_t(v.size())}));
  std::copy(v.begin(), v.end(), t.data<int32_t>());
  return t;
}

// The row of each of W's entries, in CSR order (its `col` and `val` give
// the rest).
std::vector<int64_t> CsrRowOfEachEntry(const CsrMatrix& w) {
  std::vector<int64_t> rows;
  rows.reserve(w.nonzeros());
  for (int64_t i = 0; i < w.rows; ++i) {
    rows.insert(rows.end(), w.row_ptr[i + 1] - w.row_ptr[i], i);
  }
  return rows;
}

ReservoirNodes AddReservoir(const Reservoir& r, int64_t steps,
                            const std::string& u, NodeWriter& w) {
  ReservoirNodes n;
  const CsrMatrix& csr = r.w();
  if (r.uses_dense_product()) {
    const EsnMatrix dense = csr.ToDense();
    n.w_dense = w.Value("w", "Const",
                        F64Tensor(Shape{r.units(), r.units()}, dense.data()));
  } else {
    n.w_rows = w.Value("w_rows", "Const", I32Tensor(CsrRowOfEachEntry(csr)));
    n.w_cols = w.Value("w_cols", "Const", I32Tensor(csr.col));
    n.w_values = w.Value("w_values", "Const",
                         F64Tensor(Shape{csr.nonzeros()}, csr.val.data()));
  }
  std::string w_in =
      w.Value("w_in", "Const",
              F64Tensor(Shape{r.units(), r.inputs()}, r.w_in().data()));
  n.b = w.Value("b", "Const", F64Tensor(Shape{r.units()}, r.b().data()));
  n.keep = w.Scalar("keep", DType::kF64, 1 - r.leak_rate());
  n.leak = w.Scalar("leak", DType::kF64, r.leak_rate());
  Node* node;
  std::string projected = w.Op("input_projection", "MatMul", {u, w_in}, &node);
  (*node->mutable_attr())["transpose_b"] = BoolAttr(true);
  std::string split =
      w.OpI("input_steps", "Split", {projected}, "num_splits", steps);
  for (int64_t t = 0; t < steps; ++t) {
    n.input_steps.push_back(t == 0 ? split : absl::StrCat(split, ":", t));
  }
  return n;
}

// One step: x = keep * x_prev + leak * f((W x_prev + W_in u_t) + b).
std::string AddStep(const Reservoir& r, const ReservoirNodes& n, int64_t t,
                    const std::string& x_prev, NodeWriter& w) {
  const std::string scope = absl::StrCat(kScope, "/t", t);
  Node* node = nullptr;
  std::string recurrent =
      r.uses_dense_product()
          ? w.OpAt(scope, "recurrent", "MatMul", {x_prev, n.w_dense}, &node)
          : w.OpAt(scope, "recurrent", "SparseMatMul",
                   {n.w_rows, n.w_cols, n.w_values, x_prev}, &node);
  std::string pre = w.OpAt(
      scope, "pre", "Add",
      {w.OpAt(scope, "pre_input", "Add", {recurrent, n.input_steps[t]}), n.b});
  const std::string activation = r.activation_name();
  std::string f = pre;
  if (activation == "tanh") f = w.OpAt(scope, "f", "Tanh", {pre});
  if (activation == "relu") f = w.OpAt(scope, "f", "Relu", {pre});
  (*node->mutable_attr())[r.uses_dense_product() ? "transpose_b"
                                                 : "out_features"] =
      r.uses_dense_product() ? BoolAttr(true) : IntAttr(r.units());
  return w.OpAt(scope, "x", "Add",
                {w.OpAt(scope, "kept", "Mul", {x_prev, n.keep}),
                 w.OpAt(scope, "new", "Mul", {f, n.leak})});
}

}  // namespace

std::string EsnStateNode(int64_t t) {
  return absl::StrCat(kScope, "/t", t, "/x");
}

absl::StatusOr<Graph> BuildEsnGraph(const Reservoir& r,
                                    const EsnGraphOptions& o) {
  if (o.steps < 1 || o.steps > OpDef::kMaxVariadicOutputs) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN graph: steps must be in [1, ",
                     OpDef::kMaxVariadicOutputs, "], got ", o.steps));
  }
  if (r.units() > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN graph: ", r.units(), " units do not fit i32"));
  }
  Graph graph;
  const std::string u =
      AddInputNode(&graph, kEsnInputNode, DType::kF64, {o.steps, r.inputs()});
  std::string x =
      AddInputNode(&graph, kEsnStartStateNode, DType::kF64, {1, r.units()});
  NodeWriter w("ESN", kScope);
  const ReservoirNodes n = AddReservoir(r, o.steps, u, w);
  std::vector<std::string> states;
  for (int64_t t = 0; t < o.steps; ++t) {
    x = AddStep(r, n, t, x, w);
    states.push_back(x);
  }
  std::string all = w.Op("states", "Concat", states);
  if (o.readout) {
    const int64_t features = 1 + r.inputs() + r.units();
    const int64_t outputs = o.w_out ? o.w_out->rows() : o.outputs;
    if (o.w_out && o.w_out->cols() != features) {
      return absl::InvalidArgumentError(
          absl::StrCat("ESN graph: W_out has ", o.w_out->cols(),
                       " columns; the model has ", features, " features"));
    }
    std::string ones = w.Value("ones", "Const",
                               FilledTensor(DType::kF64, Shape{o.steps, 1},
                                            [](int64_t) { return 1.0; }));
    Node* concat;
    std::string z = w.Op("features", "Concat", {ones, u, all}, &concat);
    (*concat->mutable_attr())["axis"] = IntAttr(1);
    // Stored transposed, [features, outputs], so y = z . w_out.
    w.Value("w_out", "Parameter",
            FilledTensor(DType::kF64, Shape{features, outputs}, [&](int64_t i) {
              return o.w_out ? (*o.w_out)(i % outputs, i / outputs) : 0.0;
            }));
    RETURN_IF_ERROR(w.Commit(&graph));
    AddInputNode(&graph, kEsnTargetNode, DType::kF64, {o.steps, outputs});
    AddNode(&graph, kEsnOutputNode, "MatMul", {z, kEsnReadoutNode});
    AddNode(&graph, kEsnLossNode, "MeanSquaredError",
            {kEsnOutputNode, kEsnTargetNode});
    return graph;
  }
  RETURN_IF_ERROR(w.Commit(&graph));
  return graph;
}

EsnGraphRunner::EsnGraphRunner(EsnGraphOptions options, int64_t chunk_steps)
    : options_(options), chunk_steps_(chunk_steps) {}

absl::StatusOr<Executor*> EsnGraphRunner::ExecutorFor(const Reservoir& r,
                                                      int64_t steps) {
  auto it = executors_.find(steps);
  if (it != executors_.end()) return it->second.get();
  EsnGraphOptions o = options_;
  o.steps = steps;
  ASSIGN_OR_RETURN(Graph graph, BuildEsnGraph(r, o));
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph(LoadedGraph{
                                         std::move(graph), SourceMap("ESN")}));
  ExecutorOptions eo;
  eo.backend = Backend::kReference;  // f64 throughout: plain loops.
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> e,
                   Executor::Create(std::move(valid), eo));
  // A sequence needs at most two lengths: full chunks and the rest.
  if (executors_.size() >= 4) executors_.clear();
  return (executors_[steps] = std::move(e)).get();
}

absl::Status EsnGraphRunner::Run(const Reservoir& r, const EsnMatrix& u,
                                 EsnVector* x, EsnMatrix* states,
                                 EsnMatrix* y) {
  const int64_t units = r.units(), rows = u.rows();
  if (u.cols() != r.inputs() || x->size() != units) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ESN graph: input [", rows, ", ", u.cols(), "] and state of ",
        x->size(), " values; the reservoir takes ", r.inputs(),
        " inputs and has ", units, " units"));
  }
  states->resize(rows, units);
  if (y != nullptr)
    y->resize(rows, options_.w_out ? options_.w_out->rows() : options_.outputs);
  std::vector<std::string> fetches = {kEsnStatesNode};
  if (y != nullptr) fetches.push_back(kEsnOutputNode);
  for (int64_t start = 0; start < rows; start += chunk_steps_) {
    const int64_t n = std::min(chunk_steps_, rows - start);
    ASSIGN_OR_RETURN(Executor * e, ExecutorFor(r, n));
    ASSIGN_OR_RETURN(Tensor in,
                     F64Tensor(Shape{n, u.cols()}, u.row(start).data()));
    ASSIGN_OR_RETURN(Tensor x0, F64Tensor(Shape{1, units}, x->data()));
    ASSIGN_OR_RETURN(std::vector<Tensor> out,
                     e->RunNoCopy({{kEsnInputNode, std::move(in)},
                                   {kEsnStartStateNode, std::move(x0)}},
                                  fetches));
    std::copy_n(out[0].data<double>(), n * units, states->row(start).data());
    if (y != nullptr) {
      std::copy_n(out[1].data<double>(), out[1].num_elements(),
                  y->row(start).data());
    }
    *x = states->row(start + n - 1).transpose();
  }
  return absl::OkStatus();
}

}  // namespace rill

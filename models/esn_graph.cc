#include "models/esn_graph.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"

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
                            const std::string& u, GraphBuilder& esn) {
  ReservoirNodes n;
  const CsrMatrix& csr = r.w();
  if (r.uses_dense_product()) {
    const EsnMatrix dense = csr.ToDense();
    n.w_dense =
        esn.Const("w", F64Tensor(Shape{r.units(), r.units()}, dense.data()));
  } else {
    n.w_rows = esn.Const("w_rows", I32Tensor(CsrRowOfEachEntry(csr)));
    n.w_cols = esn.Const("w_cols", I32Tensor(csr.col));
    n.w_values =
        esn.Const("w_values", F64Tensor(Shape{csr.nonzeros()}, csr.val.data()));
  }
  std::string w_in = esn.Const(
      "w_in", F64Tensor(Shape{r.units(), r.inputs()}, r.w_in().data()));
  n.b = esn.Const("b", F64Tensor(Shape{r.units()}, r.b().data()));
  n.keep = esn.Scalar("keep", DType::kF64, 1 - r.leak_rate());
  n.leak = esn.Scalar("leak", DType::kF64, r.leak_rate());
  n.input_steps = esn.Split("input_steps",
                            esn.Linear("input_projection", u, w_in, ""), steps);
  return n;
}

// One step: x = keep * x_prev + leak * f((W x_prev + W_in u_t) + b).
std::string AddStep(const Reservoir& r, const ReservoirNodes& n,
                    const std::string& input, const std::string& x_prev,
                    GraphBuilder& s) {
  std::string recurrent = r.uses_dense_product()
                              ? s.Linear("recurrent", x_prev, n.w_dense, "")
                              : s.Op("recurrent", "SparseMatMul",
                                     {n.w_rows, n.w_cols, n.w_values, x_prev})
                                    .AttrInt("out_features", r.units());
  std::string pre =
      s.Op("pre", "Add", {s.Op("pre_input", "Add", {recurrent, input}), n.b});
  const std::string activation = r.activation_name();
  std::string f = pre;
  if (activation == "tanh") f = s.Op("f", "Tanh", {pre});
  if (activation == "relu") f = s.Op("f", "Relu", {pre});
  return s.Op(
      "x", "Add",
      {s.Op("kept", "Mul", {x_prev, n.keep}), s.Op("new", "Mul", {f, n.leak})});
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
  const int64_t features = 1 + r.inputs() + r.units();
  const int64_t outputs = o.w_out ? o.w_out->rows() : o.outputs;
  if (o.readout && o.w_out && o.w_out->cols() != features) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN graph: W_out has ", o.w_out->cols(),
                     " columns; the model has ", features, " features"));
  }
  GraphBuilder b("ESN", "");
  GraphBuilder esn = b.Scope(kScope);
  const std::string u =
      b.Input(kEsnInputNode, DType::kF64, {o.steps, r.inputs()});
  std::string x = b.Input(kEsnStartStateNode, DType::kF64, {1, r.units()});
  const ReservoirNodes n = AddReservoir(r, o.steps, u, esn);
  std::vector<std::string> states;
  for (int64_t t = 0; t < o.steps; ++t) {
    GraphBuilder s = esn.Scope(absl::StrCat("t", t));
    x = AddStep(r, n, n.input_steps[t], x, s);
    states.push_back(x);
  }
  std::string all = esn.Op("states", "Concat", states);
  if (o.readout) {
    // Stored transposed, [features, outputs]: rows for the bias, the
    // inputs and the states. y = (u . W_u + w_b) + states . W_x, the sums
    // the ESN's readout made before its graph, so that closed-loop outputs,
    // fed back step after step, stay the same too.
    std::string w_out = esn.Parameter(
        "w_out",
        FilledTensor(DType::kF64, Shape{features, outputs}, [&](int64_t i) {
          return o.w_out ? (*o.w_out)(i % outputs, i / outputs) : 0.0;
        }));
    auto rows = [&](const std::string& name, int64_t start, int64_t end) {
      return esn.Op(name, "Slice", {w_out})
          .AttrInts("start", {start})
          .AttrInts("end", {end})
          .AttrInts("axes", {0});
    };
    const int64_t in = r.inputs();
    std::string from_inputs =
        esn.Op("readout_inputs", "Add",
               {esn.Op("readout_u", "MatMul", {u, rows("w_out_u", 1, 1 + in)}),
                rows("w_out_bias", 0, 1)});
    std::string from_states =
        esn.Op("readout_x", "MatMul", {all, rows("w_out_x", 1 + in, features)});
    std::string target =
        b.Input(kEsnTargetNode, DType::kF64, {o.steps, outputs});
    std::string y = b.Op(kEsnOutputNode, "Add", {from_inputs, from_states});
    b.Op(kEsnLossNode, "MeanSquaredError", {y, target});
  }
  Graph graph;
  RETURN_IF_ERROR(b.Commit(&graph));
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

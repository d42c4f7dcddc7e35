// The recurrent layer builders against PyTorch (torch.nn.LSTM, GRU, RNN) and
// a NumPy reference of the seed GRU, on outputs, final states and the
// gradients of every weight, the input and the initial states; and float64
// gradient checks of each builder. Goldens: make_rnn_goldens.py.

#include "models/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"

namespace rill {
namespace {

constexpr int64_t kT = 4, kB = 3, kI = 5, kH = 4;  // As in the script.

struct Case {
  const char* name;  // The golden file infix.
  RecurrentCell cell;
};
const Case kCases[] = {{"lstm", RecurrentCell::kLstm},
                       {"gru_pytorch", RecurrentCell::kGruPyTorch},
                       {"gru_seed", RecurrentCell::kGru},
                       {"rnn_tanh", RecurrentCell::kRnnTanh},
                       {"rnn_relu", RecurrentCell::kRnnRelu}};

Tensor Golden(const std::string& c, const std::string& name) {
  auto t =
      ReadNpy(absl::StrCat("tests/models/testdata/rnn_", c, "_", name, ".npy"),
              1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

Node* FindNode(Graph* g, const std::string& name) {
  for (Node& n : *g->mutable_node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

void AddInput(Graph* g, const std::string& name,
              const std::vector<int64_t>& dims, DType dtype = DType::kF64) {
  Node* n = g->add_node();
  n->set_name(name);
  n->set_op("Input");
  (*n->mutable_attr())["dtype"].set_type(DTypeToProto(dtype));
  for (int64_t d : dims) {
    (*n->mutable_attr())["shape"].mutable_shape()->add_dim(d);
  }
}

void AddOp(Graph* g, const std::string& name, const std::string& op,
           const std::vector<std::string>& inputs) {
  Node* n = g->add_node();
  n->set_name(name);
  n->set_op(op);
  for (const std::string& i : inputs) n->add_input(i);
}

// x [T, ?, I] (batch symbolic) -> layer "rnn" (initial states fed) ->
// loss = sum(output * r).
struct Model {
  Graph graph;
  RecurrentLayer layer;
};
Model BuildModel(RecurrentCell cell,
                 InitialState initial = InitialState::kInput,
                 DType dtype = DType::kF64) {
  Model m;
  AddInput(&m.graph, "x", {kT, -1, kI}, dtype);
  AddInput(&m.graph, "r", {kT, -1, kH}, dtype);
  RecurrentLayerOptions o;
  o.cell = cell;
  o.prefix = "rnn";
  o.steps = kT;
  o.input_size = kI;
  o.hidden_size = kH;
  o.dtype = dtype;
  o.initial_state = initial;
  o.seed = 7;
  auto layer = AddRecurrentLayer("x", o, &m.graph);
  EXPECT_TRUE(layer.ok()) << layer.status();
  if (layer.ok()) m.layer = *layer;
  AddOp(&m.graph, "weighted", "Mul", {m.layer.output, "r"});
  AddOp(&m.graph, "loss", "ReduceSum", {"weighted"});
  return m;
}

const char* const kWeights[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

// Sets every Parameter of the layer to the case's golden weights.
void LoadWeights(const std::string& c, Graph* g, DType dtype) {
  for (const char* w : kWeights) {
    Node* n = FindNode(g, absl::StrCat("rnn/", w));
    ASSERT_NE(n, nullptr) << w;
    *(*n->mutable_attr())["value"].mutable_tensor() =
        TensorToProto(ConvertFloat(Golden(c, w), dtype));
  }
}

// The largest |got - want| over a tensor; shapes must match.
double MaxError(const Tensor& got, const Tensor& want,
                const std::string& what) {
  EXPECT_EQ(got.shape(), want.shape()) << what;
  if (got.shape() != want.shape()) return INFINITY;
  double err = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    err = std::max(err,
                   std::abs(got.ElementAsDouble(i) - want.ElementAsDouble(i)));
  }
  return err;
}

// Runs the case's model with its gradient graph on `backend` in `dtype` and
// checks outputs, final states and gradients against the goldens: the
// largest absolute error below `tolerance`.
void CheckAgainstGoldens(const Case& cs, DType dtype, Backend backend,
                         double tolerance) {
  const std::string c = cs.name;
  const bool lstm = cs.cell == RecurrentCell::kLstm;
  Model m = BuildModel(cs.cell, InitialState::kInput, dtype);
  LoadWeights(c, &m.graph, dtype);

  auto valid = ValidateGraph({m.graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = m.layer.state_inputs;
  request.wrt.insert(request.wrt.begin(), "x");
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  ASSERT_TRUE(grad.ok()) << grad.status();
  auto ex = Executor::Create(std::move(grad->graph), {backend});
  ASSERT_TRUE(ex.ok()) << ex.status();

  std::map<std::string, Tensor> feeds = {{"x", Golden(c, "x")},
                                         {"r", Golden(c, "r")},
                                         {"rnn/h0", Golden(c, "h0")}};
  // Fetch the outputs, then the gradients, and name each golden.
  std::vector<std::string> fetches = {m.layer.output, m.layer.final_h};
  std::vector<std::string> goldens = {"output", "hn"};
  if (lstm) {
    feeds["rnn/c0"] = Golden(c, "c0");
    fetches.push_back(m.layer.final_c);
    goldens.push_back("cn");
  }
  for (size_t k = 0; k < grad->wrt.size(); ++k) {
    fetches.push_back(grad->gradients[k]);
    std::string wrt = grad->wrt[k];
    goldens.push_back("d_" + wrt.substr(wrt.find('/') + 1));
  }
  // x, h0 (c0), then the four weights.
  ASSERT_EQ(grad->wrt.size(), lstm ? 7u : 6u);

  for (auto& [name, t] : feeds) t = ConvertFloat(t, dtype);
  auto got = (*ex)->Run(feeds, fetches);
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t k = 0; k < fetches.size(); ++k) {
    double err = MaxError((*got)[k], Golden(c, goldens[k]), goldens[k]);
    EXPECT_LT(err, tolerance) << c << " " << goldens[k];
    std::printf("%-12s %s %-9s %-12s max abs error %.3g\n", c.c_str(),
                DTypeName(dtype), BackendName(backend), goldens[k].c_str(),
                err);
  }
}

class Goldens : public testing::TestWithParam<Case> {};

TEST_P(Goldens, Float64Reference) {
  CheckAgainstGoldens(GetParam(), DType::kF64, Backend::kReference, 1e-5);
}

// f32 on oneDNN (fused MatMul + bias): the errors seen are at most 1e-6,
// f32 rounding grown by the recurrence and by gradients of size up to ~10.
TEST_P(Goldens, Float32OneDnn) {
  CheckAgainstGoldens(GetParam(), DType::kF32, Backend::kOneDnn, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Rnn, Goldens, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// Turns each Parameter into an Input of its shape, fed with its value: the
// gradient checker differentiates with respect to Inputs.
std::map<std::string, Tensor> ParametersToInputs(Graph* g) {
  std::map<std::string, Tensor> values;
  for (Node& n : *g->mutable_node()) {
    if (n.op() != "Parameter") continue;
    auto t = TensorFromProto(n.attr().at("value").tensor(), 1 << 20);
    EXPECT_TRUE(t.ok()) << t.status();
    values[n.name()] = *t;
    n.set_op("Input");
    n.mutable_attr()->clear();
    (*n.mutable_attr())["dtype"].set_type(DT_DOUBLE);
    for (int64_t d : t->shape().dims()) {
      (*n.mutable_attr())["shape"].mutable_shape()->add_dim(d);
    }
  }
  return values;
}

class GradCheck : public testing::TestWithParam<Case> {};

TEST_P(GradCheck, WholeLayerInFloat64) {
  const std::string c = GetParam().name;
  Model m = BuildModel(GetParam().cell);
  std::map<std::string, Tensor> feeds = ParametersToInputs(&m.graph);
  std::vector<std::string> wrt = {"x", "rnn/h0"};
  feeds["x"] = Golden(c, "x");
  feeds["r"] = Golden(c, "r");
  feeds["rnn/h0"] = Golden(c, "h0");
  if (GetParam().cell == RecurrentCell::kLstm) {
    feeds["rnn/c0"] = Golden(c, "c0");
    wrt.push_back("rnn/c0");
  }
  for (const std::string& p : m.layer.parameters) wrt.push_back(p);
  auto check = CheckGradients(m.graph, "loss", wrt, feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf("%-12s max relative error %.3g against numerical derivatives\n",
              c.c_str(), check->max_error);
}

INSTANTIATE_TEST_SUITE_P(Rnn, GradCheck, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// Zero initial states give what feeding zeros gives, for every cell.
TEST(RecurrentLayer, ZeroInitialStateEqualsFedZeros) {
  for (const Case& c : kCases) {
    Model zeros = BuildModel(c.cell, InitialState::kZeros);
    Model fed = BuildModel(c.cell, InitialState::kInput);
    EXPECT_TRUE(zeros.layer.state_inputs.empty());
    Tensor h0 = *Tensor::Allocate(DType::kF64, {kB, kH});
    std::vector<Tensor> out[2];
    int k = 0;
    for (Model* m : {&zeros, &fed}) {
      std::map<std::string, Tensor> feeds = {{"x", Golden(c.name, "x")}};
      for (const std::string& s : m->layer.state_inputs) feeds[s] = h0;
      auto valid = ValidateGraph({m->graph, {}});
      ASSERT_TRUE(valid.ok()) << valid.status();
      auto ex = Executor::Create(std::move(*valid), {Backend::kReference});
      ASSERT_TRUE(ex.ok()) << ex.status();
      auto got = (*ex)->Run(feeds, {m->layer.output});
      ASSERT_TRUE(got.ok()) << c.name << ": " << got.status();
      out[k++] = *got;
    }
    EXPECT_EQ(MaxError(out[0][0], out[1][0], c.name), 0) << c.name;
  }
}

// Nodes are named <prefix>/..., steps <prefix>/t<k>/..., and the input
// projection is a single MatMul over all steps.
TEST(RecurrentLayer, NamesAndOneInputProjection) {
  Model m = BuildModel(RecurrentCell::kLstm);
  int reading_x = 0;
  for (const Node& n : m.graph.node()) {
    if (n.op() == "MatMul" && n.input(1) == "rnn/weight_ih") ++reading_x;
  }
  EXPECT_EQ(reading_x, 1);
  EXPECT_NE(FindNode(&m.graph, "rnn/t3/c"), nullptr);
  EXPECT_EQ(m.layer.final_h, "rnn/t3/h");
  EXPECT_EQ(m.layer.final_c, "rnn/t3/c");
  EXPECT_EQ(m.layer.output, "rnn/output");
  EXPECT_EQ(m.layer.step_outputs.size(), 4u);
  EXPECT_EQ(GateCount(RecurrentCell::kLstm), 4);
  auto w = TensorFromProto(
      FindNode(&m.graph, "rnn/weight_ih")->attr().at("value").tensor(),
      1 << 20);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->shape(), Shape({4 * kH, kI}));
  for (int64_t i = 0; i < w->num_elements(); ++i) {
    EXPECT_LE(std::abs(w->ElementAsDouble(i)), 1 / std::sqrt(double(kH)));
  }
}

TEST(RecurrentLayer, BadOptionsNameTheFieldAndLeaveTheGraphAlone) {
  Graph g;
  AddInput(&g, "x", {kT, -1, kI});
  RecurrentLayerOptions o;
  o.prefix = "rnn";
  o.steps = kT;
  o.input_size = kI;
  o.hidden_size = kH;
  struct Bad {
    void (*edit)(RecurrentLayerOptions*);
    const char* message;
  };
  const Bad bad[] = {
      {[](RecurrentLayerOptions* o) { o->prefix = "9rnn"; }, "prefix '9rnn'"},
      {[](RecurrentLayerOptions* o) { o->steps = 0; }, "rnn: steps 0 < 1"},
      {[](RecurrentLayerOptions* o) { o->input_size = -1; }, "input_size -1"},
      {[](RecurrentLayerOptions* o) { o->hidden_size = 0; }, "hidden_size 0"},
      {[](RecurrentLayerOptions* o) { o->dtype = DType::kI32; }, "dtype"},
  };
  for (const Bad& b : bad) {
    RecurrentLayerOptions edited = o;
    b.edit(&edited);
    auto layer = AddRecurrentLayer("x", edited, &g);
    ASSERT_FALSE(layer.ok());
    EXPECT_NE(layer.status().message().find(b.message), std::string::npos)
        << layer.status();
    EXPECT_EQ(g.node_size(), 1);
  }
  ASSERT_TRUE(AddRecurrentLayer("x", o, &g).ok());
  const int size = g.node_size();
  auto again = AddRecurrentLayer("x", o, &g);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already has a node 'rnn/"),
            std::string::npos)
      << again.status();
  EXPECT_EQ(g.node_size(), size);
}

}  // namespace
}  // namespace rill

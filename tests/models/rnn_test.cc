// The recurrent layer builders against PyTorch (torch.nn.LSTM, GRU, RNN) and
// a NumPy reference of the seed GRU, on outputs, final states and the
// gradients of every weight, the input and the initial states; and float64
// gradient checks of each builder. Goldens:
// tools/rnn_goldens/make_rnn_goldens.py.

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
#include "tests/models/model_test_util.h"

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
  auto t = ReadNpy(
      absl::StrCat("tools/rnn_goldens/testdata/rnn_", c, "_", name, ".npy"),
      1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
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
  AddNode(&m.graph, "weighted", "Mul", {m.layer.output, "r"});
  AddNode(&m.graph, "loss", "ReduceSum", {"weighted"});
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

// ---- Bidirectional, stacked and variable-length layers ----

// "rnn/l1/weight_ih_reverse" -> PyTorch's "weight_ih_l1_reverse" (and so
// for the state inputs: "rnn/l0/h0" -> "h0_l0"), the goldens' names.
std::string TorchName(const std::string& node) {
  const size_t a = node.find("/l");
  const size_t b = node.find('/', a + 1);
  const std::string layer = node.substr(a + 1, b - a - 1);
  std::string base = node.substr(b + 1);
  const std::string rev = "_reverse";
  const bool reverse =
      base.size() > rev.size() &&
      base.compare(base.size() - rev.size(), rev.size(), rev) == 0;
  if (reverse) base.resize(base.size() - rev.size());
  return absl::StrCat(base, "_", layer, reverse ? rev : "");
}

// The lengths golden (saved as float64) as an i64 tensor.
Tensor Lengths(const std::string& c) {
  Tensor f = Golden(c, "lengths");
  Tensor t = *Tensor::Allocate(DType::kI64, f.shape());
  for (int64_t i = 0; i < f.num_elements(); ++i) {
    t.data<int64_t>()[i] = static_cast<int64_t>(f.ElementAsDouble(i));
  }
  return t;
}

struct StackModel {
  Graph graph;
  RecurrentStack stack;
};

// x [T, ?, I], optional lengths [?] -> a bidirectional stack "rnn" (states
// fed) -> loss = sum(output * r).
StackModel BuildStack(RecurrentCell cell, int64_t layers, bool varlen,
                      DType dtype = DType::kF64) {
  StackModel m;
  AddInput(&m.graph, "x", {kT, -1, kI}, dtype);
  AddInput(&m.graph, "r", {kT, -1, 2 * kH}, dtype);
  RecurrentStackOptions o;
  o.layer.cell = cell;
  o.layer.prefix = "rnn";
  o.layer.steps = kT;
  o.layer.input_size = kI;
  o.layer.hidden_size = kH;
  o.layer.dtype = dtype;
  o.layer.initial_state = InitialState::kInput;
  o.layer.bidirectional = true;
  o.layer.seed = 3;
  if (varlen) {
    AddInput(&m.graph, "lengths", {-1}, DType::kI64);
    o.layer.sequence_lengths = "lengths";
  }
  o.num_layers = layers;
  auto stack = AddRecurrentStack("x", o, &m.graph);
  EXPECT_TRUE(stack.ok()) << stack.status();
  if (stack.ok()) m.stack = *stack;
  AddNode(&m.graph, "weighted", "Mul", {m.stack.output, "r"});
  AddNode(&m.graph, "loss", "ReduceSum", {"weighted"});
  return m;
}

struct StackCase {
  const char* name;  // The golden file infix.
  int64_t layers;
  bool varlen;
};
const StackCase kStackCases[] = {{"lstm_bi2", 2, false},
                                 {"lstm_bi_varlen", 1, true}};

// As CheckAgainstGoldens, for a bidirectional LSTM stack against
// torch.nn.LSTM (packed sequences for the variable-length case).
void CheckStackAgainstGoldens(const StackCase& cs, DType dtype, Backend backend,
                              double tolerance) {
  const std::string c = cs.name;
  StackModel m = BuildStack(RecurrentCell::kLstm, cs.layers, cs.varlen, dtype);
  std::vector<std::string> states;
  for (const RecurrentLayer& l : m.stack.layers) {
    for (const std::string& p : l.parameters) {
      Node* n = FindNode(&m.graph, p);
      ASSERT_NE(n, nullptr) << p;
      *(*n->mutable_attr())["value"].mutable_tensor() =
          TensorToProto(ConvertFloat(Golden(c, TorchName(p)), dtype));
    }
    states.insert(states.end(), l.state_inputs.begin(), l.state_inputs.end());
  }
  auto valid = ValidateGraph({m.graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = states;
  request.wrt.insert(request.wrt.begin(), "x");
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  ASSERT_TRUE(grad.ok()) << grad.status();
  auto ex = Executor::Create(std::move(grad->graph), {backend});
  ASSERT_TRUE(ex.ok()) << ex.status();

  std::map<std::string, Tensor> feeds = {{"x", Golden(c, "x")},
                                         {"r", Golden(c, "r")}};
  for (const std::string& s : states) feeds[s] = Golden(c, TorchName(s));
  for (auto& [name, t] : feeds) t = ConvertFloat(t, dtype);
  if (cs.varlen) feeds["lengths"] = Lengths(c);

  std::vector<std::string> fetches = {m.stack.output};
  std::vector<std::string> goldens = {"output"};
  for (int64_t k = 0; k < cs.layers; ++k) {
    const RecurrentLayer& l = m.stack.layers[k];
    const std::pair<std::string, std::string> finals[] = {
        {l.final_h, "hn"},
        {l.final_c, "cn"},
        {l.final_h_reverse, "hn_reverse"},
        {l.final_c_reverse, "cn_reverse"}};
    for (const auto& [node, name] : finals) {
      fetches.push_back(node);
      // "hn_reverse" -> "hn_l<k>_reverse".
      goldens.push_back(
          absl::StrCat(name.substr(0, 2), "_l", k, name.substr(2)));
    }
  }
  for (size_t k = 0; k < grad->wrt.size(); ++k) {
    fetches.push_back(grad->gradients[k]);
    goldens.push_back(grad->wrt[k] == "x" ? "d_x"
                                          : "d_" + TorchName(grad->wrt[k]));
  }
  // x, h0 and c0 of each direction of each layer, and 8 weights per layer.
  ASSERT_EQ(grad->wrt.size(), 1 + 12 * cs.layers);

  auto got = (*ex)->Run(feeds, fetches);
  ASSERT_TRUE(got.ok()) << got.status();
  double worst = 0;
  std::string worst_name;
  for (size_t k = 0; k < fetches.size(); ++k) {
    double err = MaxError((*got)[k], Golden(c, goldens[k]), goldens[k]);
    EXPECT_LT(err, tolerance) << c << " " << goldens[k];
    if (err >= worst) worst = err, worst_name = goldens[k];
  }
  std::printf("%-15s %s %-9s %zu tensors checked, max abs error %.3g (%s)\n",
              c.c_str(), DTypeName(dtype), BackendName(backend), fetches.size(),
              worst, worst_name.c_str());
}

class StackGoldens : public testing::TestWithParam<StackCase> {};

TEST_P(StackGoldens, Float64Reference) {
  CheckStackAgainstGoldens(GetParam(), DType::kF64, Backend::kReference, 1e-5);
}

TEST_P(StackGoldens, Float32OneDnn) {
  CheckStackAgainstGoldens(GetParam(), DType::kF32, Backend::kOneDnn, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Rnn, StackGoldens, testing::ValuesIn(kStackCases),
                         [](const testing::TestParamInfo<StackCase>& info) {
                           return std::string(info.param.name);
                         });

// The whole block, a 2-layer bidirectional seed GRU over a variable-length
// batch (lengths 4, 1, 3), against numerical derivatives.
TEST(RecurrentStack, BidirectionalVariableLengthGruGradCheck) {
  StackModel m = BuildStack(RecurrentCell::kGru, 2, /*varlen=*/true);
  std::map<std::string, Tensor> feeds = ParametersToInputs(&m.graph);
  std::vector<std::string> wrt = {"x"};
  for (const auto& [name, t] : feeds) wrt.push_back(name);
  const std::string c = "lstm_bi2";  // Any [B, H] states and x, r will do.
  feeds["x"] = Golden("lstm_bi_varlen", "x");
  feeds["r"] = Golden("lstm_bi_varlen", "r");
  feeds["lengths"] = Lengths("lstm_bi_varlen");
  for (const RecurrentLayer& l : m.stack.layers) {
    for (const std::string& s : l.state_inputs) {
      feeds[s] = Golden(c, TorchName(s));
      wrt.push_back(s);
    }
  }
  ASSERT_EQ(wrt.size(), 1u + 16 + 4);
  auto check = CheckGradients(m.graph, "loss", wrt, feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf(
      "bi varlen gru  max relative error %.3g against numerical "
      "derivatives\n",
      check->max_error);
}

// Sum merging gives the sum of concat's two halves, with the same weights.
TEST(RecurrentStack, SumMergeIsTheSumOfTheConcatHalves) {
  Graph g;
  AddInput(&g, "x", {kT, -1, kI});
  RecurrentLayerOptions o;
  o.prefix = "cat";
  o.steps = kT;
  o.input_size = kI;
  o.hidden_size = kH;
  o.dtype = DType::kF64;
  o.bidirectional = true;
  auto cat = AddRecurrentLayer("x", o, &g);
  ASSERT_TRUE(cat.ok()) << cat.status();
  o.prefix = "sum";
  o.merge = RecurrentMerge::kSum;
  auto sum = AddRecurrentLayer("x", o, &g);  // Same seed: same weights.
  ASSERT_TRUE(sum.ok()) << sum.status();
  auto valid = ValidateGraph({g, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(std::move(*valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto got =
      (*ex)->Run({{"x", Golden("lstm_bi2", "x")}}, {cat->output, sum->output});
  ASSERT_TRUE(got.ok()) << got.status();
  const Tensor& c = (*got)[0];
  const Tensor& s = (*got)[1];
  ASSERT_EQ(c.shape(), Shape({kT, kB, 2 * kH}));
  ASSERT_EQ(s.shape(), Shape({kT, kB, kH}));
  for (int64_t i = 0; i < s.num_elements(); ++i) {
    const int64_t row = i / kH, col = i % kH;
    const double want = c.ElementAsDouble(row * 2 * kH + col) +
                        c.ElementAsDouble(row * 2 * kH + kH + col);
    EXPECT_EQ(s.ElementAsDouble(i), want) << i;
  }
}

// A layer given existing weights (RecurrentLayerOptions::weights) makes no
// Parameters and computes what the layer owning them computes; a reverse
// layer given a bidirectional layer's _reverse weights is its reverse half,
// over a variable-length batch.
TEST(RecurrentLayer, GivenWeightsAndReverseLayer) {
  Graph g;
  AddInput(&g, "x", {kT, -1, kI});
  AddInput(&g, "lengths", {-1}, DType::kI64);
  RecurrentLayerOptions o;
  o.cell = RecurrentCell::kLstm;
  o.prefix = "own";
  o.steps = kT;
  o.input_size = kI;
  o.hidden_size = kH;
  o.dtype = DType::kF64;
  o.bidirectional = true;
  o.sequence_lengths = "lengths";
  o.seed = 5;
  auto own = AddRecurrentLayer("x", o, &g);
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_EQ(own->parameters.size(), 8u);
  auto count_parameters = [&] {
    int n = 0;
    for (const Node& node : g.node()) n += node.op() == "Parameter";
    return n;
  };
  o.prefix = "given";
  o.weights = own->parameters;
  auto given = AddRecurrentLayer("x", o, &g);
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->parameters, own->parameters);
  o.prefix = "reverse";
  o.bidirectional = false;
  o.reverse = true;
  o.weights.assign(own->parameters.begin() + 4, own->parameters.end());
  auto reverse = AddRecurrentLayer("x", o, &g);
  ASSERT_TRUE(reverse.ok()) << reverse.status();
  EXPECT_EQ(count_parameters(), 8);
  auto valid = ValidateGraph({g, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(std::move(*valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto got = (*ex)->Run({{"x", Golden("lstm_bi_varlen", "x")},
                         {"lengths", Lengths("lstm_bi_varlen")}},
                        {own->output, given->output, reverse->output,
                         own->final_h_reverse, reverse->final_h});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(MaxError((*got)[1], (*got)[0], "given"), 0);
  EXPECT_EQ(MaxError((*got)[4], (*got)[3], "reverse final h"), 0);
  const Tensor& both = (*got)[0];
  const Tensor& rev = (*got)[2];
  ASSERT_EQ(rev.shape(), Shape({kT, kB, kH}));
  double nonzero = 0;
  for (int64_t i = 0; i < rev.num_elements(); ++i) {
    const int64_t row = i / kH, col = i % kH;
    EXPECT_EQ(rev.ElementAsDouble(i),
              both.ElementAsDouble(row * 2 * kH + kH + col))
        << i;
    nonzero = std::max(nonzero, std::abs(rev.ElementAsDouble(i)));
  }
  EXPECT_GT(nonzero, 0.01);
  // Bad: a reverse bidirectional layer, a wrong count of weights.
  o.prefix = "bad";
  o.bidirectional = true;
  auto bad = AddRecurrentLayer("x", o, &g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad: reverse is for a "
                                        "unidirectional layer"),
            std::string::npos)
      << bad.status();
  o.reverse = false;
  bad = AddRecurrentLayer("x", o, &g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "bad: weights holds 4 references, expected 8"),
            std::string::npos)
      << bad.status();
}

TEST(RecurrentStack, DropoutBetweenLayersOnlyWhenAsked) {
  for (double rate : {0.0, 0.25}) {
    Graph g;
    AddInput(&g, "x", {kT, -1, kI});
    RecurrentStackOptions o;
    o.layer.prefix = "rnn";
    o.layer.steps = kT;
    o.layer.input_size = kI;
    o.layer.hidden_size = kH;
    o.layer.dtype = DType::kF64;  // As x.
    o.num_layers = 3;
    o.dropout = rate;
    auto stack = AddRecurrentStack("x", o, &g);
    ASSERT_TRUE(stack.ok()) << stack.status();
    int dropouts = 0;
    for (const Node& n : g.node()) dropouts += n.op() == "Dropout";
    EXPECT_EQ(dropouts, rate > 0 ? 2 : 0);
    auto valid = ValidateGraph({g, {}});
    EXPECT_TRUE(valid.ok()) << valid.status();
    EXPECT_EQ(stack->output, "rnn/l2/output");
  }
}

TEST(RecurrentStack, BadOptionsNameTheFieldAndLeaveTheGraphAlone) {
  Graph g;
  AddInput(&g, "x", {kT, -1, kI});
  RecurrentStackOptions o;
  o.layer.prefix = "rnn";
  o.layer.steps = kT;
  o.layer.input_size = kI;
  o.layer.hidden_size = kH;
  struct Bad {
    void (*edit)(RecurrentStackOptions*);
    const char* message;
  };
  const Bad bad[] = {
      {[](RecurrentStackOptions* o) { o->num_layers = 0; },
       "rnn: num_layers 0 < 1"},
      {[](RecurrentStackOptions* o) { o->dropout = 1; },
       "rnn: dropout 1 not in [0, 1)"},
      {[](RecurrentStackOptions* o) {
         o->layer.merge = static_cast<RecurrentMerge>(7);
       },
       "rnn: merge must be concat or sum"},
      {[](RecurrentStackOptions* o) { o->layer.hidden_size = 0; },
       "hidden_size 0"},
  };
  for (const Bad& b : bad) {
    RecurrentStackOptions edited = o;
    b.edit(&edited);
    auto stack = AddRecurrentStack("x", edited, &g);
    ASSERT_FALSE(stack.ok());
    EXPECT_NE(stack.status().message().find(b.message), std::string::npos)
        << stack.status();
    EXPECT_EQ(g.node_size(), 1);
  }
  // A clash in the second layer adds nothing of the first.
  AddInput(&g, "rnn/l1/weight_ih_reverse", {1});
  o.num_layers = 2;
  o.layer.bidirectional = true;
  auto clash = AddRecurrentStack("x", o, &g);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("'rnn/l1/weight_ih_reverse'"),
            std::string::npos)
      << clash.status();
  EXPECT_EQ(g.node_size(), 2);
}

}  // namespace
}  // namespace rill

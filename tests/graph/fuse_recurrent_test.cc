// The recurrent fusion pass: stacks built by models/rnn.h, run fused
// (RecurrentLayer and RecurrentLayerGrad) and unrolled, give the same loss
// and the same gradient of every parameter, for every cell, zero or fed
// initial states, in f64 on the reference backend and f32 on oneDNN.
// Bidirectional layers run a fused node per direction; variable-length
// layers are left unrolled (the fallback); a middle step's output is read
// through a Gather. The pass recognises the unrolled layers themselves, so
// a hand-written layer fuses too, and built graphs carry no fused twins.

#include "graph/fuse_recurrent.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "models/rnn.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

constexpr int64_t kT = 5, kB = 3, kI = 4, kH = 6;

Tensor Filled(DType dtype, const Shape& shape, double scale, double phase) {
  Tensor t = *Tensor::Allocate(DType::kF64, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.data<double>()[i] = scale * std::sin(0.7 * i + phase);
  }
  return ConvertFloat(t, dtype);
}

struct Model {
  Graph graph;
  RecurrentStack stack;
  std::map<std::string, Tensor> feeds;
};

// x [T, B, I] -> a 2-layer stack -> loss = sum(output * r) + sum(final h of
// the last layer) + sum(step 2's output of layer 0): the output sequence,
// a final state and a middle step all reach the loss.
Model Build(const RecurrentLayerOptions& layer, DType dtype) {
  Model m;
  if (!layer.sequence_lengths.empty()) {
    AddInput(&m.graph, layer.sequence_lengths, {-1}, DType::kI64);
  }
  AddInput(&m.graph, "x", {-1, kT, kI}, dtype);
  AddNode(&m.graph, "xt", "Transpose", {"x"});
  Node* transpose = m.graph.mutable_node(m.graph.node_size() - 1);
  for (int64_t axis : {1, 0, 2}) {
    (*transpose->mutable_attr())["perm"].mutable_list()->add_i(axis);
  }
  RecurrentStackOptions s;
  s.layer = layer;
  s.layer.prefix = "rnn";
  s.layer.steps = kT;
  s.layer.input_size = kI;
  s.layer.hidden_size = kH;
  s.layer.dtype = dtype;
  s.layer.seed = 3;
  s.num_layers = 2;
  auto stack = AddRecurrentStack("xt", s, &m.graph);
  EXPECT_TRUE(stack.ok()) << stack.status();
  m.stack = *stack;
  const int64_t f =
      layer.bidirectional && layer.merge == RecurrentMerge::kConcat ? 2 * kH
                                                                    : kH;
  AddInput(&m.graph, "r", {kT, -1, f}, dtype);
  AddNode(&m.graph, "weighted", "Mul", {m.stack.output, "r"});
  AddNode(&m.graph, "a", "ReduceSum", {"weighted"});
  AddNode(&m.graph, "b", "ReduceSum", {m.stack.layers[1].final_h});
  AddNode(&m.graph, "c", "ReduceSum", {m.stack.layers[0].step_outputs[2]});
  AddNode(&m.graph, "ab", "Add", {"a", "b"});
  AddNode(&m.graph, "loss", "Add", {"ab", "c"});
  m.feeds["x"] = Filled(dtype, Shape{kB, kT, kI}, 1.0, 0.1);
  m.feeds["r"] = Filled(dtype, Shape{kT, kB, f}, 0.5, 0.7);
  for (const RecurrentLayer& l : m.stack.layers) {
    for (size_t k = 0; k < l.state_inputs.size(); ++k) {
      m.feeds[l.state_inputs[k]] =
          Filled(dtype, Shape{kB, kH}, 0.3, 1.3 + static_cast<double>(k));
    }
  }
  if (!layer.sequence_lengths.empty()) {
    Tensor lengths = *Tensor::Allocate(DType::kI64, Shape{kB});
    for (int64_t b = 0; b < kB; ++b) lengths.data<int64_t>()[b] = kT - b;
    m.feeds[layer.sequence_lengths] = lengths;
  }
  return m;
}

// The feeds scaled by 0.5, for a run that comes before the measured one.
std::map<std::string, Tensor> HalvedFeeds(const Model& m) {
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, t] : m.feeds) {
    Tensor half = ConvertFloat(t, DType::kF64);
    for (int64_t i = 0; i < half.num_elements(); ++i) {
      half.data<double>()[i] *= 0.5;
    }
    feeds[name] = ConvertFloat(half, t.dtype());
  }
  return feeds;
}

// The loss and the gradient of every parameter, on `backend`, from the
// second run of one plan (the first has other inputs: a backward that used
// a stale forward would show). `shared` gets how many RecurrentLayerGrad
// kernels took their forward pass from their RecurrentLayer's kernel.
std::vector<Tensor> LossAndGradients(const Model& m, bool fuse, Backend backend,
                                     int* fused, int* shared) {
  Graph g = m.graph;
  *fused = 0;
  if (fuse) {
    auto count = FuseRecurrentLayers(&g);
    EXPECT_TRUE(count.ok()) << count.status();
    if (count.ok()) *fused = *count;
  }
  auto valid = ValidateGraph({g, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  std::vector<std::string> fetches = {"loss"};
  for (const std::string& d : grad->gradients) fetches.push_back(d);
  auto ex = Executor::Create(std::move(grad->graph), {backend});
  EXPECT_TRUE(ex.ok()) << ex.status();
  auto first = (*ex)->Run(HalvedFeeds(m), fetches);
  EXPECT_TRUE(first.ok()) << first.status();
  auto out = (*ex)->Run(m.feeds, fetches);
  EXPECT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*ex)->num_compiles(), 1);
  *shared = (*ex)->last_plan_stats().shared_recurrent_forwards;
  return out.ok() ? *out : std::vector<Tensor>();
}

// max |a - b| / max(1, max |b|) over the tensors.
double Difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    Tensor x = ConvertFloat(a[k], DType::kF64),
           y = ConvertFloat(b[k], DType::kF64);
    double scale = 1, diff = 0;
    for (int64_t i = 0; i < y.num_elements(); ++i) {
      scale = std::max(scale, std::abs(y.data<double>()[i]));
      diff =
          std::max(diff, std::abs(x.data<double>()[i] - y.data<double>()[i]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

struct Case {
  const char* name;
  RecurrentCell cell;
  InitialState initial;
  bool bidirectional;
  RecurrentMerge merge;
};
const Case kCases[] = {
    {"rnn_tanh", RecurrentCell::kRnnTanh, InitialState::kZeros, false,
     RecurrentMerge::kConcat},
    {"rnn_relu", RecurrentCell::kRnnRelu, InitialState::kInput, false,
     RecurrentMerge::kConcat},
    {"lstm", RecurrentCell::kLstm, InitialState::kZeros, false,
     RecurrentMerge::kConcat},
    {"lstm_fed", RecurrentCell::kLstm, InitialState::kInput, false,
     RecurrentMerge::kConcat},
    {"gru", RecurrentCell::kGru, InitialState::kZeros, false,
     RecurrentMerge::kConcat},
    {"gru_pytorch", RecurrentCell::kGruPyTorch, InitialState::kInput, false,
     RecurrentMerge::kConcat},
    {"bilstm_concat", RecurrentCell::kLstm, InitialState::kZeros, true,
     RecurrentMerge::kConcat},
    {"bilstm_fed_sum", RecurrentCell::kLstm, InitialState::kInput, true,
     RecurrentMerge::kSum},
    {"bigru_concat", RecurrentCell::kGru, InitialState::kInput, true,
     RecurrentMerge::kConcat},
    {"birnn_sum", RecurrentCell::kRnnTanh, InitialState::kZeros, true,
     RecurrentMerge::kSum},
};

class FusedParity : public testing::TestWithParam<Case> {};

TEST_P(FusedParity, LossAndEveryGradientMatchTheUnrolledGraph) {
  const Case& c = GetParam();
  RecurrentLayerOptions layer;
  layer.cell = c.cell;
  layer.initial_state = c.initial;
  layer.bidirectional = c.bidirectional;
  layer.merge = c.merge;
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    const bool f64 = backend == Backend::kReference;
    Model m = Build(layer, f64 ? DType::kF64 : DType::kF32);
    int fused = 0, unfused = 0, shared = 0, unshared = 0;
    std::vector<Tensor> a = LossAndGradients(m, true, backend, &fused, &shared);
    std::vector<Tensor> b =
        LossAndGradients(m, false, backend, &unfused, &unshared);
    EXPECT_EQ(fused, 2);
    // On oneDNN every direction of both layers runs forward_training once.
    EXPECT_EQ(shared, f64 ? 0 : (c.bidirectional ? 4 : 2));
    EXPECT_EQ(unshared, 0);
    // The loss and 4 Parameters per layer and direction.
    ASSERT_EQ(a.size(), 1 + (c.bidirectional ? 16u : 8u));
    const double diff = Difference(a, b);
    EXPECT_LT(diff, f64 ? 1e-10 : 1e-4) << BackendName(backend);
    std::printf("%-12s %-9s fused against unrolled: %.3g\n", c.name,
                BackendName(backend), diff);
  }
}

INSTANTIATE_TEST_SUITE_P(FuseRecurrent, FusedParity, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// Variable-length layers stay unrolled (the primitive takes no lengths):
// the step masks break the chain, and the pass changes nothing.
TEST(FuseRecurrent, VariableLengthLayersStayUnrolled) {
  RecurrentLayerOptions varlen;
  varlen.cell = RecurrentCell::kGru;
  varlen.bidirectional = true;
  varlen.sequence_lengths = "lengths";
  Graph g = Build(varlen, DType::kF64).graph;
  const std::string before = g.SerializeAsString();
  auto count = FuseRecurrentLayers(&g);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(g.SerializeAsString(), before);
}

// The builders write only primitive ops: no fused twin rides along in a
// saved graph. Fusing is idempotent: a fused graph has nothing left to
// fuse.
TEST(FuseRecurrent, BuiltGraphsHoldOnlyPrimitiveOpsAndFuseOnce) {
  RecurrentLayerOptions layer;
  layer.cell = RecurrentCell::kGruPyTorch;
  layer.bidirectional = true;
  Graph g = Build(layer, DType::kF32).graph;
  for (const Node& n : g.node())
    EXPECT_NE(n.op(), "RecurrentLayer") << n.name();
  auto count = FuseRecurrentLayers(&g);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
  int fused_nodes = 0;
  for (const Node& n : g.node()) fused_nodes += n.op() == "RecurrentLayer";
  EXPECT_EQ(fused_nodes, 4);  // Two layers, two directions each.
  const std::string once = g.SerializeAsString();
  count = FuseRecurrentLayers(&g);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(g.SerializeAsString(), once);
}

// A Parameter `name` of `shape`, filled as Filled does.
void AddParameter(Graph* g, const std::string& name, const Shape& shape,
                  double phase) {
  Node* n = AddNode(g, name, "Parameter", {});
  *(*n->mutable_attr())["value"].mutable_tensor() =
      TensorToProto(Filled(DType::kF64, shape, 0.4, phase));
}

// An Elman RNN written by hand, as a user would, not by models/rnn.h: its
// own names, Adds with their operands the other way round, no output
// sequence, and a middle step read on its own. `bias_rows` 1 makes the
// recurrent bias [1, H], which the unrolled Add broadcasts but
// RecurrentLayer does not take.
Model HandWrittenRnn(bool reverse, int64_t bias_rows) {
  constexpr int64_t kSteps = 3, kIn = 2, kHidden = 4;
  Model m;
  Graph* g = &m.graph;
  AddInput(g, "x", {kSteps, -1, kIn});
  AddInput(g, "h_init", {-1, kHidden});
  AddParameter(g, "W", Shape{kHidden, kIn}, 0.2);
  AddParameter(g, "U", Shape{kHidden, kHidden}, 0.9);
  AddParameter(g, "b", Shape{kHidden}, 1.7);
  AddParameter(g, "c", bias_rows ? Shape{bias_rows, kHidden} : Shape{kHidden},
               2.3);
  SetInts(AddNode(g, "rows", "Reshape", {"x"}), "shape", {-1, kIn});
  (*AddNode(g, "xw", "MatMul", {"rows", "W"})->mutable_attr())["transpose_b"]
      .set_b(true);
  AddNode(g, "xwb", "Add", {"b", "xw"});
  (*AddNode(g, "per_step", "Split", {"xwb"})->mutable_attr())["num_splits"]
      .set_i(kSteps);
  std::string h = "h_init";
  for (int64_t k = 0; k < kSteps; ++k) {
    const int64_t t = reverse ? kSteps - 1 - k : k;
    const std::string s = absl::StrCat("step", t);
    (*AddNode(g, s + "_hu", "MatMul", {h, "U"})->mutable_attr())["transpose_b"]
        .set_b(true);
    AddNode(g, s + "_huc", "Add", {s + "_hu", "c"});
    AddNode(g, s + "_pre", "Add", {s + "_huc", absl::StrCat("per_step:", t)});
    h = AddNode(g, s, "Tanh", {s + "_pre"})->name();
  }
  AddNode(g, "last_sq", "Mul", {h, h});
  AddNode(g, "a", "ReduceSum", {"last_sq"});
  AddNode(g, "b_sum", "ReduceSum", {"step1"});
  AddNode(g, "loss", "Add", {"a", "b_sum"});
  m.feeds["x"] = Filled(DType::kF64, Shape{kSteps, kB, kIn}, 1.0, 0.1);
  m.feeds["h_init"] = Filled(DType::kF64, Shape{kB, kHidden}, 0.3, 0.5);
  return m;
}

TEST(FuseRecurrent, HandWrittenLayersAreRecognised) {
  for (bool reverse : {false, true}) {
    Model m = HandWrittenRnn(reverse, 0);
    Graph g = m.graph;
    auto count = FuseRecurrentLayers(&g);
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, 1);
    const Node* fused = nullptr;
    for (const Node& n : g.node()) {
      if (n.op() == "RecurrentLayer") fused = &n;
    }
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->attr().at("cell").s(), "rnn_tanh");
    EXPECT_EQ(fused->attr().count("reverse") && fused->attr().at("reverse").b(),
              reverse);
    int fused_count = 0, unfused = 0, shared = 0;
    std::vector<Tensor> a =
        LossAndGradients(m, true, Backend::kReference, &fused_count, &shared);
    std::vector<Tensor> b =
        LossAndGradients(m, false, Backend::kReference, &unfused, &shared);
    ASSERT_EQ(a.size(), 5u);  // The loss and 4 Parameters.
    EXPECT_LT(Difference(a, b), 1e-12) << "reverse " << reverse;
  }
}

// What the op cannot take stays unrolled, and the graph unchanged.
TEST(FuseRecurrent, ABroadcastBiasStaysUnrolled) {
  Graph g = HandWrittenRnn(false, 1).graph;
  const std::string before = g.SerializeAsString();
  auto count = FuseRecurrentLayers(&g);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(g.SerializeAsString(), before);
}

}  // namespace
}  // namespace rill

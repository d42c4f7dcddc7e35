// The fused RecurrentLayer op (ops/recurrent_ops.cc) against the unrolled
// builder AddRecurrentLayer (models/rnn.h), the semantic truth, with the
// same weights: outputs, final states and the gradients of x, the initial
// states and every weight and bias, for every cell. Float64 on the
// reference backend to 1e-10 absolute; float32 on oneDNN (the fused op then
// runs oneDNN's RNN primitives) to 1e-4 relative to each tensor's largest
// magnitude.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "models/rnn.h"
#include "ops/kernel_util.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

constexpr int64_t kT = 3, kB = 2, kI = 4, kH = 5;

struct Case {
  const char* cell;  // RecurrentLayer's attr
  RecurrentCell builder_cell;
};
const Case kCases[] = {{"rnn_tanh", RecurrentCell::kRnnTanh},
                       {"rnn_relu", RecurrentCell::kRnnRelu},
                       {"lstm", RecurrentCell::kLstm},
                       {"gru", RecurrentCell::kGru},
                       {"gru_pytorch", RecurrentCell::kGruPyTorch}};

const char* const kWeights[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

bool IsLstm(const Case& c) { return c.builder_cell == RecurrentCell::kLstm; }

// The inputs both graphs share: x, h0, c0 (LSTM only), and the weights
// ry [T, B, H], rh, rc [B, H] of the loss.
void AddCommonInputs(Graph* g, DType dtype) {
  AddInput(g, "x", {kT, -1, kI}, dtype);
  AddInput(g, "ry", {kT, -1, kH}, dtype);
  AddInput(g, "rh", {-1, kH}, dtype);
  AddInput(g, "rc", {-1, kH}, dtype);
}

// loss = sum(y ry) + sum(hn rh) + sum(cn rc).
void AddLoss(Graph* g, const std::string& y, const std::string& hn,
             const std::string& cn) {
  AddNode(g, "wy", "Mul", {y, "ry"});
  AddNode(g, "wh", "Mul", {hn, "rh"});
  AddNode(g, "wc", "Mul", {cn, "rc"});
  AddNode(g, "sy", "ReduceSum", {"wy"});
  AddNode(g, "sh", "ReduceSum", {"wh"});
  AddNode(g, "sc", "ReduceSum", {"wc"});
  AddNode(g, "loss", "AddN", {"sy", "sh", "sc"});
}

struct Built {
  Graph graph;
  std::vector<std::string> outputs;  // y, hn, cn
  std::vector<std::string> wrt;      // x, h0, [c0,] the four weights
};

// The unrolled layer. Without a cell state (not LSTM), cn stands for hn:
// the loss weighs hn by rh + rc, as the fused graph's hn and its copy cn.
Built Unrolled(const Case& c, DType dtype) {
  Built b;
  AddCommonInputs(&b.graph, dtype);
  RecurrentLayerOptions o;
  o.cell = c.builder_cell;
  o.prefix = "rnn";
  o.steps = kT;
  o.input_size = kI;
  o.hidden_size = kH;
  o.dtype = dtype;
  o.initial_state = InitialState::kInput;
  o.seed = 11;
  auto layer = AddRecurrentLayer("x", o, &b.graph);
  EXPECT_TRUE(layer.ok()) << layer.status();
  if (!layer.ok()) return b;
  std::string cn = layer->final_c;
  if (!IsLstm(c)) {
    AddNode(&b.graph, "hn_twice", "Identity", {layer->final_h});
    cn = "hn_twice";
  }
  AddLoss(&b.graph, layer->output, layer->final_h, cn);
  b.outputs = {layer->output, layer->final_h, cn};
  b.wrt = {"x", "rnn/h0"};
  if (IsLstm(c)) b.wrt.push_back("rnn/c0");
  for (const char* w : kWeights) b.wrt.push_back(absl::StrCat("rnn/", w));
  return b;
}

// The fused layer, its weights copied from the unrolled graph's Parameters.
Built Fused(const Case& c, DType dtype, Graph& unrolled) {
  Built b;
  AddCommonInputs(&b.graph, dtype);
  AddInput(&b.graph, "rnn/h0", {-1, kH}, dtype);
  if (IsLstm(c)) AddInput(&b.graph, "rnn/c0", {-1, kH}, dtype);
  for (const char* w : kWeights) {
    const std::string name = absl::StrCat("rnn/", w);
    Node* from = FindNode(&unrolled, name);
    EXPECT_NE(from, nullptr) << name;
    if (from == nullptr) return b;
    Node* n = b.graph.add_node();
    n->set_name(name);
    n->set_op("Parameter");
    (*n->mutable_attr())["value"] = from->attr().at("value");
  }
  std::vector<std::string> in = {
      "x",           "rnn/h0",     "rnn/weight_ih", "rnn/weight_hh",
      "rnn/bias_ih", "rnn/bias_hh"};
  if (IsLstm(c)) in.push_back("rnn/c0");
  AddNode(&b.graph, "layer", "RecurrentLayer", in);
  (*FindNode(&b.graph, "layer")->mutable_attr())["cell"].set_s(c.cell);
  AddLoss(&b.graph, "layer", "layer:1", "layer:2");
  b.outputs = {"layer", "layer:1", "layer:2"};
  b.wrt = {"x", "rnn/h0"};
  if (IsLstm(c)) b.wrt.push_back("rnn/c0");
  for (const char* w : kWeights) b.wrt.push_back(absl::StrCat("rnn/", w));
  return b;
}

// The outputs, then the gradients of `wrt` (in that order); `stats` gets
// the plan's.
std::vector<Tensor> RunWithGradients(Built& b,
                                     const std::map<std::string, Tensor>& feeds,
                                     const ExecutorOptions& options,
                                     PlanStats* stats = nullptr) {
  auto valid = ValidateGraph({b.graph, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return {};
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = b.wrt;
  auto grad = BuildGradientGraph(*valid, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  if (!grad.ok()) return {};
  std::vector<std::string> fetches = b.outputs;
  fetches.insert(fetches.end(), grad->gradients.begin(), grad->gradients.end());
  auto ex = Executor::Create(std::move(grad->graph), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  if (!ex.ok()) return {};
  auto out = (*ex)->Run(feeds, fetches);
  EXPECT_TRUE(out.ok()) << out.status();
  if (stats != nullptr) *stats = (*ex)->last_plan_stats();
  return out.ok() ? *out : std::vector<Tensor>{};
}

std::map<std::string, Tensor> Feeds(const Case& c, DType dtype) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> dist(-1, 1);
  auto make = [&](Shape s) {
    Tensor t = *Tensor::Allocate(DType::kF64, s);
    for (int64_t k = 0; k < t.num_elements(); ++k) {
      t.data<double>()[k] = dist(rng);
    }
    return ConvertFloat(t, dtype);
  };
  std::map<std::string, Tensor> feeds = {{"x", make({kT, kB, kI})},
                                         {"ry", make({kT, kB, kH})},
                                         {"rh", make({kB, kH})},
                                         {"rc", make({kB, kH})},
                                         {"rnn/h0", make({kB, kH})}};
  if (IsLstm(c)) feeds["rnn/c0"] = make({kB, kH});
  return feeds;
}

void CheckParity(const Case& c, DType dtype, Backend backend, bool relative,
                 double tolerance) {
  Built unrolled = Unrolled(c, dtype);
  Built fused = Fused(c, dtype, unrolled.graph);
  std::map<std::string, Tensor> feeds = Feeds(c, dtype);
  std::vector<Tensor> want = RunWithGradients(unrolled, feeds, {backend});
  std::vector<Tensor> got = RunWithGradients(fused, feeds, {backend});
  ASSERT_EQ(want.size(), got.size());
  std::vector<std::string> names = {"y", "hn", "cn"};
  names.insert(names.end(), fused.wrt.begin(), fused.wrt.end());
  ASSERT_EQ(names.size(), got.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    double err = MaxError(got[k], want[k], names[k]);
    const double scale = MaxMagnitude(want[k]);
    // All zeros would make the comparison say nothing.
    EXPECT_GT(scale, 1e-3) << c.cell << " " << names[k];
    if (relative && scale > 0) err /= scale;
    EXPECT_LT(err, tolerance) << c.cell << " " << names[k];
    worst = std::max(worst, err);
  }
  std::printf("%-12s %s %-9s largest %s error %.3g over %zu tensors\n", c.cell,
              DTypeName(dtype), BackendName(backend),
              relative ? "relative" : "absolute", worst, got.size());
}

// The largest error of `got` against `want` over tensors named `names`,
// relative to each tensor's largest magnitude.
double LargestRelativeError(const std::vector<Tensor>& got,
                            const std::vector<Tensor>& want,
                            const std::vector<std::string>& names) {
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double scale = MaxMagnitude(want[k]);
    worst = std::max(worst, MaxError(got[k], want[k], names[k]) / scale);
  }
  return worst;
}

class Parity : public testing::TestWithParam<Case> {};

TEST_P(Parity, Float64Reference) {
  CheckParity(GetParam(), DType::kF64, Backend::kReference, false, 1e-10);
}

TEST_P(Parity, Float32OneDnn) {
  CheckParity(GetParam(), DType::kF32, Backend::kOneDnn, true, 1e-4);
}

// Mixed precision: the fused layer's forward and gradient kernels run
// oneDNN's RNN primitives on bf16 data and weights, or for the LSTM rill's
// own kernels on bf16 matmuls (ops/recurrent_lstm_matmul.h, checked in f32
// against oneDNN's LSTM by tests/ops/recurrent_lstm_matmul_test). Against
// the same layer in f32 (checked against the unrolled truth above), outputs
// and gradients stay within bf16's rounding (2^-9 relative per operand,
// grown over the steps and through the backward pass), and differ from f32
// by more than f32's own error, so bf16 did run.
TEST_P(Parity, Bf16OneDnn) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const Case& c = GetParam();
  Built unrolled = Unrolled(c, DType::kF32);
  Built fused = Fused(c, DType::kF32, unrolled.graph);
  std::map<std::string, Tensor> feeds = Feeds(c, DType::kF32);
  ExecutorOptions bf16{Backend::kOneDnn};
  bf16.precision = Precision::kBf16;
  PlanStats stats;
  std::vector<Tensor> f32 = RunWithGradients(fused, feeds, {Backend::kOneDnn});
  std::vector<Tensor> got = RunWithGradients(fused, feeds, bf16, &stats);
  ASSERT_EQ(f32.size(), got.size());
  EXPECT_EQ(stats.bf16_kernels, 2);  // The layer and its gradient.
  std::vector<std::string> names = {"y", "hn", "cn"};
  names.insert(names.end(), fused.wrt.begin(), fused.wrt.end());
  const double err = LargestRelativeError(got, f32, names);
  EXPECT_LT(err, 3e-2) << c.cell;
  EXPECT_GT(err, 1e-4) << c.cell;
  std::printf("%-12s bf16 oneDNN largest error relative to f32 %.3g\n", c.cell,
              err);

  // Inference alone (no gradient node to share a forward_training run).
  auto valid = ValidateGraph({fused.graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid), bf16);
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto y = (*ex)->Run(feeds, fused.outputs);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*ex)->last_plan_stats().bf16_kernels, 1);
  f32.resize(y->size());
  const double inference = LargestRelativeError(*y, f32, names);
  EXPECT_LT(inference, 3e-2) << c.cell;
  EXPECT_GT(inference, 1e-4) << c.cell;
}

INSTANTIATE_TEST_SUITE_P(RecurrentLayer, Parity, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.cell);
                         });

}  // namespace
}  // namespace rill

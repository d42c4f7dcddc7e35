// RecurrentLayer's input checks: each bad-input class is rejected by the
// validator with a message naming what is wrong. Values are covered by the
// op table, the gradient table and tests/models/recurrent_layer_parity_test.
// Also: when RecurrentLayerGrad's oneDNN kernel takes its forward pass from
// the RecurrentLayer kernel, and that it computes the same either way.

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/graph_builder.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

// Inputs named in0.. of `shapes` (f32), then y = RecurrentLayer(in0, ...).
absl::Status ValidateLayer(const std::string& cell,
                           const std::vector<std::vector<int64_t>>& shapes) {
  Graph g;
  std::vector<std::string> inputs;
  for (size_t k = 0; k < shapes.size(); ++k) {
    inputs.push_back(
        AddInputNode(&g, "in" + std::to_string(k), DType::kF32, shapes[k]));
  }
  Node* y = AddNode(&g, "y", "RecurrentLayer", inputs);
  (*y->mutable_attr())["cell"].set_s(cell);
  return ValidateGraph({g, {}}).status();
}

void ExpectRejected(const absl::Status& s, const std::string& part) {
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(part), std::string::npos) << s;
}

// T=3 B=2 I=4 H=5 with G gates.
std::vector<std::vector<int64_t>> Inputs(int64_t g) {
  return {{3, 2, 4}, {2, 5}, {g * 5, 4}, {g * 5, 5}, {g * 5}, {g * 5}};
}

TEST(RecurrentLayerBadInput, Cell) {
  EXPECT_TRUE(ValidateLayer("gru", Inputs(3)).ok());
  ExpectRejected(ValidateLayer("lstmx", Inputs(4)), "attr 'cell' = 'lstmx'");
}

TEST(RecurrentLayerBadInput, C0OnlyForLstm) {
  auto lstm = Inputs(4);
  ExpectRejected(ValidateLayer("lstm", lstm), "takes 7 inputs");
  lstm.push_back({2, 5});
  EXPECT_TRUE(ValidateLayer("lstm", lstm).ok());
  auto rnn = Inputs(1);
  rnn.push_back({2, 5});
  ExpectRejected(ValidateLayer("rnn_tanh", rnn), "takes 6 inputs");
}

TEST(RecurrentLayerBadInput, Shapes) {
  // 3 gates' rows for an LSTM.
  auto in = Inputs(3);
  in.push_back({2, 5});
  ExpectRejected(ValidateLayer("lstm", in), "weight_ih's dim 0 (G*H) is 15");
  in = Inputs(1);
  in[2] = {5, 6};  // I = 6 against x's 4.
  ExpectRejected(ValidateLayer("rnn_relu", in), "weight_ih's dim 1 (I)");
  in = Inputs(1);
  in[1] = {3, 5};  // B = 3 against x's 2.
  ExpectRejected(ValidateLayer("rnn_relu", in), "h0's dim 0 (B)");
  in = Inputs(3);
  in[0] = {3, 2};
  ExpectRejected(ValidateLayer("gru_pytorch", in),
                 "input 'x' has shape [3, 2]");
  // Symbolic dims pass.
  in = Inputs(3);
  in[0] = {-1, -1, 4};
  in[1] = {-1, 5};
  EXPECT_TRUE(ValidateLayer("gru_pytorch", in).ok());
}

// The inputs in0..in10, as a row for RowGraph and RowFeeds: an LSTM's
// in0..in6 (T=4 B=3 I=5 H=6), in7 another x, in8 added to y for dy, in9
// and in10 dhn and dcn.
OpRow InputsOfOneLayer() {
  OpRow row{"RecurrentLayer", RecurrentLayerInputs("lstm", 4, 3, 5, 6), {}};
  row.inputs.push_back({4, 3, 5});
  row.inputs.push_back({4, 3, 6});
  row.inputs.push_back({3, 6});
  row.inputs.push_back({3, 6});
  return row;
}

// The inputs, then y = RecurrentLayer(x, in1..in6) and dy = y + in8.
Graph OneLayer(const std::string& x) {
  Graph g = RowGraph(InputsOfOneLayer(), DType::kF32);
  g.mutable_node()->RemoveLast();  // RowGraph's y = RecurrentLayer(in0..in10).
  Node* y = AddNode(&g, "y", "RecurrentLayer",
                    {x, "in1", "in2", "in3", "in4", "in5", "in6"});
  (*y->mutable_attr())["cell"].set_s("lstm");
  AddNode(&g, "dy", "Add", {"y", "in8"});
  return g;
}

// A RecurrentLayerGrad node naming y as its forward, over x for x.
void AddGradient(Graph& g, const std::string& name, const std::string& x,
                 bool reverse) {
  Node* n = AddNode(
      &g, name, "RecurrentLayerGrad",
      {x, "in1", "in2", "in3", "in4", "in5", "dy", "in9", "in6", "in10"});
  (*n->mutable_attr())["cell"].set_s("lstm");
  (*n->mutable_attr())["reverse"].set_b(reverse);
  (*n->mutable_attr())["forward"].set_s("y");
}

// Runs `g` twice with other values (the second backward must not use the
// first forward) on oneDNN and on the reference backend, compares every
// output of y and of the gradient nodes `grads`, and checks that
// `shared` gradient kernels took y's forward pass.
void ExpectSharedAndRight(const Graph& g, const std::vector<std::string>& grads,
                          int shared) {
  std::vector<std::string> fetches = {"y", "y:1", "y:2"};
  for (const std::string& n : grads) {
    for (int k = 0; k < 7; ++k) fetches.push_back(absl::StrCat(n, ":", k));
  }
  std::map<Backend, std::unique_ptr<Executor>> ex;
  for (Backend b : {Backend::kReference, Backend::kOneDnn}) {
    auto valid = ValidateGraph({g, {}});
    ASSERT_TRUE(valid.ok()) << valid.status();
    auto e = Executor::Create(*std::move(valid), {b});
    ASSERT_TRUE(e.ok()) << e.status();
    ex[b] = *std::move(e);
  }
  for (uint32_t seed : {1u, 2u}) {
    const auto feeds = RowFeeds(InputsOfOneLayer(), DType::kF32, seed);
    auto want = ex[Backend::kReference]->Run(feeds, fetches);
    auto got = ex[Backend::kOneDnn]->Run(feeds, fetches);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(ex[Backend::kOneDnn]->last_plan_stats().shared_recurrent_forwards,
              shared);
    double worst = 0;
    for (size_t k = 0; k < fetches.size(); ++k) {
      const double e = NormwiseRelativeError((*got)[k], (*want)[k]);
      EXPECT_LT(e, 1e-5) << fetches[k];
      worst = std::max(worst, e);
    }
    std::printf("seed %u: oneDNN against reference, worst %.3g\n", seed, worst);
  }
  EXPECT_EQ(ex[Backend::kOneDnn]->num_compiles(), 1);
  EXPECT_EQ(
      ex[Backend::kReference]->last_plan_stats().shared_recurrent_forwards, 0);
}

// Of three gradient nodes naming y, only `same` (over y's inputs, same
// direction) may take y's forward pass; `other` (over in7 in place of x)
// and `flipped` (with `reverse`) must recompute. They come first, so that
// their kernels are made first and would bind.
TEST(RecurrentLayerGrad, TakesTheForwardPassOnlyOfTheSameLayerAndInputs) {
  Graph g = OneLayer("in0");
  AddGradient(g, "other", "in7", false);
  AddGradient(g, "flipped", "in0", true);
  AddGradient(g, "same", "in0", false);
  ExpectSharedAndRight(g, {"same", "other", "flipped"}, 1);
}

// y reads x1 = Tanh(in0), which nothing reads after y; x2, a Slice of dy
// with x1's shape, is made after y and so may get x1's buffer. A gradient
// over x2 must still recompute: the same buffer holds another tensor.
TEST(RecurrentLayerGrad, DoesNotTakeTheForwardPassOfAnotherTensorInTheBuffer) {
  Graph g = OneLayer("x1");
  AddNode(&g, "x1", "Tanh", {"in0"});
  Node* x2 = AddNode(&g, "x2", "Slice", {"dy"});
  SetInts(x2, "start", {0});
  SetInts(x2, "end", {5});
  SetInts(x2, "axes", {2});
  AddGradient(g, "grad", "x2", false);
  ExpectSharedAndRight(g, {"grad"}, 0);
}

}  // namespace
}  // namespace rill

// RecurrentLayer's input checks: each bad-input class is rejected by the
// validator with a message naming what is wrong. Values are covered by the
// op table, the gradient table and tests/models/recurrent_layer_parity_test.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// Inputs named in0.. of `shapes` (f32), then y = RecurrentLayer(in0, ...).
absl::Status ValidateLayer(const std::string& cell,
                           const std::vector<std::vector<int64_t>>& shapes) {
  Graph g;
  Node* y = nullptr;
  for (size_t k = 0; k < shapes.size(); ++k) {
    Node* n = g.add_node();
    n->set_name("in" + std::to_string(k));
    n->set_op("Input");
    (*n->mutable_attr())["dtype"].set_type(DT_FLOAT);
    auto* shape = (*n->mutable_attr())["shape"].mutable_shape();
    for (int64_t d : shapes[k]) shape->add_dim(d);
  }
  y = g.add_node();
  y->set_name("y");
  y->set_op("RecurrentLayer");
  for (size_t k = 0; k < shapes.size(); ++k) {
    y->add_input("in" + std::to_string(k));
  }
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

}  // namespace
}  // namespace rill

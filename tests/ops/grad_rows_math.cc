// Gradient-check rows for the element-wise ops, their backward ops,
// Identity and MatMul.

#include "tests/ops/grad_rows.h"

namespace rill {
namespace {

void AddUnaryRows(std::vector<OpRow>& rows) {
  for (const char* op : {"Neg", "Abs", "Exp", "Square", "Tanh", "Sigmoid",
                         "Relu", "Gelu", "GeluTanh", "Softplus", "Erf"}) {
    rows.push_back({op, {{3, 5}}, {}, false});
  }
  // Positive inputs: the domain (Log, Sqrt, Rsqrt), or away from the pole
  // at 0, where the stencil's error would grow like 1/x^6 (Reciprocal).
  for (const char* op : {"Log", "Sqrt", "Rsqrt", "Reciprocal"}) {
    rows.push_back({op, {Positive({3, 5})}, {}, false});
  }
  rows.push_back({"Tanh", {{}}, {}, false});
  rows.push_back({"Identity", {{3, 5}}, {}, false});
}

// The backward ops are differentiated too (second order): v and dy.
void AddBackwardRows(std::vector<OpRow>& rows) {
  for (const char* op :
       {"TanhGrad", "SigmoidGrad", "ReluGrad", "GeluGrad", "GeluTanhGrad"}) {
    rows.push_back({op, {{3, 5}, {3, 5}}, {}, false});
  }
  rows.push_back({"TanhGrad", {{}, {}}, {}, false});
}

// Broadcasting both ways: b only, a only, both, and scalars. The rows'
// fixed random values put no two Maximum/Minimum operands within the
// stencil's reach of a tie.
void AddBinaryRows(std::vector<OpRow>& rows) {
  for (const char* op : {"Add", "Sub", "Mul", "Maximum", "Minimum"}) {
    rows.push_back({op, {{3, 4}, {4}}, {}, false});
    rows.push_back({op, {{3, 1}, {2, 3, 4}}, {}, false});
    rows.push_back({op, {{2, 3, 1}, {3, 5}}, {}, false});
  }
  rows.push_back({"Sub", {{}, {2, 3}}, {}, false});
  rows.push_back({"Mul", {{2, 3, 4}, {}}, {}, false});
  rows.push_back({"Div", {{3, 4}, Positive({4})}, {}, false});
  rows.push_back({"Div", {{4}, Positive({3, 4})}, {}, false});
  rows.push_back({"Div", {{2, 3, 1}, Positive({3, 5})}, {}, false});
  rows.push_back({"Pow", {Positive({3, 4}), {4}}, {}, false});
  rows.push_back({"Pow", {Positive({4}), {3, 4}}, {}, false});
  rows.push_back({"Pow", {Positive({2, 3, 1}), {3, 5}}, {}, false});
  rows.push_back({"AddN", {{3, 4}, {3, 4}, {3, 4}}, {}, false});
}

void AddWhereRows(std::vector<OpRow>& rows) {
  rows.push_back({"Where", {Bools({3, 4}), {3, 4}, {3, 4}}, {}, false});
  rows.push_back({"Where", {Bools({3, 4}), {4}, {3, 1}}, {}, false});
  rows.push_back({"Where", {Bools({2, 3, 1}), {3, 4}, {}}, {}, false});
  rows.push_back({"Where", {Bools({4}), {3, 1}, {2, 1, 1}}, {}, false});
}

void AddMatMulRows(std::vector<OpRow>& rows) {
  rows.push_back({"MatMul", {{3, 4}, {4, 5}}, {}, false});
  rows.push_back(
      {"MatMul", {{4, 3}, {4, 5}}, {{"transpose_a", True()}}, false});
  rows.push_back(
      {"MatMul", {{3, 4}, {5, 4}}, {{"transpose_b", True()}}, false});
  rows.push_back({"MatMul",
                  {{4, 3}, {5, 4}},
                  {{"transpose_a", True()}, {"transpose_b", True()}},
                  false});
  // Batch axes that broadcast: a's, b's, and both ways at once.
  // A batched a with a shared matrix b: b's gradient is one matmul of
  // the flattened a and dy (FlatWeightGradient).
  rows.push_back({"MatMul", {{2, 3, 4}, {4, 5}}, {}, false});
  rows.push_back(
      {"MatMul", {{2, 3, 4}, {5, 4}}, {{"transpose_b", True()}}, false});
  rows.push_back({"MatMul", {{2, 2, 3, 4}, {4, 5}}, {}, false});
  rows.push_back(
      {"MatMul", {{3, 4}, {2, 5, 4}}, {{"transpose_b", True()}}, false});
  rows.push_back(
      {"MatMul", {{2, 1, 4, 3}, {3, 4, 2}}, {{"transpose_a", True()}}, false});
  rows.push_back({"MatMul",
                  {{1, 3, 2}, {2, 1, 4, 3}},
                  {{"transpose_a", True()}, {"transpose_b", True()}},
                  false});
}

}  // namespace

std::vector<OpRow> MathGradRows() {
  std::vector<OpRow> rows;
  AddUnaryRows(rows);
  AddBackwardRows(rows);
  AddBinaryRows(rows);
  AddWhereRows(rows);
  AddMatMulRows(rows);
  return rows;
}

}  // namespace rill

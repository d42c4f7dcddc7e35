// Rows for the element-wise ops (elementwise_ops.cc), Identity and MatMul.

#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

// Odd, size-1, scalar and empty shapes for element-wise ops; oneDNN runs
// all but the empty one.
std::vector<Shape> ElementwiseShapes() {
  return {Shape{31}, Shape{3, 5, 7}, Shape{}, Shape{1, 1}, Shape{0, 4}};
}

bool IsEmpty(const Shape& s) { return s.rank() > 0 && s.dim(0) == 0; }

// Rows of a unary f32/f64 op.
void AddUnaryRows(const std::string& op, bool positive,
                  std::vector<OpRow>& rows) {
  for (const Shape& s : ElementwiseShapes()) {
    rows.push_back(
        {op, {positive ? Positive(s) : InputSpec(s)}, {}, !IsEmpty(s)});
  }
}

// Rows of a broadcasting f32/f64 binary op. `divisor_positive` keeps b away
// from 0 (Div) and `base_positive` keeps a positive (Pow). oneDNN runs when
// neither input broadcasts, when only b does, and when only a does if the
// op can swap its inputs (`swaps`); never when both broadcast or on empty
// tensors. `primitive` is false for ops with no oneDNN primitive.
void AddBinaryRows(const std::string& op, bool base_positive,
                   bool divisor_positive, bool swaps, bool primitive,
                   std::vector<OpRow>& rows) {
  auto a = [&](Shape s) { return base_positive ? Positive(s) : InputSpec(s); };
  auto b = [&](Shape s) {
    return divisor_positive ? Positive(s) : InputSpec(s);
  };
  rows.push_back({op, {a({7, 9}), b({7, 9})}, {}, primitive});
  rows.push_back({op, {a({2, 3, 5}), b({5})}, {}, primitive});
  rows.push_back({op, {a({3, 5, 7}), b({3, 1, 7})}, {}, primitive});
  rows.push_back({op, {a({5}), b({1, 5})}, {}, primitive});  // Rank only.
  rows.push_back({op, {a({1}), b({4, 3})}, {}, primitive && swaps});
  rows.push_back({op, {a({}), b({31})}, {}, primitive && swaps});
  rows.push_back({op, {a({4, 1}), b({1, 7})}, {}, false});
  rows.push_back({op, {a({0, 3}), b({3})}, {}, false});
  rows.push_back({op, {a({}), b({})}, {}, primitive});
}

// Rows of a comparison: f32 (oneDNN, with a swapped algorithm when only a
// broadcasts), f64 and integer inputs (reference). Small-integer floats
// make ties, so that Equal is sometimes true.
void AddCompareRows(const std::string& op, std::vector<OpRow>& rows) {
  auto ties = [](Shape s) {
    return InputSpec(std::move(s), DType::kF32, Fill::kIndices, 3);
  };
  rows.push_back({op, {ties({3, 5}), ties({3, 5})}, {}, true});
  rows.push_back({op, {{2, 3, 5}, {1, 5}}, {}, true});
  rows.push_back({op, {ties({5}), ties({2, 3, 5})}, {}, true});
  rows.push_back({op, {{4, 1}, {1, 7}}, {}, false});
  rows.push_back({op, {{0, 3}, {3}}, {}, false});
  rows.push_back({op, {{}, {}}, {}, true});
  rows.push_back({op,
                  {InputSpec({7}, DType::kF64, Fill::kUniform),
                   InputSpec({7}, DType::kF64, Fill::kUniform)},
                  {},
                  false});
  rows.push_back({op, {Indices({31}, 4), Indices({31}, 4)}, {}, false});
  rows.push_back(
      {op,
       {Indices({3, 1}, 4, DType::kI64), Indices({5}, 4, DType::kI64)},
       {},
       false});
}

// Rows of an element-wise backward op dx = f(v, dy): inputs of one shape.
void AddBackwardRows(const std::string& op, std::vector<OpRow>& rows) {
  for (const Shape& s : ElementwiseShapes()) {
    rows.push_back({op, {s, s}, {}, !IsEmpty(s)});
  }
}

std::vector<OpRow> ElementwiseRows() {
  std::vector<OpRow> rows;
  for (const char* op : {"Neg", "Abs", "Exp", "Square", "Relu", "Gelu",
                         "GeluTanh", "Softplus"}) {
    AddUnaryRows(op, false, rows);
  }
  // No oneDNN primitive: one row, on the reference loop.
  rows.push_back({"Erf", {{3, 5, 7}}, {}, false});
  for (const char* op : {"Log", "Sqrt", "Rsqrt", "Reciprocal"}) {
    AddUnaryRows(op, true, rows);
  }
  AddBinaryRows("Sub", false, false, true, true, rows);
  AddBinaryRows("Div", false, true, false, true, rows);
  AddBinaryRows("Pow", true, false, false, false, rows);
  AddBinaryRows("Maximum", false, false, true, true, rows);
  AddBinaryRows("Minimum", false, false, true, true, rows);
  for (const char* op : {"Less", "Greater", "Equal"}) AddCompareRows(op, rows);
  for (const char* op :
       {"TanhGrad", "SigmoidGrad", "ReluGrad", "GeluGrad", "GeluTanhGrad"}) {
    AddBackwardRows(op, rows);
  }
  // Past oneDNN's 12 dims the reference kernel runs instead.
  Shape rank13({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3});
  std::vector<OpRow> more = {
      {"Neg", {rank13}, {}, false},
      {"Add", {rank13, {3}}, {}, false},
      {"Less", {rank13, rank13}, {}, false},
      {"AddN", {rank13, rank13}, {}, false},
      {"Where", {Bools({3, 5}), {3, 5}, {3, 5}}, {}, false},
      {"Where", {Bools({3, 1}), {1, 5}, {}}, {}, false},
      {"Where", {Bools({}), {2, 3, 7}, {7}}, {}, false},
      {"Where", {Bools({0, 2}), {2}, {1, 2}}, {}, false},
      {"Where", {Bools({31}), Indices({31}, 9), Indices({1}, 9)}, {}, false},
      {"Where",
       {Bools({2, 1}), Indices({2, 3}, 9, DType::kI64),
        Indices({3}, 9, DType::kI64)},
       {},
       false},
      {"Where", {Bools({4}), Bools({4}), Bools({1})}, {}, false},
      {"AddN", {{3, 5}}, {}, true},
      {"AddN", {{3, 5}, {3, 5}, {3, 5}}, {}, true},
      {"AddN", {{31}, {31}}, {}, true},
      {"AddN", {{3, 5, 7}, {3, 5, 7}, {3, 5, 7}, {3, 5, 7}}, {}, true},
      {"AddN", {{}, {}}, {}, true},
      {"AddN", {{1, 1}, {1, 1}}, {}, true},
      {"AddN", {{0, 4}, {0, 4}}, {}, false},
  };
  rows.insert(rows.end(), more.begin(), more.end());
  // The widest sum oneDNN takes (its source argument ids run out), and one
  // past it: a weight shared by every step of a long unrolled RNN.
  for (int n : {1024, 1025}) {
    rows.push_back(
        {"AddN", std::vector<InputSpec>(n, InputSpec({3})), {}, n == 1024});
  }
  return rows;
}

}  // namespace

std::vector<OpRow> MathRows() {
  std::vector<OpRow> rows = ElementwiseRows();
  std::vector<OpRow> math = {
      {"Identity", {{3, 5}}, {}, true},
      {"Identity", {{}}, {}, true},
      {"Tanh", {{17}}, {}, true},
      {"Tanh", {{2, 3, 5}}, {}, true},
      {"Tanh", {{}}, {}, true},
      {"Tanh", {{0, 4}}, {}, false},
      {"Sigmoid", {{31}}, {}, true},
      {"Sigmoid", {{1, 1, 7}}, {}, true},
      {"Add", {{3, 5}, {3, 5}}, {}, true},
      {"Add", {{2, 3, 5}, {5}}, {}, true},
      {"Add", {{1}, {4, 3}}, {}, true},      // First input broadcasts: swapped.
      {"Add", {{4, 1}, {1, 7}}, {}, false},  // Both broadcast.
      {"Add", {{0, 3}, {3}}, {}, false},
      {"Add", {{}, {}}, {}, true},
      {"Mul", {{7, 9}, {7, 9}}, {}, true},
      {"Mul", {{2, 1, 5}, {2, 3, 1}}, {}, false},
      {"Mul", {{6, 1}, {6, 4}}, {}, true},
      {"MatMul", {{3, 5}, {5, 7}}, {}, true},
      {"MatMul", {{1, 1}, {1, 1}}, {}, true},
      {"MatMul", {{2, 3, 5}, {5, 4}}, {}, true},
      {"MatMul", {{5, 3}, {5, 4}}, {{"transpose_a", True()}}, true},
      {"MatMul", {{3, 5}, {4, 5}}, {{"transpose_b", True()}}, true},
      {"MatMul",
       {{2, 5, 3}, {2, 4, 5}},
       {{"transpose_a", True()}, {"transpose_b", True()}},
       true},
      {"MatMul", {{2, 1, 3, 4}, {3, 4, 5}}, {}, true},  // Batch broadcast.
      {"MatMul", {{3, 4}, {2, 5, 4}}, {{"transpose_b", True()}}, true},
      {"MatMul", {{0, 4}, {4, 3}}, {}, false},
  };
  rows.insert(rows.begin(), math.begin(), math.end());
  return rows;
}

}  // namespace rill

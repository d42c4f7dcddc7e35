// Gradient-check rows for the shape, layout, value and indexing ops.

#include <limits>

#include "tests/ops/grad_rows.h"

namespace rill {
namespace {

AttrValue Ints(std::vector<int64_t> v) { return IntListAttr(std::move(v)); }
AttrValue Int(int64_t v) { return IntAttr(v); }
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::vector<OpRow> ShapeRows() {
  return {
      {"Reshape", {{3, 4}}, {{"shape", Ints({2, -1})}}, false},
      {"Reshape", {{}}, {{"shape", Ints({1, 1})}}, false},
      {"Squeeze", {{1, 3, 1, 2}}, {}, false},
      {"Squeeze", {{2, 3, 1}}, {{"axes", Ints({-1})}}, false},
      {"ExpandDims", {{3, 2}}, {{"axis", Int(1)}}, false},
      {"ExpandDims", {{3, 2}}, {{"axis", Int(-1)}}, false},
      {"ReshapeLike", {{3, 4}, {2, 6}}, {}, false},  // like gets zero.
      {"ReshapeLike", {{6}, Indices({2, 3}, 5)}, {}, false},
      {"Transpose", {{3, 4}}, {}, false},  // Empty perm: reversed axes.
      {"Transpose", {{2, 3, 4}}, {{"perm", Ints({2, 0, 1})}}, false},
      {"Transpose", {{2, 3, 2}}, {{"perm", Ints({0, -1, 1})}}, false},
      {"Reverse", {{3, 4}}, {{"axis", Int(1)}}, false},
      {"Reverse", {{2, 3, 2}}, {{"axis", Int(-2)}}, false},
      {"BroadcastTo", {{3, 1}}, {{"shape", Ints({2, 3, 4})}}, false},
      {"BroadcastTo", {{}}, {{"shape", Ints({2, 3})}}, false},
      {"BroadcastTo", {{4}}, {{"shape", Ints({3, -1})}}, false},
      {"BroadcastTo", {{3, 2}}, {{"shape", Ints({3, 2})}}, false},
      {"BroadcastLike", {{3, 1}, {2, 3, 4}}, {}, false},  // like gets zero.
      {"BroadcastLike", {{4}, Indices({3, 4}, 5)}, {}, false},
  };
}

std::vector<OpRow> ConcatSplitSliceRows() {
  return {
      {"Concat", {{2, 3}, {2, 1}, {2, 2}}, {{"axis", Int(-1)}}, false},
      {"Concat", {{2, 3}, {1, 3}, {3, 3}}, {}, false},
      {"Concat", {{5}}, {}, false},
      {"Split", {{6, 4}}, {{"num_splits", Int(3)}}, false},
      {"Split",
       {{5, 3}},
       {{"num_splits", Int(3)}, {"sizes", Ints({2, -1, 1})}},
       false},
      {"Split",
       {{2, 7}},
       {{"num_splits", Int(3)}, {"axis", Int(1)}, {"sizes", Ints({3, 0, 4})}},
       false},
      {"Split", {{2, 3}}, {{"num_splits", Int(1)}}, false},
      // Negative steps, clamped and extreme bounds.
      {"Slice",
       {{5, 7}},
       {{"start", Ints({-1, 0})},
        {"end", Ints({kMin, kMax})},
        {"step", Ints({-1, 2})}},
       false},
      {"Slice",
       {{3, 2, 5}},
       {{"axes", Ints({2, 0})},
        {"start", Ints({5, 2})},
        {"end", Ints({0, 0})},
        {"step", Ints({-2, -1})}},
       false},
      {"Slice",
       {{12}},
       {{"start", Ints({1})}, {"end", Ints({100})}, {"step", Ints({3})}},
       false},
      {"Slice",
       {{4, 3}},
       {{"axes", Ints({0})}, {"start", Ints({3})}, {"end", Ints({1})}},
       false},  // Empty slice: dx = 0.
      {"SliceGrad",
       {{5, 4}, {5, 7}},  // like gets zero.
       {{"start", Ints({-1, 0})},
        {"end", Ints({kMin, kMax})},
        {"step", Ints({-1, 2})}},
       false},
      {"SliceGrad",
       {{2, 2, 2}, Indices({3, 2, 5}, 4)},
       {{"axes", Ints({2, 0})},
        {"start", Ints({5, 2})},
        {"end", Ints({0, 0})},
        {"step", Ints({-2, -1})}},
       false},
  };
}

// Index rows: Indices(shape, bound) with more ids than `bound` repeats some,
// so duplicates accumulate.
std::vector<OpRow> GatherScatterRows() {
  return {
      {"Gather", {{3, 4}, Indices({5}, 3)}, {}, false},
      {"Gather", {{3, 4}, Indices({2, 3}, 4)}, {{"axis", Int(1)}}, false},
      {"Gather",
       {{2, 3, 2}, Indices({4}, 3, DType::kI64)},
       {{"axis", Int(-2)}},
       false},
      {"ScatterAdd", {{3, 4}, Indices({5}, 3), {5, 4}}, {}, false},
      {"ScatterAdd",
       {Indices({3, 4}, 9), Indices({2, 3}, 4), {3, 2, 3}},
       {{"axis", Int(1)}},
       false},
      // Values and x are both differentiated; rows and cols held fixed.
      {"SparseMatMul",
       {Indices({8}, 4, DType::kI64),
        Indices({8}, 5, DType::kI64),
        {8},
        {3, 5}},
       {{"out_features", Int(4)}},
       false},
  };
}

}  // namespace

std::vector<OpRow> ArrayGradRows() {
  std::vector<OpRow> rows;
  for (auto part : {ShapeRows(), ConcatSplitSliceRows(), GatherScatterRows()}) {
    rows.insert(rows.end(), part.begin(), part.end());
  }
  // To f64: in the f64 check a same-dtype Cast; in the f32 check a real
  // f32 -> f64 Cast, compared with the f64 reference. (A Cast to f32 would
  // leave the f64 check's loss in f32 precision.)
  rows.push_back({"Cast", {{3, 4}}, {{"dtype", TypeAttr(DT_DOUBLE)}}, false});
  return rows;
}

}  // namespace rill

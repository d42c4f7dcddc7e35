// Rows for the normalisation and reduction ops.

#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

AttrValue Axes(std::vector<int64_t> axes) {
  return IntListAttr(std::move(axes));
}

std::vector<OpRow> ReduceRows() {
  std::vector<OpRow> rows;
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax"}) {
    std::vector<OpRow> r = {
        {op, {{3, 5, 7}}, {{"axes", Axes({0, 2})}}, true},
        {op, {{3, 5, 7}}, {{"axes", Axes({-1})}, {"keepdims", True()}}, true},
        {op, {{3, 5, 7}}, {{"axes", Axes({1})}}, true},
        {op, {{3, 5, 7}}, {}, true},  // All axes: a scalar.
        {op, {{2, 3, 5}}, {{"axes", Axes({2, 0})}, {"keepdims", True()}}, true},
        {op, {{31}}, {{"axes", Axes({0})}}, true},
        {op, {{4, 1, 6}}, {{"axes", Axes({1, 2})}, {"keepdims", True()}}, true},
        // Nothing shrinks: oneDNN's reduction refuses, the reference runs.
        {op, {{4, 1, 6}}, {{"axes", Axes({1})}}, false},
        {op, {{1, 1}}, {}, false},
        {op, {{}}, {}, false},
        // Empty, but never over an empty axis (ReduceMax rejects it and
        // ReduceMean gives NaN; reduce_test.cc covers those).
        {op, {{0, 3}}, {{"axes", Axes({1})}}, false},
        {op, {{2, 0, 3}}, {{"axes", Axes({0})}, {"keepdims", True()}}, false},
    };
    rows.insert(rows.end(), r.begin(), r.end());
  }
  // The sum over an empty axis is 0.
  rows.push_back({"ReduceSum", {{0, 3}}, {{"axes", Axes({0})}}, false});
  rows.push_back({"ReduceSum", {{2, 0, 3}}, {{"axes", Axes({1, 2})}}, false});
  return rows;
}

}  // namespace

std::vector<OpRow> NnRows() {
  std::vector<OpRow> rows = {
      {"Softmax", {{4, 9}}, {}, true},
      {"Softmax", {{4, 9}}, {{"axis", IntAttr(0)}}, true},
      {"Softmax", {{2, 3, 5}}, {{"axis", IntAttr(1)}}, true},
      {"Softmax", {{1}}, {}, true},
      {"Softmax", {{7, 1}}, {}, true},
      {"Softmax", {{3, 0}}, {}, false},
      {"Softmax", {{0, 5}}, {{"axis", IntAttr(0)}}, false},
      {"LogSoftmax", {{4, 9}}, {}, true},
      {"LogSoftmax", {{31}}, {}, true},
      {"LogSoftmax", {{4, 9}}, {{"axis", IntAttr(-2)}}, true},
      {"LogSoftmax", {{3, 5, 7}}, {{"axis", IntAttr(1)}}, true},
      {"LogSoftmax", {{7, 1}}, {}, true},
      {"LogSoftmax", {{1}}, {}, true},
      {"LogSoftmax", {{3, 0}}, {}, false},
      {"LogSoftmax", {{0, 5}}, {}, false},
      {"LayerNorm", {{4, 9}, {9}, {9}}, {}, true},
      {"LayerNorm", {{3, 5, 7}, {7}, {7}}, {}, true},
      {"LayerNorm",
       {{2, 31}, {31}, {31}},
       {{"epsilon", FloatAttr(1e-3f)}},
       true},
      {"LayerNorm", {{7}, {7}, {7}}, {}, true},     // Rank 1: seen as [1, 7].
      {"LayerNorm", {{5, 1}, {1}, {1}}, {}, true},  // Variance 0: y = beta.
      {"LayerNorm", {{1, 1, 6}, {6}, {6}}, {}, true},
      {"LayerNorm", {{0, 5}, {5}, {5}}, {}, false},
  };
  std::vector<OpRow> reduce = ReduceRows();
  rows.insert(rows.end(), reduce.begin(), reduce.end());
  return rows;
}

}  // namespace rill

// Rows for the normalisation and reduction ops, and the backward ops of the
// nn and loss families.

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
        // oneDNN has only its slow "ref" reduction unless the reduced axes
        // are the innermost: the reference runs the others.
        {op, {{3, 5, 7}}, {{"axes", Axes({0, 2})}}, false},
        {op, {{3, 5, 7}}, {{"axes", Axes({-1})}, {"keepdims", True()}}, true},
        {op, {{3, 5, 7}}, {{"axes", Axes({1})}}, false},
        {op,
         {{2, 3, 5}},
         {{"axes", Axes({2, 0})}, {"keepdims", True()}},
         false},
        {op, {{3, 5, 7}}, {{"axes", Axes({1, 2})}}, true},
        // One sum of mixed signs can cancel, and then the error relative
        // to it measures the summation order, not the kernels: the rows
        // that reduce to a single element sum positive values.
        {op, {Positive({3, 5, 7})}, {}, true},  // All axes: a scalar.
        {op, {Positive({31})}, {{"axes", Axes({0})}}, true},
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

// Uniform random inputs have no ties, so both backends (both the
// reference kernel: oneDNN has no argmax) and both dtypes agree exactly.
std::vector<OpRow> ArgMaxRows() {
  auto axis = [](int64_t a) -> std::map<std::string, AttrValue> {
    return {{"axis", IntAttr(a)}};
  };
  return {
      {"ArgMax", {{3, 5, 7}}, {}, false},
      {"ArgMax", {{3, 5, 7}}, axis(1), false},
      {"ArgMax", {{3, 5, 7}}, axis(-3), false},
      {"ArgMax", {{31}}, {}, false},
      {"ArgMax", {{4, 1}}, axis(1), false},
      {"ArgMax", {{0, 6}}, axis(1), false},
  };
}

std::vector<OpRow> ReduceSumLikeRows() {
  return {
      // Not innermost axes (see ReduceRows): the reference runs.
      {"ReduceSumLike", {{3, 5, 7}, {5, 1}}, {}, false},
      {"ReduceSumLike", {{4, 6}, {}}, {}, true},  // A scalar: sums all.
      {"ReduceSumLike", {{2, 3, 4}, {2, 1, 4}}, {}, false},
      {"ReduceSumLike", {{4, 3, 8}, {3, 8}}, {}, false},  // A weight's grad.
      {"ReduceSumLike", {{3, 5, 7}, {3, 1, 1}}, {}, true},
      // Nothing shrinks: oneDNN's reduction refuses, the reference runs.
      {"ReduceSumLike", {{3, 5}, {3, 5}}, {}, false},
      // An integer `like`: the oneDNN kernel takes f32 only.
      {"ReduceSumLike", {{2, 3}, Indices({1, 3}, 4)}, {}, false},
      {"ReduceSumLike", {{0, 3}, {3}}, {}, false},
  };
}

// SoftmaxGrad and LogSoftmaxGrad take any y; real ones come from the
// forward op, but the formulas are defined everywhere.
std::vector<OpRow> SoftmaxGradRows() {
  std::vector<OpRow> rows;
  for (const char* op : {"SoftmaxGrad", "LogSoftmaxGrad"}) {
    std::vector<OpRow> r = {
        {op, {{4, 9}, {4, 9}}, {}, true},
        {op, {{4, 9}, {4, 9}}, {{"axis", IntAttr(0)}}, true},
        {op, {{2, 3, 5}, {2, 3, 5}}, {{"axis", IntAttr(1)}}, true},
        {op, {{31}, {31}}, {}, true},
        {op, {{7, 1}, {7, 1}}, {}, true},
        {op, {{3, 0}, {3, 0}}, {}, false},
    };
    rows.insert(rows.end(), r.begin(), r.end());
  }
  return rows;
}

// LayerNormGrad(x, gamma, mean, variance, dy): mean and variance need not
// be x's (the op reads them as given), but variance must be >= 0.
std::vector<OpRow> LayerNormGradRows() {
  return {
      {"LayerNormGrad", {{4, 9}, {9}, {4}, Positive({4}), {4, 9}}, {}, true},
      {"LayerNormGrad",
       {{3, 5, 7}, {7}, {3, 5}, Positive({3, 5}), {3, 5, 7}},
       {{"epsilon", FloatAttr(1e-3f)}},
       true},
      {"LayerNormGrad", {{7}, {7}, {}, Positive({}), {7}}, {}, true},
      {"LayerNormGrad", {{5, 1}, {1}, {5}, Positive({5}), {5, 1}}, {}, true},
      {"LayerNormGrad", {{0, 5}, {5}, {0}, Positive({0}), {0, 5}}, {}, false},
  };
}

// No oneDNN primitive: every row runs the reference loop on both backends.
std::vector<OpRow> SoftmaxCrossEntropyGradRows() {
  AttrValue sum = StringAttr("sum");
  return {
      {"SoftmaxCrossEntropyGrad", {{7, 5}, Indices({7}, 5), {}}, {}, false},
      {"SoftmaxCrossEntropyGrad",
       {{7, 5}, Indices({7}, 5, DType::kI64), {}},
       {{"reduction", sum}},
       false},
      {"SoftmaxCrossEntropyGrad",
       {{7, 5}, Indices({7}, 5), {}, Positive({7})},
       {},
       false},
      {"SoftmaxCrossEntropyGrad",
       {{7, 5}, Indices({7}, 5), {}, Positive({7})},
       {{"reduction", sum}},
       false},
      // Labels in [0, 3): about a third of the rows are ignored.
      {"SoftmaxCrossEntropyGrad",
       {{9, 3}, Indices({9}, 3), {}, Positive({9})},
       {{"ignore_index", IntAttr(1)}},
       false},
      {"SoftmaxCrossEntropyGrad",
       {{3, 5, 7}, Indices({3, 5}, 7), {}},
       {},
       false},
      {"SoftmaxCrossEntropyGrad", {{7}, Indices({}, 7), {}}, {}, false},
      {"SoftmaxCrossEntropyGrad", {{0, 5}, Indices({0}, 5), {}}, {}, false},
      // All ignored: zeros.
      {"SoftmaxCrossEntropyGrad",
       {{4, 2}, Indices({4}, 1), {}, Positive({4})},
       {{"ignore_index", IntAttr(0)}},
       false},
  };
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
  for (auto part :
       {ReduceRows(), ArgMaxRows(), ReduceSumLikeRows(), SoftmaxGradRows(),
        LayerNormGradRows(), SoftmaxCrossEntropyGradRows()}) {
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

}  // namespace rill

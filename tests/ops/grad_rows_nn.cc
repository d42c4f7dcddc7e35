// Gradient-check rows for the nn ops, reductions, losses and Dropout.
//
// Inputs stay small (the numeric check runs the graph four times per
// element) and away from kinks: ReduceMax reduces groups of at most six
// uniform values, so that a near-tie within the stencil's reach is
// unlikely.

#include "tests/ops/grad_rows.h"

namespace rill {
namespace {

AttrValue Axes(std::vector<int64_t> axes) {
  return IntListAttr(std::move(axes));
}

std::vector<OpRow> SoftmaxGradRows() {
  std::vector<OpRow> rows;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    rows.push_back({op, {{3, 4}}, {}, false});
    rows.push_back({op, {{3, 4}}, {{"axis", IntAttr(0)}}, false});
    rows.push_back({op, {{2, 3, 2}}, {{"axis", IntAttr(1)}}, false});
  }
  // The backward ops, as the second-order gradient differentiates them.
  for (const char* op : {"SoftmaxGrad", "LogSoftmaxGrad"}) {
    rows.push_back({op, {{3, 4}, {3, 4}}, {}, false});
    rows.push_back({op, {{3, 4}, {3, 4}}, {{"axis", IntAttr(0)}}, false});
    rows.push_back(
        {op, {{2, 3, 2}, {2, 3, 2}}, {{"axis", IntAttr(-2)}}, false});
  }
  return rows;
}

// The loss weighs every output, so gradients reaching mean and variance
// are checked too.
std::vector<OpRow> LayerNormGradRows() {
  return {
      {"LayerNorm", {{3, 4}, {4}, {4}}, {}, false},
      {"LayerNorm",
       {{2, 2, 3}, {3}, {3}},
       {{"epsilon", FloatAttr(1e-2f)}},
       false},
      {"LayerNorm", {{5}, {5}, {5}}, {}, false},
      {"LayerNormGrad", {{3, 4}, {4}, {3}, Positive({3}), {3, 4}}, {}, false},
      {"LayerNormGrad",
       {{2, 2, 3}, {3}, {2, 2}, Positive({2, 2}), {2, 2, 3}},
       {{"epsilon", FloatAttr(1e-2f)}},
       false},
      {"LayerNormGrad", {{4}, {4}, {}, Positive({}), {4}}, {}, false},
  };
}

std::vector<OpRow> ReduceGradRows() {
  std::vector<OpRow> rows;
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax"}) {
    rows.push_back({op, {{3, 4}}, {{"axes", Axes({1})}}, false});
    rows.push_back({op,
                    {{2, 3, 2}},
                    {{"axes", Axes({0, -1})}, {"keepdims", True()}},
                    false});
    rows.push_back({op, {{2, 3}}, {}, false});  // All axes: a scalar.
  }
  rows.push_back({"ReduceSum", {{2, 3, 2}}, {{"axes", Axes({1})}}, false});
  rows.push_back({"ReduceMean", {{4, 3}}, {{"axes", Axes({0})}}, false});
  // A float `like` gets a zero gradient: only its shape is read.
  rows.push_back({"ReduceSumLike", {{3, 4}, {1, 4}}, {}, false});
  rows.push_back({"ReduceSumLike", {{2, 3, 4}, {3, 1}}, {}, false});
  return rows;
}

std::vector<OpRow> LossGradRows() {
  AttrValue sum = StringAttr("sum");
  // Labels in [0, 2) with ignore_index 1: about half of the ten rows are
  // ignored (none with probability 2^-10).
  InputSpec half_ignored = Indices({10}, 2);
  return {
      {"MeanSquaredError", {{3, 4}, {3, 4}}, {}, false},
      {"MeanSquaredError", {{5}, {5}}, {}, false},
      {"SoftmaxCrossEntropy", {{5, 3}, Indices({5}, 3)}, {}, false},
      {"SoftmaxCrossEntropy",
       {{5, 3}, Indices({5}, 3, DType::kI64)},
       {{"reduction", sum}},
       false},
      {"SoftmaxCrossEntropy",
       {{5, 3}, Indices({5}, 3), Positive({5})},
       {},
       false},
      {"SoftmaxCrossEntropy",
       {{5, 3}, Indices({5}, 3), Positive({5})},
       {{"reduction", sum}},
       false},
      {"SoftmaxCrossEntropy",
       {{10, 3}, half_ignored},
       {{"ignore_index", IntAttr(1)}},
       false},
      {"SoftmaxCrossEntropy",
       {{10, 3}, half_ignored, Positive({10})},
       {{"ignore_index", IntAttr(1)}},
       false},
      {"SoftmaxCrossEntropy",
       {{10, 3}, half_ignored, Positive({10})},
       {{"ignore_index", IntAttr(1)}, {"reduction", sum}},
       false},
      {"SoftmaxCrossEntropy", {{2, 3, 4}, Indices({2, 3}, 4)}, {}, false},
      // Every row ignored: the loss is 0, and so are its gradients.
      {"SoftmaxCrossEntropy",
       {{3, 2}, Indices({3}, 1), Positive({3})},
       {{"ignore_index", IntAttr(0)}},
       false},
  };
}

// SoftmaxCrossEntropyGrad(logits, labels, dloss, weights...), as the
// second-order gradient differentiates it.
std::vector<OpRow> LossBackwardGradRows() {
  const char* op = "SoftmaxCrossEntropyGrad";
  AttrValue sum = StringAttr("sum");
  InputSpec half_ignored = Indices({8}, 2);
  return {
      {op, {{4, 3}, Indices({4}, 3), {}}, {}, false},
      {op,
       {{4, 3}, Indices({4}, 3, DType::kI64), {}},
       {{"reduction", sum}},
       false},
      {op, {{4, 3}, Indices({4}, 3), {}, Positive({4})}, {}, false},
      {op,
       {{4, 3}, Indices({4}, 3), {}, Positive({4})},
       {{"reduction", sum}},
       false},
      {op,
       {{8, 3}, half_ignored, {}, Positive({8})},
       {{"ignore_index", IntAttr(1)}},
       false},
      {op,
       {{8, 3}, half_ignored, {}, Positive({8})},
       {{"ignore_index", IntAttr(1)}, {"reduction", sum}},
       false},
      {op, {{2, 2, 3}, Indices({2, 2}, 3), {}}, {}, false},
      {op, {{5}, Indices({}, 5), {}}, {}, false},
      {op,
       {{3, 2}, Indices({3}, 1), {}, Positive({3})},
       {{"ignore_index", IntAttr(0)}},
       false},
  };
}

}  // namespace

std::vector<OpRow> NnGradRows() {
  std::vector<OpRow> rows;
  for (auto part :
       {SoftmaxGradRows(), LayerNormGradRows(), ReduceGradRows(),
        LossGradRows(), LossBackwardGradRows(),
        std::vector<OpRow>{
            {"Dropout", {{4, 5}}, {}, false},
            {"Dropout", {{3, 4}}, {{"rate", FloatAttr(0.25f)}}, false},
            {"Dropout", {{3, 4}}, {{"training", BoolAttr(false)}}, false},
        }}) {
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

}  // namespace rill

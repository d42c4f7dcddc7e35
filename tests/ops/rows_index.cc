// Rows for the indexing, random and loss ops. None has a oneDNN primitive,
// so every row says onednn = false; the random rows check that both
// backends draw the same numbers.

#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

AttrValue Int(int64_t v) { return IntAttr(v); }
AttrValue Float(float v) { return FloatAttr(v); }
AttrValue False() { return BoolAttr(false); }

AttrValue ShapeOf(std::vector<int64_t> dims) {
  AttrValue v;
  ShapeProto* shape = v.mutable_shape();  // Set even for a scalar.
  for (int64_t d : dims) shape->add_dim(d);
  return v;
}

AttrValue TypeOf(DataType t) {
  AttrValue v;
  v.set_type(t);
  return v;
}

InputSpec Ids64(Shape s, int64_t bound) {
  return Indices(std::move(s), bound, DType::kI64);
}

std::vector<OpRow> GatherRows() {
  return {
      {"Gather", {{7, 5}, Indices({4}, 7)}, {}, false},
      {"Gather", {{7, 5}, Ids64({2, 3}, 7)}, {}, false},
      {"Gather", {{3, 5, 7}, Indices({4}, 5)}, {{"axis", Int(1)}}, false},
      {"Gather", {{3, 5, 7}, Indices({2, 2}, 7)}, {{"axis", Int(-1)}}, false},
      {"Gather", {{31}, Indices({}, 31)}, {}, false},  // Scalar index.
      {"Gather", {{1, 1}, Indices({1}, 1)}, {}, false},
      {"Gather", {{5, 3}, Indices({0}, 5)}, {}, false},  // No indices.
      {"Gather", {{0, 4}, Indices({2, 0}, 1)}, {{"axis", Int(1)}}, false},
      {"Gather",
       {InputSpec({6, 2}, DType::kI32, Fill::kIndices, 100), Indices({3}, 6)},
       {},
       false},
      {"Gather", {Bools({4, 3}), Ids64({5}, 4)}, {}, false},
      {"ScatterAdd", {{7, 5}, Indices({4}, 7), {4, 5}}, {}, false},
      // 12 ids into 3 rows: duplicates accumulate.
      {"ScatterAdd", {{3, 5}, Ids64({12}, 3), {12, 5}}, {}, false},
      {"ScatterAdd",
       {{3, 5, 7}, Indices({2, 2}, 5), {3, 2, 2, 7}},
       {{"axis", Int(1)}},
       false},
      {"ScatterAdd", {{31}, Indices({}, 31), {}}, {}, false},
      {"ScatterAdd", {{5, 3}, Indices({0}, 5), {0, 3}}, {}, false},
      {"ScatterAdd", {{1, 1}, Indices({1}, 1), {1, 1}}, {}, false},
      {"ScatterAdd",
       {Indices({4, 2}, 9), Indices({6}, 4),
        InputSpec({6, 2}, DType::kI64, Fill::kIndices, 50)},
       {},
       false},
  };
}

std::vector<OpRow> OneHotAndMaskRows() {
  return {
      {"OneHot", {Indices({7}, 5)}, {{"depth", Int(5)}}, false},
      // Ids up to 6 against depth 5: some columns all off.
      {"OneHot", {Ids64({3, 5}, 7)}, {{"depth", Int(5)}}, false},
      {"OneHot",
       {Indices({3, 5}, 4)},
       {{"depth", Int(4)}, {"axis", Int(0)}},
       false},
      {"OneHot",
       {Indices({2, 3}, 3)},
       {{"depth", Int(3)},
        {"axis", Int(1)},
        {"on_value", Float(2.5f)},
        {"off_value", Float(-1.f)}},
       false},
      {"OneHot", {Indices({}, 31)}, {{"depth", Int(31)}}, false},
      {"OneHot", {Indices({0, 3}, 3)}, {{"depth", Int(3)}}, false},
      {"OneHot", {Indices({4}, 3)}, {{"depth", Int(0)}}, false},
      {"OneHot",
       {Indices({6}, 4)},
       {{"depth", Int(4)}, {"dtype", TypeOf(DT_INT32)}},
       false},
      {"OneHot",
       {Indices({6}, 4)},
       {{"depth", Int(4)}, {"dtype", TypeOf(DT_DOUBLE)}},
       false},
      {"CausalMask", {{7, 7}}, {}, false},
      {"CausalMask", {{2, 3, 5, 7}}, {}, false},  // T_q 5, T_k 7.
      {"CausalMask", {{1, 1}}, {{"additive", False()}}, false},
      {"CausalMask", {{2, 0, 3}}, {}, false},
      {"CausalMask", {{31, 3}}, {{"additive", False()}}, false},
      {"PaddingMask", {Indices({4}, 8), {4, 7}}, {}, false},
      {"PaddingMask", {Ids64({3}, 6), {3, 2, 5}}, {}, false},
      {"PaddingMask",
       {Indices({5}, 32), {5, 31}},
       {{"additive", False()}},
       false},
      {"PaddingMask", {Indices({1}, 2), {1}}, {}, false},
      {"PaddingMask", {Indices({0}, 1), {3}}, {}, false},
      {"PaddingMask", {Indices({2}, 1), {2, 0}}, {}, false},
  };
}

std::vector<OpRow> RandomRows() {
  return {
      {"RandomUniform", {}, {{"shape", ShapeOf({3, 5, 7})}}, false},
      {"RandomUniform",
       {},
       {{"shape", ShapeOf({31})},
        {"minval", Float(-3.f)},
        {"maxval", Float(2.f)},
        {"seed", Int(7)}},
       false},
      {"RandomUniform", {}, {{"shape", ShapeOf({})}}, false},
      {"RandomUniform", {}, {{"shape", ShapeOf({0, 4})}}, false},
      {"RandomUniform",
       {},
       {{"shape", ShapeOf({2, 3})}, {"dtype", TypeOf(DT_DOUBLE)}},
       false},
      {"RandomNormal", {}, {{"shape", ShapeOf({7})}}, false},  // Odd count.
      {"RandomNormal",
       {},
       {{"shape", ShapeOf({3, 5, 7})},
        {"mean", Float(1.f)},
        {"stddev", Float(0.1f)},
        {"seed", Int(3)}},
       false},
      {"RandomNormal", {}, {{"shape", ShapeOf({1, 1})}}, false},
      {"RandomNormal", {}, {{"shape", ShapeOf({0})}}, false},
      {"TruncatedNormal", {}, {{"shape", ShapeOf({31})}}, false},
      {"TruncatedNormal",
       {},
       {{"shape", ShapeOf({3, 5, 7})}, {"stddev", Float(0.02f)}},
       false},
      {"TruncatedNormal", {}, {{"shape", ShapeOf({})}}, false},
      {"TruncatedNormal",
       {},
       {{"shape", ShapeOf({4, 0})}, {"dtype", TypeOf(DT_DOUBLE)}},
       false},
      {"Dropout", {{3, 5, 7}}, {}, false},
      {"Dropout", {{31}}, {{"rate", Float(0.1f)}, {"seed", Int(9)}}, false},
      {"Dropout", {{}}, {{"rate", Float(0.9f)}}, false},
      {"Dropout", {{0, 3}}, {}, false},
      {"Dropout", {{1, 1}}, {{"rate", Float(0.f)}}, false},
      {"Dropout", {{4, 7}}, {{"training", False()}}, false},
  };
}

std::vector<OpRow> LossRows() {
  return {
      {"SoftmaxCrossEntropy", {{7, 5}, Indices({7}, 5)}, {}, false},
      {"SoftmaxCrossEntropy", {{31, 3}, Ids64({31}, 3)}, {}, false},
      {"SoftmaxCrossEntropy",
       {{7, 5}, Indices({7}, 5)},
       {{"reduction", StringAttr("sum")}},
       false},
      {"SoftmaxCrossEntropy",
       {{7, 5}, Indices({7}, 5), Positive({7})},
       {},
       false},
      {"SoftmaxCrossEntropy",
       {{7, 5}, Indices({7}, 5), Positive({7})},
       {{"reduction", StringAttr("sum")}},
       false},
      // Labels in [0, 3): about a third of the rows are ignored.
      {"SoftmaxCrossEntropy",
       {{9, 3}, Indices({9}, 3), Positive({9})},
       {{"ignore_index", Int(1)}},
       false},
      {"SoftmaxCrossEntropy", {{3, 5, 7}, Indices({3, 5}, 7)}, {}, false},
      {"SoftmaxCrossEntropy", {{7}, Indices({}, 7)}, {}, false},
      {"SoftmaxCrossEntropy", {{1, 1}, Indices({1}, 1)}, {}, false},
      {"SoftmaxCrossEntropy", {{0, 5}, Indices({0}, 5)}, {}, false},
      {"SoftmaxCrossEntropy",
       {{4, 1}, Indices({4}, 1)},
       {{"ignore_index", Int(0)}},  // All ignored: 0.
       false},
      {"MeanSquaredError", {{3, 5}, {3, 5}}, {}, false},
      {"MeanSquaredError", {{3, 5, 7}, {3, 5, 7}}, {}, false},
      {"MeanSquaredError", {{31}, {31}}, {}, false},
      {"MeanSquaredError", {{}, {}}, {}, false},
      {"MeanSquaredError", {{1, 1}, {1, 1}}, {}, false},
      {"MeanSquaredError", {{0, 4}, {0, 4}}, {}, false},
  };
}

}  // namespace

// Entries at random positions: unsorted, some repeated, some rows empty.
std::vector<OpRow> SparseRows() {
  auto out = [](int64_t n) {
    return std::map<std::string, AttrValue>{{"out_features", Int(n)}};
  };
  return {
      {"SparseMatMul",
       {Ids64({9}, 4), Ids64({9}, 5), {9}, {3, 5}},
       out(4),
       false},
      {"SparseMatMul",
       {Ids64({40}, 7), Ids64({40}, 6), {40}, {1, 6}},
       out(7),
       false},
      {"SparseMatMul",
       {Ids64({0}, 1), Ids64({0}, 1), {0}, {2, 3}},
       out(4),
       false},
      {"SparseMatMul",
       {Ids64({5}, 3), Ids64({5}, 2), {5}, {0, 2}},
       out(3),
       false},
  };
}

std::vector<OpRow> IndexRows() {
  std::vector<OpRow> rows;
  for (auto part : {GatherRows(), OneHotAndMaskRows(), RandomRows(), LossRows(),
                    SparseRows()}) {
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

}  // namespace rill

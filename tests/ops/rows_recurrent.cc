// Rows for the fused recurrent-layer ops, one or more per cell.

#include <array>

#include "tests/ops/op_test_util.h"

namespace rill {

std::vector<InputSpec> RecurrentLayerInputs(const std::string& cell, int64_t t,
                                            int64_t b, int64_t i, int64_t h) {
  const int64_t gh = (cell == "lstm"                           ? 4
                      : cell == "gru" || cell == "gru_pytorch" ? 3
                                                               : 1) *
                     h;
  std::vector<InputSpec> in = {Shape{t, b, i}, Shape{b, h}, Shape{gh, i},
                               Shape{gh, h},   Shape{gh},   Shape{gh}};
  if (cell == "lstm") in.push_back(Shape{b, h});
  return in;
}

const std::vector<std::string>& RecurrentCells() {
  static const auto* cells = new std::vector<std::string>{
      "rnn_tanh", "rnn_relu", "lstm", "gru", "gru_pytorch"};
  return *cells;
}

std::vector<OpRow> RecurrentRows() {
  std::vector<OpRow> rows;
  for (const std::string& cell : RecurrentCells()) {
    const std::map<std::string, AttrValue> attrs = {{"cell", StringAttr(cell)}};
    for (auto [t, b, i, h] : {std::array<int64_t, 4>{3, 2, 4, 5},
                              std::array<int64_t, 4>{1, 1, 1, 1},
                              std::array<int64_t, 4>{4, 3, 7, 2}}) {
      rows.push_back({"RecurrentLayer", RecurrentLayerInputs(cell, t, b, i, h),
                      attrs, true});
      // The backward op: forward inputs, dy and dhn, then for lstm c0 and
      // dcn.
      std::vector<InputSpec> in = RecurrentLayerInputs(cell, t, b, i, h);
      if (cell == "lstm") in.pop_back();
      in.push_back(Shape{t, b, h});
      in.push_back(Shape{b, h});
      if (cell == "lstm") {
        in.push_back(Shape{b, h});
        in.push_back(Shape{b, h});
      }
      rows.push_back({"RecurrentLayerGrad", in, attrs, true});
      // The backward direction of a bidirectional layer, at the first shape.
      if (t != 3) continue;
      std::map<std::string, AttrValue> reverse = attrs;
      reverse["reverse"] = True();
      rows.push_back({"RecurrentLayer", RecurrentLayerInputs(cell, t, b, i, h),
                      reverse, true});
      rows.push_back({"RecurrentLayerGrad", in, reverse, true});
    }
  }
  // Empty batches: oneDNN takes no empty tensors, so the reference runs;
  // the states are empty and the weight gradients zero.
  for (const char* name : {"lstm", "gru"}) {
    const std::string cell = name;
    std::vector<InputSpec> in = RecurrentLayerInputs(cell, 3, 0, 4, 5);
    rows.push_back({"RecurrentLayer", in, {{"cell", StringAttr(cell)}}, false});
    if (cell == "lstm") in.pop_back();
    in.push_back(Shape{3, 0, 5});
    in.push_back(Shape{0, 5});
    if (cell == "lstm") {
      in.push_back(Shape{0, 5});
      in.push_back(Shape{0, 5});
    }
    rows.push_back(
        {"RecurrentLayerGrad", in, {{"cell", StringAttr(cell)}}, false});
  }
  return rows;
}

}  // namespace rill

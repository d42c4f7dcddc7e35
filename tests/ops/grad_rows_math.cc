// Gradient-check rows for the element-wise ops, Identity and MatMul.

#include "tests/ops/grad_rows.h"

namespace rill {

std::vector<OpRow> MathGradRows() {
  std::vector<OpRow> rows;
  rows.push_back({"Add", {{3, 4}, {4}}, {}, false});
  rows.push_back({"Mul", {{2, 3, 4}, {3, 1}}, {}, false});
  rows.push_back({"Tanh", {{3, 5}}, {}, false});
  return rows;
}

}  // namespace rill

// Rows for the element-wise math ops and MatMul.

#include "tests/ops/op_test_util.h"

namespace rill {

std::vector<OpRow> MathRows() {
  return {
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
      {"MatMul", {{0, 4}, {4, 3}}, {}, false},
  };
}

}  // namespace rill

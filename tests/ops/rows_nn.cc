// Rows for the normalisation and reduction ops.

#include "tests/ops/op_test_util.h"

namespace rill {

std::vector<OpRow> NnRows() {
  return {
      {"Softmax", {{4, 9}}, {}, true},
      {"Softmax", {{4, 9}}, {{"axis", IntAttr(0)}}, true},
      {"Softmax", {{2, 3, 5}}, {{"axis", IntAttr(1)}}, true},
      {"Softmax", {{1}}, {}, true},
      {"Softmax", {{7, 1}}, {}, true},
  };
}

}  // namespace rill

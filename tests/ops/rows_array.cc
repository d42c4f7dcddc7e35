// Rows for the shape and layout ops.

#include "tests/ops/op_test_util.h"

namespace rill {

std::vector<OpRow> ArrayRows() { return {}; }

}  // namespace rill

#ifndef RILL_TESTS_OPS_GRAD_ROWS_H_
#define RILL_TESTS_OPS_GRAD_ROWS_H_

// The gradient-check table: one or more rows per differentiable op. Each
// family keeps its rows in grad_rows_<family>.cc. A row reuses OpRow (its
// `onednn` field is not read): its float inputs are differentiated, integer
// and bool inputs are held fixed.

#include <vector>

#include "tests/ops/op_test_util.h"

namespace rill {

std::vector<OpRow> MathGradRows();       // elementwise, Identity, MatMul
std::vector<OpRow> ArrayGradRows();      // shape and layout, values, indexing
std::vector<OpRow> NnGradRows();         // nn, reductions, losses, Dropout
std::vector<OpRow> RecurrentGradRows();  // RecurrentLayer
std::vector<OpRow> AllGradRows();

}  // namespace rill

#endif  // RILL_TESTS_OPS_GRAD_ROWS_H_

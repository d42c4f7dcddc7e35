#ifndef RILL_TESTS_GRAPH_TEST_OPS_H_
#define RILL_TESTS_GRAPH_TEST_OPS_H_

#include "ops/registry.h"

namespace rill {

// Every registered op plus "SelfAndShape", the only op here with two
// outputs: y (x itself) and shape (an i64 vector [rank(x)]), so that tests
// can exercise "node:1" references. No kernels: validation only.
const OpRegistry& TestOpRegistry();

}  // namespace rill

#endif  // RILL_TESTS_GRAPH_TEST_OPS_H_

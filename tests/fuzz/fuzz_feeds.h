#ifndef RILL_TESTS_FUZZ_FUZZ_FEEDS_H_
#define RILL_TESTS_FUZZ_FUZZ_FEEDS_H_

#include <map>
#include <string>

#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

// Deterministic inputs for every Input node of `g`, symbolic dimensions
// bound to 2, filled with small integers (valid indices for small axes, and
// exact in every dtype). False when an input would pass `memory_budget`.
bool DeterministicFeeds(const ValidGraph& g, int64_t memory_budget,
                        std::map<std::string, Tensor>* feeds);

}  // namespace rill

#endif  // RILL_TESTS_FUZZ_FUZZ_FEEDS_H_

#ifndef RILL_TESTS_FUZZ_FUZZ_GRAPH_H_
#define RILL_TESTS_FUZZ_FUZZ_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

// What the fuzz targets that run graphs share: the input as a text graph
// (at most 1 MiB), validated with a 4 MiB memory budget, so that each run
// stays fast; an error status for anything that does not load or validate.
constexpr int64_t kFuzzMemoryBudget = int64_t{4} << 20;
absl::StatusOr<ValidGraph> LoadFuzzGraph(const uint8_t* data, size_t size);

// Deterministic inputs for every Input node of `g`, symbolic dimensions
// bound to 2, filled with small integers (valid indices for small axes, and
// exact in every dtype). False when an input would pass `memory_budget`.
bool DeterministicFeeds(const ValidGraph& g, int64_t memory_budget,
                        std::map<std::string, Tensor>* feeds);

}  // namespace rill

#endif  // RILL_TESTS_FUZZ_FUZZ_GRAPH_H_

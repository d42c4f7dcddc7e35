// libFuzzer target for load + validate + one run: a graph that validates is
// fed deterministic inputs (symbolic dimensions bound to 2) and every node's
// first output is fetched, on the reference and the oneDNN backends. Any
// input may fail with a status, never crash. Seeds: the graph_text seeds.

#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/validate.h"
#include "runtime/executor.h"
#include "tests/fuzz/fuzz_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<rill::ValidGraph> g = rill::LoadFuzzGraph(data, size);
  if (!g.ok()) return 0;
  std::map<std::string, rill::Tensor> feeds;
  if (!rill::DeterministicFeeds(*g, rill::kFuzzMemoryBudget, &feeds)) return 0;
  std::vector<std::string> fetches;
  for (int n = 0; n < g->num_nodes(); ++n) fetches.push_back(g->node(n).name());
  for (rill::Backend backend :
       {rill::Backend::kReference, rill::Backend::kOneDnn}) {
    absl::StatusOr<std::unique_ptr<rill::Executor>> ex =
        rill::Executor::Create(*g, {backend});
    if (!ex.ok()) return 0;
    (void)(*ex)->RunNoCopy(feeds,
                           fetches);  // Errors are fine; crashes are not.
  }
  return 0;
}

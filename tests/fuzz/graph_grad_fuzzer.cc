// libFuzzer target for the autodiff pass: a graph that validates is
// differentiated (its last node's first output as the loss, with a fed seed
// gradient, with respect to every float input), and the gradient graph is
// run on the reference backend. Statuses are fine, except an internal error
// from the pass, which means a gradient builder emitted a node that does
// not check: that aborts, like a crash. Seeds: the graph_text seeds.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "graph/autodiff.h"
#include "graph/validate.h"
#include "runtime/executor.h"
#include "tests/fuzz/fuzz_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<rill::ValidGraph> g = rill::LoadFuzzGraph(data, size);
  if (!g.ok()) return 0;
  int last = g->num_nodes() - 1;
  if (!rill::kFloatTypes.Contains(g->info(last).dtypes[0])) return 0;
  rill::GradientRequest request;
  request.losses = {g->node(last).name()};
  request.seed_inputs = true;
  request.allow_unreached = true;
  for (int n : g->input_nodes()) {
    if (rill::kFloatTypes.Contains(g->info(n).dtypes[0])) {
      request.wrt.push_back(g->node(n).name());
    }
  }
  if (request.wrt.empty()) return 0;
  absl::StatusOr<rill::GradientGraph> grad =
      rill::BuildGradientGraph(*g, request);
  if (grad.status().code() == absl::StatusCode::kInternal) {
    std::fprintf(stderr, "%s\n", grad.status().ToString().c_str());
    std::abort();
  }
  if (!grad.ok()) return 0;
  std::map<std::string, rill::Tensor> feeds;
  if (!rill::DeterministicFeeds(grad->graph, rill::kFuzzMemoryBudget, &feeds))
    return 0;
  absl::StatusOr<std::unique_ptr<rill::Executor>> ex = rill::Executor::Create(
      std::move(grad->graph), {rill::Backend::kReference});
  if (!ex.ok()) return 0;
  (void)(*ex)->RunNoCopy(feeds, grad->gradients);  // Errors are fine.
  return 0;
}

// libFuzzer target for load + validate + one run: a graph that validates is
// fed deterministic inputs (symbolic dimensions bound to 2) and every node's
// first output is fetched, on the reference and the oneDNN backends. Any
// input may fail with a status, never crash. Seeds: the graph_text seeds.

#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/loader.h"
#include "graph/validate.h"
#include "runtime/executor.h"

namespace {

// Small, so that each run stays fast (a MatMul's work grows with its sizes).
constexpr int64_t kMemoryBudget = int64_t{4} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rill::LoadOptions load;
  load.max_file_bytes = int64_t{1} << 20;
  absl::StatusOr<rill::LoadedGraph> loaded = rill::ParseGraphText(
      std::string(reinterpret_cast<const char*>(data), size), "fuzz.pbtxt",
      load);
  if (!loaded.ok()) return 0;
  rill::ValidateOptions options;
  options.memory_budget = kMemoryBudget;
  absl::StatusOr<rill::ValidGraph> g =
      rill::ValidateGraph(*std::move(loaded), options);
  if (!g.ok()) return 0;
  std::map<std::string, rill::Tensor> feeds;
  for (int n : g->input_nodes()) {
    rill::Shape shape = g->info(n).shapes[0];
    for (int64_t& d : shape.mutable_dims()) {
      if (d == rill::kSymbolicDim) d = 2;
    }
    absl::StatusOr<int64_t> bytes = shape.ByteSize(g->info(n).dtypes[0]);
    if (!bytes.ok() || *bytes > kMemoryBudget) return 0;
    rill::Tensor t = *rill::Tensor::Allocate(g->info(n).dtypes[0], shape);
    // Small integers: valid indices for small axes, and exact in every dtype.
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      switch (t.dtype()) {
        case rill::DType::kF32:
          t.data<float>()[i] = static_cast<float>(i % 3);
          break;
        case rill::DType::kF64:
          t.data<double>()[i] = static_cast<double>(i % 3);
          break;
        case rill::DType::kI32:
          t.data<int32_t>()[i] = static_cast<int32_t>(i % 3);
          break;
        case rill::DType::kI64:
          t.data<int64_t>()[i] = i % 3;
          break;
        case rill::DType::kBool:
          t.data<bool>()[i] = i % 2;
          break;
      }
    }
    feeds[g->node(n).name()] = t;
  }
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

// libFuzzer target for the text-format graph loader, the recurrent fusion
// pass (which `rill run` applies before validating) and the validator: any
// input must load, fuse and validate, or fail with a status; never crash,
// leak or allocate past the budget. Seeds: tests/graph/testdata/malformed/ and
// examples/*.pbtxt.

#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/fuse_recurrent.h"
#include "graph/loader.h"
#include "graph/validate.h"

namespace {

constexpr int64_t kMaxFileBytes = int64_t{1} << 20;
constexpr int64_t kMemoryBudget = int64_t{64} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  rill::LoadOptions load;
  load.max_file_bytes = kMaxFileBytes;
  absl::StatusOr<rill::LoadedGraph> loaded =
      rill::ParseGraphText(text, "fuzz.pbtxt", load);
  if (!loaded.ok()) {
    // Errors from the loader always say where: the source name comes first.
    if (loaded.status().message().rfind("fuzz.pbtxt", 0) != 0) {
      __builtin_trap();
    }
    return 0;
  }
  if (!rill::FuseRecurrentLayers(&loaded->graph).ok()) return 0;
  rill::ValidateOptions options;
  options.memory_budget = kMemoryBudget;
  absl::StatusOr<rill::ValidGraph> g =
      rill::ValidateGraph(*std::move(loaded), options);
  if (!g.ok()) return 0;
  // What validated is consistent: a full schedule, producers first.
  if (static_cast<int>(g->topo_order().size()) != g->num_nodes()) {
    __builtin_trap();
  }
  return 0;
}

// libFuzzer target for the binary graph loader (including its wire-level
// duplicate-attribute scan) and the validator: any input must load and
// validate, or fail with a status; never crash. Seeds: corpus/graph_binary/,
// made by corpus/make_graph_binary_seeds.sh.

#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/loader.h"
#include "graph/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  rill::LoadOptions load;
  load.max_file_bytes = int64_t{1} << 20;
  absl::StatusOr<rill::LoadedGraph> loaded =
      rill::ParseGraphBinary(bytes, "fuzz.pb", load);
  if (!loaded.ok()) {
    // Loader errors always name the source first.
    if (loaded.status().message().rfind("fuzz.pb", 0) != 0) __builtin_trap();
    return 0;
  }
  rill::ValidateOptions options;
  options.memory_budget = int64_t{64} << 20;
  absl::StatusOr<rill::ValidGraph> g =
      rill::ValidateGraph(*std::move(loaded), options);
  if (g.ok() && static_cast<int>(g->topo_order().size()) != g->num_nodes()) {
    __builtin_trap();
  }
  return 0;
}

#include "tests/fuzz/fuzz_graph.h"

#include "graph/loader.h"

namespace rill {

absl::StatusOr<ValidGraph> LoadFuzzGraph(const uint8_t* data, size_t size) {
  LoadOptions load;
  load.max_file_bytes = int64_t{1} << 20;
  ASSIGN_OR_RETURN(
      LoadedGraph loaded,
      ParseGraphText(std::string(reinterpret_cast<const char*>(data), size),
                     "fuzz.pbtxt", load));
  ValidateOptions options;
  options.memory_budget = kFuzzMemoryBudget;
  return ValidateGraph(std::move(loaded), options);
}

bool DeterministicFeeds(const ValidGraph& g, int64_t memory_budget,
                        std::map<std::string, Tensor>* feeds) {
  for (int n : g.input_nodes()) {
    Shape shape = g.info(n).shapes[0];
    for (int64_t& d : shape.mutable_dims()) {
      if (d == kSymbolicDim) d = 2;
    }
    absl::StatusOr<int64_t> bytes = shape.ByteSize(g.info(n).dtypes[0]);
    if (!bytes.ok() || *bytes > memory_budget) return false;
    Tensor t = *Tensor::Allocate(g.info(n).dtypes[0], shape);
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      switch (t.dtype()) {
        case DType::kF32:
          t.data<float>()[i] = static_cast<float>(i % 3);
          break;
        case DType::kF64:
          t.data<double>()[i] = static_cast<double>(i % 3);
          break;
        case DType::kI32:
          t.data<int32_t>()[i] = static_cast<int32_t>(i % 3);
          break;
        case DType::kI64:
          t.data<int64_t>()[i] = i % 3;
          break;
        case DType::kBool:
          t.data<bool>()[i] = i % 2;
          break;
      }
    }
    (*feeds)[g.node(n).name()] = t;
  }
  return true;
}

}  // namespace rill

// libFuzzer target for the ONNX importer: any bytes must import into a
// valid graph or fail with a status (never crash, hang or over-allocate).

#include <cstddef>
#include <cstdint>
#include <string>

#include "onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rill::OnnxImportOptions options;
  options.memory_budget = 1 << 22;
  // External data must not reach real files.
  options.model_dir = "/nonexistent-onnx-fuzz";
  std::string bytes(reinterpret_cast<const char*>(data), size);
  rill::ImportOnnxBytes(bytes, "fuzz.onnx", options).status().IgnoreError();
  return 0;
}

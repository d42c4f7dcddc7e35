#ifndef RILL_ONNX_IMPORT_H_
#define RILL_ONNX_IMPORT_H_

// ONNX models as rill graphs: each ONNX node becomes one or more of rill's
// primitive ops; initialisers become Parameters (float) or Consts; graph
// inputs become Inputs, their dim_params symbolic (-1) dims. Nodes whose
// inputs are all constants other than float initialisers (Shape,
// ConstantOfShape, the shape arithmetic of exports) are folded at import.
//
//   ASSIGN_OR_RETURN(Graph g, ImportOnnxFile("model.onnx"));

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "onnx/onnx.pb.h"
#include "proto/graph.pb.h"

namespace rill {

struct OnnxImportOptions {
  // Where external-data files are looked up (and must stay).
  std::string model_dir = ".";
  // Bytes that the initialisers and folded constants may take.
  int64_t memory_budget = int64_t{8} << 30;
  // The file's size limit for ImportOnnxFile.
  int64_t max_file_bytes = int64_t{2} << 30;
  // Graph inputs fixed to a value at import, as constants: for an input
  // that rill needs to know at import (a Reshape's shape, a Slice's starts,
  // which exports make constants but ONNX's node tests feed).
  std::map<std::string, Tensor> bound_inputs;
};

// The ONNX IR versions and default-domain opsets that the importer reads.
inline constexpr int64_t kMinOnnxIrVersion = 3;
inline constexpr int64_t kMaxOnnxIrVersion = 8;
inline constexpr int64_t kMinOnnxOpset = 7;
inline constexpr int64_t kMaxOnnxOpset = 17;

// The graph, validated. Unsupported nodes are one error listing each (name,
// op_type, domain); nothing is dropped.
absl::StatusOr<Graph> ImportOnnx(const ::onnx::ModelProto& model,
                                 const OnnxImportOptions& options = {});
// Parses `bytes` (a serialized ModelProto) and imports it; `source` names it.
absl::StatusOr<Graph> ImportOnnxBytes(const std::string& bytes,
                                      const std::string& source,
                                      const OnnxImportOptions& options = {});
// Reads `path` (model_dir defaults to its directory).
absl::StatusOr<Graph> ImportOnnxFile(const std::string& path,
                                     OnnxImportOptions options = {});

// The ONNX op types (default domain) that the importer translates, sorted.
std::vector<std::string> SupportedOnnxOps();

}  // namespace rill

#endif  // RILL_ONNX_IMPORT_H_

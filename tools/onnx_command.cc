// `rill import-onnx`: an ONNX model as a rill graph (onnx/import.h).

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/tensor_proto.h"
#include "graph/loader.h"
#include "onnx/import.h"
#include "ops/op_def.h"
#include "tools/commands.h"

namespace rill {
namespace {

struct {
  std::string output, weights_out;
  int64_t inline_max = 4096;
} onnx_flags;

// Writes every Parameter's value to a checkpoint (`rill run --params` reads
// them all), and drops from the graph the values of those with more than
// `inline_max` elements: it keeps their dtype and shape (zeros at load).
// Returns how many were dropped.
absl::StatusOr<int> SplitWeights(Graph* graph, const std::string& path) {
  Checkpoint ckpt;
  int dropped = 0;
  for (Node& node : *graph->mutable_node()) {
    if (node.op() != "Parameter" || !node.attr().count("value")) continue;
    const TensorProto& value = node.attr().at("value").tensor();
    ASSIGN_OR_RETURN(Tensor t, TensorFromProto(value, int64_t{1} << 40));
    const int64_t n = t.num_elements();
    ckpt.tensors.emplace_back(ParamTensorName(node.name()), std::move(t));
    if (n <= onnx_flags.inline_max) continue;
    ++dropped;
    auto& attrs = *node.mutable_attr();
    attrs["dtype"] = TypeAttr(value.dtype());
    ShapeProto shape;
    for (int64_t d : value.dims()) shape.add_dim(d);
    *attrs["shape"].mutable_shape() = shape;
    attrs["init"] = StringAttr("zeros");
    attrs.erase("value");
  }
  RETURN_IF_ERROR(WriteCheckpoint(path, ckpt));
  return dropped;
}

}  // namespace

std::vector<Flag> ImportOnnxFlags() {
  return {OutputFlag(&onnx_flags.output,
                     "The rill graph to write (text proto if it ends in "
                     ".pbtxt, .txt or .textproto; binary otherwise)."),
          StringFlag("weights_out", &onnx_flags.weights_out,
                     "Write every Parameter's value to this checkpoint (for "
                     "`rill run --params`) and keep only the shapes of those "
                     "larger than --inline_max elements in the graph."),
          IntFlag("inline_max", &onnx_flags.inline_max,
                  "With --weights_out: the largest Parameter (in elements) "
                  "kept inline in the graph."),
          MemoryBudgetFlag(), MaxFileFlag()};
}

absl::Status CheckImportOnnxFlags(const Operands&) {
  if (onnx_flags.output.empty()) {
    return absl::InvalidArgumentError("-o GRAPH is required");
  }
  return absl::OkStatus();
}

absl::Status RunImportOnnx(const Operands& operands) {
  OnnxImportOptions options;
  options.memory_budget = CommonFlags().memory_budget.bytes;
  options.max_file_bytes = CommonFlags().max_file_bytes;
  ASSIGN_OR_RETURN(Graph graph, ImportOnnxFile(operands[0], options));
  int split = 0;
  if (!onnx_flags.weights_out.empty()) {
    ASSIGN_OR_RETURN(split, SplitWeights(&graph, onnx_flags.weights_out));
  }
  const std::string& out = onnx_flags.output;
  if (IsTextGraphPath(out)) {
    RETURN_IF_ERROR(WriteTextGraph(graph, out));
  } else {
    RETURN_IF_ERROR(WriteFileAtomic(out, graph.SerializeAsString()));
  }
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(out));
  int params = 0;
  for (int n = 0; n < valid.num_nodes(); ++n) {
    params += valid.node_op(n) == "Parameter";
  }
  std::printf("%s: %d nodes, %d parameters\n", out.c_str(), valid.num_nodes(),
              params);
  for (int n : valid.input_nodes()) {
    std::printf(
        "  input:  %s %s\n", valid.node(n).name().c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  for (const TensorRef& ref : valid.outputs()) {
    std::printf("  output: %s %s\n", valid.RefName(ref).c_str(),
                TypedShape(valid.info(ref.node).dtypes[ref.output],
                           valid.info(ref.node).shapes[ref.output])
                    .c_str());
  }
  if (!onnx_flags.weights_out.empty()) {
    std::printf("  parameter values in %s (%d only there)\n",
                onnx_flags.weights_out.c_str(), split);
  }
  return absl::OkStatus();
}

}  // namespace rill

// `rill build`: writes the graph of a model spec (proto/model.proto) as
// text proto, optionally with PyTorch weights; `rill export-weights`: the
// other way, a graph's (or a checkpoint's) weights as PyTorch .npy files.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "graph/loader.h"
#include "models/model_spec.h"
#include "models/rnn_weights.h"
#include "tools/commands.h"

namespace rill {
namespace {

// The flags of `rill build`.
struct {
  std::string output, weights;
} build_flags;

// The flags of `rill export-weights`.
struct {
  std::string output, params;
} export_flags;

}  // namespace

std::vector<Flag> BuildFlags() {
  return {TextGraphOutputFlag(&build_flags.output, "the model's graph"),
          StringFlag("weights", &build_flags.weights,
                     "A directory of PyTorch state_dict .npy files "
                     "(weight_ih_l0.npy, ..., head.weight.npy) whose values "
                     "replace the built graph's initial weights (see "
                     "models/rnn_weights.h)."),
          MemoryBudgetFlag(), MaxFileFlag()};
}

absl::Status CheckBuildFlags(const Operands&) {
  return CheckTextGraphOutput(build_flags.output);
}

absl::Status RunBuild(const std::vector<std::string>& operands) {
  const std::string& out = build_flags.output;
  ASSIGN_OR_RETURN(Graph graph,
                   BuildModelFile(operands[0], CommonFlags().memory_budget));
  const std::string& weights = build_flags.weights;
  if (!weights.empty()) {
    RETURN_IF_ERROR(
        Annotate(ImportPyTorchWeights(weights, &graph), "--weights"));
  }
  RETURN_IF_ERROR(WriteTextGraph(graph, out));
  // The summary comes from the written file, as `rill check` would read it.
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(out));
  int64_t params = 0, values = 0;
  for (int n = 0; n < valid.num_nodes(); ++n) {
    if (valid.node_op(n) != "Parameter") continue;
    ++params;
    values += *valid.info(n).shapes[0].NumElements();
  }
  std::printf("%s: %d nodes, %lld parameters (%lld values)\n", out.c_str(),
              valid.num_nodes(), static_cast<long long>(params),
              static_cast<long long>(values));
  for (int n : valid.input_nodes()) {
    std::printf(
        "  input:  %s %s\n", valid.node(n).name().c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  // A model with a loss shows the loss, what training reads; a bare
  // recurrent stack shows all its outputs (output, h_n, c_n).
  std::vector<std::string> shown(valid.proto().output().begin(),
                                 valid.proto().output().end());
  if (std::find(shown.begin(), shown.end(), "loss") != shown.end()) {
    shown = {"loss"};
  }
  for (const std::string& name : shown) {
    const int n = valid.FindNode(name);
    std::printf(
        "  output: %s %s\n", name.c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  if (!weights.empty()) {
    std::printf("  weights: %s (PyTorch layout)\n", weights.c_str());
  }
  return absl::OkStatus();
}

namespace {

// The checkpoint's "param/<node>" tensors, keyed by node; every Parameter
// of `graph` must be there (of the graph's dtype and shape, which
// ExportPyTorchWeights checks).
absl::StatusOr<std::map<std::string, Tensor>> CheckpointParams(
    const std::string& path, const Graph& graph) {
  ASSIGN_OR_RETURN(Checkpoint c, ReadParamsCheckpoint(path));
  std::map<std::string, Tensor> values;
  for (const auto& [name, t] : CheckpointParameters(c)) values[name] = *t;
  for (const Node& n : graph.node()) {
    if (n.op() == "Parameter" && !values.count(n.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a checkpoint of this graph: parameter '",
                       n.name(), "' is missing"));
    }
  }
  return values;
}

}  // namespace

std::vector<Flag> ExportWeightsFlags() {
  return {OutputFlag(&export_flags.output,
                     "The directory, created if missing, to write the "
                     "<key>.npy files to."),
          StringFlag("params", &export_flags.params,
                     "A `rill train` checkpoint (or a directory, for its "
                     "newest) whose parameters to write instead of the "
                     "graph's values."),
          MemoryBudgetFlag(), MaxFileFlag()};
}

absl::Status CheckExportWeightsFlags(const Operands&) {
  return export_flags.output.empty()
             ? absl::InvalidArgumentError(
                   "name the output directory with -o DIR")
             : absl::OkStatus();
}

absl::Status RunExportWeights(const std::vector<std::string>& operands) {
  const std::string& out = export_flags.output;
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(operands[0]));
  const Graph& graph = valid.proto();
  std::map<std::string, Tensor> values;
  const std::string& params = export_flags.params;
  if (!params.empty()) {
    ASSIGN_OR_RETURN(values, CheckpointParams(params, graph));
  }
  ASSIGN_OR_RETURN(std::vector<PyTorchWeight> names, PyTorchWeightNames(graph));
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create -o directory ", out, ": ", ec.message()));
  }
  RETURN_IF_ERROR(ExportPyTorchWeights(graph, values, out));
  std::printf("%s: %zu PyTorch weights from %s\n", out.c_str(), names.size(),
              params.empty() ? operands[0].c_str() : params.c_str());
  for (const PyTorchWeight& w : names) {
    std::printf("  %s.npy <- %s\n", w.key.c_str(), w.node.c_str());
  }
  return absl::OkStatus();
}

}  // namespace rill

#include "runtime/model.h"

#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/checkpoint.h"
#include "core/dtype.h"
#include "core/file_io.h"
#include "core/name_list.h"
#include "core/output_directory.h"
#include "google/protobuf/text_format.h"
#include "graph/fuse_recurrent.h"
#include "graph/inference_graph.h"
#include "graph/loader.h"
#include "ops/parameter_value.h"

namespace rill {
namespace fs = std::filesystem;
namespace {

constexpr char kModelFormat[] = "rill-model 1";
constexpr char kGraphFile[] = "graph.pbtxt";
constexpr char kWeightsFile[] = "weights.rckpt";
constexpr char kVocabFile[] = "vocab.txt";
constexpr char kLabelsFile[] = "labels.txt";
constexpr int64_t kMaxManifestBytes = 1 << 16;

std::string Join(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

// The manifest's "key: value" lines, after its format line.
absl::StatusOr<std::map<std::string, std::string>> ManifestEntries(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxManifestBytes));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (lines.empty() || lines[0] != kModelFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":1: not a rill model manifest: the first line must be '",
        kModelFormat, "'"));
  }
  std::map<std::string, std::string> entries;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty() || lines[i][0] == '#') continue;
    std::pair<std::string, std::string> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(": ", 1));
    if (kv.second.empty() || !entries.insert(kv).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", i + 1, ": '", lines[i],
                       "' is not a 'key: value' line with a new key"));
    }
  }
  return entries;
}

// The path of `file`, named by manifest entry `key`, in model `dir`.
absl::StatusOr<std::string> ModelFile(const std::string& dir,
                                      const std::string& manifest,
                                      const std::string& key,
                                      const std::string& file) {
  if (file.find('/') != std::string::npos || file == "." || file == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(manifest, ": ", key, ": '", file,
                     "' must name a file in the model directory"));
  }
  return Join(dir, file);
}

std::string ManifestText(const ExportOptions& o) {
  std::string text =
      absl::StrCat(kModelFormat, "\n# Written by `rill export`",
                   "; run it with `rill run` on this "
                   "directory.\ngraph: ",
                   kGraphFile, "\nweights: ", kWeightsFile, "\n");
  if (!o.vocab.empty()) {
    absl::StrAppend(&text, "vocab: ", kVocabFile, "\n",
                    "lowercase: ", o.lowercase ? "true" : "false", "\n");
  }
  if (!o.labels.empty()) absl::StrAppend(&text, "labels: ", kLabelsFile, "\n");
  return text;
}

// The parameters' values, in `graph`'s node order: the checkpoint's, or
// the graph's own.
absl::StatusOr<std::vector<std::pair<std::string, Tensor>>> ParameterValues(
    const ValidGraph& graph, const ExportOptions& o) {
  std::optional<Checkpoint> checkpoint;
  std::map<std::string, const Tensor*> saved;
  if (!o.params.empty()) {
    ASSIGN_OR_RETURN(checkpoint, ReadCheckpoint(o.params, o.max_file_bytes));
    saved = CheckpointParameters(*checkpoint);
  }
  std::vector<std::pair<std::string, Tensor>> values;
  for (int n = 0; n < graph.num_nodes(); ++n) {
    const Node& node = graph.node(n);
    if (node.op() != "Parameter") continue;
    if (o.params.empty()) {
      ASSIGN_OR_RETURN(Tensor t, SourceValue(node, o.memory_budget));
      values.push_back({ParamTensorName(node.name()), std::move(t)});
      continue;
    }
    auto it = saved.find(node.name());
    const DType dtype = graph.info(n).dtypes[0];
    const Shape& shape = graph.info(n).shapes[0];
    if (it == saved.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.params, ": not a checkpoint of this graph: parameter '",
          node.name(), "' is missing"));
    }
    if (it->second->dtype() != dtype || it->second->shape() != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.params, ": not a checkpoint of this graph: parameter '",
          node.name(), "' is ", DTypeName(it->second->dtype()),
          it->second->shape().ToString(), " there but ", DTypeName(dtype),
          shape.ToString(), " in the graph"));
    }
    ASSIGN_OR_RETURN(Tensor copy, it->second->Clone());
    values.push_back({ParamTensorName(node.name()), std::move(copy)});
  }
  return values;
}

absl::Status CopyFile(const std::string& from, const std::string& to,
                      int64_t max_bytes) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileCapped(from, max_bytes));
  return WriteFileAtomic(to, bytes);
}

// Everything of the model, into `dir` (which exists and is empty).
absl::Status WriteModelFiles(
    const Graph& structure,
    const std::vector<std::pair<std::string, Tensor>>& values,
    const std::string& dir, const ExportOptions& o) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(structure, &text)) {
    return absl::InternalError("cannot print the model's graph");
  }
  RETURN_IF_ERROR(WriteFileAtomic(Join(dir, kGraphFile), text));
  Checkpoint weights;
  for (const auto& [name, t] : values) weights.tensors.push_back({name, t});
  RETURN_IF_ERROR(WriteCheckpoint(Join(dir, kWeightsFile), weights));
  if (!o.vocab.empty()) {
    RETURN_IF_ERROR(CopyFile(o.vocab, Join(dir, kVocabFile), o.max_file_bytes));
  }
  if (!o.labels.empty()) {
    RETURN_IF_ERROR(
        CopyFile(o.labels, Join(dir, kLabelsFile), o.max_file_bytes));
  }
  return WriteFileAtomic(Join(dir, kModelManifestFile), ManifestText(o));
}

// The width of `logits`' last axis, or -1 when the model has no such output.
int64_t LogitsWidth(const ValidGraph& model) {
  const int n = model.FindNode("logits");
  if (n < 0) return -1;
  const Shape& shape = model.info(n).shapes[0];
  return shape.rank() == 0 ? -1 : shape.dim(shape.rank() - 1);
}

}  // namespace

bool IsModelDir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) &&
         fs::is_regular_file(Join(path, kModelManifestFile), ec);
}

absl::StatusOr<ModelManifest> ReadModelManifest(const std::string& dir) {
  const std::string path = Join(dir, kModelManifestFile);
  ASSIGN_OR_RETURN(auto entries, ManifestEntries(path));
  ModelManifest m;
  for (const auto& [key, value] : entries) {
    if (key == "graph") {
      ASSIGN_OR_RETURN(m.graph, ModelFile(dir, path, key, value));
    } else if (key == "weights") {
      ASSIGN_OR_RETURN(m.weights, ModelFile(dir, path, key, value));
    } else if (key == "vocab") {
      ASSIGN_OR_RETURN(m.vocab, ModelFile(dir, path, key, value));
    } else if (key == "labels") {
      ASSIGN_OR_RETURN(m.labels, ModelFile(dir, path, key, value));
    } else if (key == "lowercase" && (value == "true" || value == "false")) {
      m.lowercase = value == "true";
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown entry '", key, ": ", value,
          "' (known: graph, weights, vocab, lowercase true|false, labels)"));
    }
  }
  if (m.graph.empty() || m.weights.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": names no ", m.graph.empty() ? "graph" : "weights", " file"));
  }
  return m;
}

absl::StatusOr<ExportSummary> ExportModel(const ValidGraph& graph,
                                          const std::string& dir,
                                          const ExportOptions& o) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat(
        dir, " exists; export to a new directory (or delete it first)"));
  }
  std::vector<std::string> fetches =
      o.fetches.empty() ? InferenceFetches(graph.proto()) : o.fetches;
  if (fetches.empty()) {
    return absl::InvalidArgumentError(
        "every output of the graph needs a loss input; name what the model "
        "computes with --fetch");
  }
  ASSIGN_OR_RETURN(Graph pruned, InferenceGraph(graph.proto(), fetches));
  ValidateOptions validate;
  validate.memory_budget = o.memory_budget;
  ASSIGN_OR_RETURN(ValidGraph model,
                   ValidateGraph(LoadedGraph{pruned, {}}, validate));
  ASSIGN_OR_RETURN(auto values, ParameterValues(model, o));
  ExportSummary s;
  s.outputs = fetches;
  s.graph_nodes = graph.num_nodes();
  s.kept_nodes = model.num_nodes();
  for (int n : model.input_nodes()) s.inputs.push_back(model.node(n).name());
  for (int n = 0; n < graph.num_nodes(); ++n) {
    s.dropouts_removed += graph.node_op(n) == "Dropout";
  }
  for (int n = 0; n < model.num_nodes(); ++n) {
    s.dropouts_removed -= model.node_op(n) == "Dropout";
  }
  if (!o.labels.empty()) {
    // The same checks as `rill predict` makes when it reads the copy.
    ASSIGN_OR_RETURN(std::string text,
                     ReadFileCapped(o.labels, o.max_file_bytes));
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     ParseNameList(text, o.labels));
    s.num_labels = static_cast<int>(names.size());
    const int64_t width = LogitsWidth(model);
    if (width >= 0 && width != s.num_labels) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.labels, ": ", s.num_labels, " labels, but the model's logits have ",
          width, " columns"));
    }
  }
  for (Node& node : *pruned.mutable_node()) {
    if (node.op() != "Parameter") continue;
    const int n = model.FindNode(node.name());
    ++s.parameters;
    s.values += *model.info(n).shapes[0].NumElements();
    node.clear_attr();  // The old initializer's own attrs (seed, std, ...).
    SetInitializer(Initializer::Zeros(), model.info(n).dtypes[0],
                   model.info(n).shapes[0], &node);
  }
  RETURN_IF_ERROR(WriteDirectoryWhole(dir, [&](const std::string& partial) {
    return WriteModelFiles(pruned, values, partial, o);
  }));
  return s;
}

absl::StatusOr<std::unique_ptr<Executor>> LoadModel(const std::string& dir,
                                                    const LoadModelOptions& o) {
  ASSIGN_OR_RETURN(ModelManifest m, ReadModelManifest(dir));
  LoadOptions load;
  load.max_file_bytes = o.max_file_bytes;
  ASSIGN_OR_RETURN(LoadedGraph loaded, LoadGraphFile(m.graph, load));
  if (o.fuse_recurrent) {
    absl::StatusOr<int> fused = FuseRecurrentLayers(&loaded.graph);
    if (!fused.ok()) return Annotate(fused.status(), m.graph);
  }
  ValidateOptions validate;
  validate.memory_budget = o.memory_budget;
  ASSIGN_OR_RETURN(ValidGraph graph,
                   ValidateGraph(std::move(loaded), validate));
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor,
                   Executor::Create(std::move(graph), o.executor));
  // The weights replace every Parameter: none is drawn.
  RETURN_IF_ERROR(executor->OverwriteParameters(
      [&](const std::map<std::string, Tensor*>& params) {
        return ReadParameterValues(m.weights, params, /*use_all=*/true,
                                   o.max_file_bytes);
      }));
  return executor;
}

}  // namespace rill

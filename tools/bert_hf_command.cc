// `rill bert-hf import|export`: BERT graphs from and to Hugging Face's
// config.json and state_dict .npy files (models/bert_hf.h).

#include <cstdio>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/status.h"
#include "graph/loader.h"
#include "models/bert.h"
#include "models/bert_hf.h"
#include "tools/commands.h"

namespace rill {
namespace {

struct {
  std::string output, config, params, dtype = "f32";
  int64_t seq_length = 128, max_predictions_per_seq = 20;
  uint64_t seed = 0;
} flags;

bool IsImport(const std::string& what) {
  return what == "import" || what == "import-hf";
}
bool IsExport(const std::string& what) {
  return what == "export" || what == "export-hf";
}

absl::Status Import(const std::string& dir) {
  const std::string config =
      flags.config.empty() ? dir + "/config.json" : flags.config;
  ASSIGN_OR_RETURN(BertSpec bert, ReadHfBertConfig(config));
  bert.set_seq_length(flags.seq_length);
  bert.set_max_predictions_per_seq(flags.max_predictions_per_seq);
  bert.set_seed(flags.seed);
  ModelSpec spec;
  *spec.mutable_bert() = bert;
  spec.set_dtype(flags.dtype);
  absl::StatusOr<BertOptions> options = BertOptionsFromSpec(spec);
  if (!options.ok()) return Annotate(options.status(), "flags and " + config);
  ASSIGN_OR_RETURN(Graph graph,
                   BuildBertGraph(*options, CommonFlags().memory_budget));
  RETURN_IF_ERROR(ImportHfBertWeights(dir, &graph));
  RETURN_IF_ERROR(WriteTextGraph(graph, flags.output));
  std::printf(
      "%s: BERT L%lld H%lld A%lld V%lld, S %lld, P %lld, %s, %zu "
      "parameters from %s\n",
      flags.output.c_str(), static_cast<long long>(bert.num_hidden_layers()),
      static_cast<long long>(bert.hidden_size()),
      static_cast<long long>(bert.num_attention_heads()),
      static_cast<long long>(bert.vocab_size()),
      static_cast<long long>(flags.seq_length),
      static_cast<long long>(flags.max_predictions_per_seq),
      flags.dtype.c_str(), BertParameters(*options).size(), dir.c_str());
  return absl::OkStatus();
}

absl::Status Export(const std::string& graph_path) {
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(graph_path));
  std::map<std::string, Tensor> values;
  if (!flags.params.empty()) {
    ASSIGN_OR_RETURN(Checkpoint c, ReadParamsCheckpoint(flags.params));
    for (const auto& [name, t] : CheckpointParameters(c)) values[name] = *t;
    for (const Node& n : valid.proto().node()) {
      if (n.op() == "Parameter" && !values.count(n.name())) {
        return absl::InvalidArgumentError(absl::StrCat(
            flags.params, ": not a checkpoint of this graph: parameter '",
            n.name(), "' is missing"));
      }
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.output, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create -o directory ", flags.output, ": ", ec.message()));
  }
  RETURN_IF_ERROR(ExportHfBertWeights(valid.proto(), values, flags.output));
  std::printf("%s: the HF state_dict of %s\n", flags.output.c_str(),
              flags.params.empty() ? graph_path.c_str() : flags.params.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Flag> BertHfFlags() {
  return {
      OutputFlag(&flags.output,
                 "import: the graph to write (text proto); export: the "
                 "directory, created if missing, for the <key>.npy files."),
      StringFlag("config", &flags.config,
                 "import: HF's config.json; default DIR/config.json."),
      IntFlag("seq_length", &flags.seq_length,
              "import: S, the graph's sequence length (default 128)."),
      IntFlag("max_predictions_per_seq", &flags.max_predictions_per_seq,
              "import: P, the masked positions per sequence (default 20)."),
      ChoiceFlag("dtype", &flags.dtype, {"f32", "f64"},
                 "import: the graph's float type."),
      IntFlag("seed", &flags.seed, "import: the seed of the graph's dropout."),
      StringFlag("params", &flags.params,
                 "export: a `rill train` checkpoint (or a directory, for its "
                 "newest) whose parameters to write instead of the graph's."),
      MemoryBudgetFlag(),
      MaxFileFlag()};
}

absl::Status CheckBertHfFlags(const Operands& operands) {
  const std::string& what = operands[0];
  if (IsImport(what)) {
    RETURN_IF_ERROR(CheckTextGraphOutput(flags.output));
    if (!IsTextGraphPath(flags.output)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-o ", flags.output,
          ": the graph is written as text proto, so the name must end in "
          ".pbtxt, .txt or .textproto"));
    }
    RETURN_IF_ERROR(CheckAtLeast("--seq_length", flags.seq_length, 1));
    return CheckAtLeast("--max_predictions_per_seq",
                        flags.max_predictions_per_seq, 1);
  }
  if (IsExport(what)) {
    return flags.output.empty() ? absl::InvalidArgumentError(
                                      "name the output directory with -o DIR")
                                : absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown bert-hf command '", what,
                   "': expected import HF_DIR or export GRAPH"));
}

absl::Status RunBertHf(const Operands& operands) {
  return IsImport(operands[0]) ? Import(operands[1]) : Export(operands[1]);
}

}  // namespace rill

// `rill bert import-hf|export-hf`: BERT graphs from and to Hugging Face's
// config.json and state_dict .npy files (models/bert_hf.h). The `bert`
// command (tools/bert_command.cc) holds the flags it shares with make-data.

#include <cstdio>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/status.h"
#include "graph/loader.h"
#include "models/bert.h"
#include "models/bert_hf.h"
#include "tools/commands.h"

namespace rill {
namespace {

// The flags only import-hf and export-hf take.
struct {
  std::string config, params, dtype = "f32";
  int64_t seq_length = 128;
  int64_t num_labels = 0;
} flags;

absl::Status Import(const std::string& dir, const BertHfShared& shared) {
  const std::string config =
      flags.config.empty() ? dir + "/config.json" : flags.config;
  ASSIGN_OR_RETURN(BertSpec bert, ReadHfBertConfig(config));
  bert.set_seq_length(flags.seq_length);
  bert.set_max_predictions_per_seq(shared.max_predictions_per_seq);
  bert.set_seed(shared.seed);
  bert.set_num_labels(flags.num_labels);
  ModelSpec spec;
  *spec.mutable_bert() = bert;
  spec.set_dtype(flags.dtype);
  absl::StatusOr<BertOptions> options = BertOptionsFromSpec(spec);
  if (!options.ok()) return Annotate(options.status(), "flags and " + config);
  ASSIGN_OR_RETURN(Graph graph,
                   BuildBertGraph(*options, CommonFlags().memory_budget));
  RETURN_IF_ERROR(ImportHfBertWeights(dir, &graph));
  RETURN_IF_ERROR(WriteTextGraph(graph, shared.output));
  const std::string head =
      flags.num_labels > 0
          ? absl::StrCat("classifier of ", flags.num_labels, " labels")
          : absl::StrCat("P ", shared.max_predictions_per_seq);
  std::printf(
      "%s: BERT L%lld H%lld A%lld V%lld, S %lld, %s, %s, %zu "
      "parameters from %s\n",
      shared.output.c_str(), static_cast<long long>(bert.num_hidden_layers()),
      static_cast<long long>(bert.hidden_size()),
      static_cast<long long>(bert.num_attention_heads()),
      static_cast<long long>(bert.vocab_size()),
      static_cast<long long>(flags.seq_length), head.c_str(),
      flags.dtype.c_str(), BertParameters(*options).size(), dir.c_str());
  return absl::OkStatus();
}

// Every Parameter of `g`, allocated, then read from the checkpoint at
// `path` (core/checkpoint.h ReadParameterValues): no initializer is drawn.
absl::StatusOr<std::map<std::string, Tensor>> CheckpointValues(
    const ValidGraph& g, const std::string& path) {
  std::map<std::string, Tensor> values;
  std::map<std::string, Tensor*> into;
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (g.node(i).op() != "Parameter") continue;
    ASSIGN_OR_RETURN(Tensor t, Tensor::AllocateUninitialized(
                                   g.info(i).dtypes[0], g.info(i).shapes[0]));
    Tensor& slot = values[g.node(i).name()] = std::move(t);
    into[g.node(i).name()] = &slot;
  }
  ASSIGN_OR_RETURN(std::string file, CheckpointFile(path));
  RETURN_IF_ERROR(ReadParameterValues(file, into, /*use_all=*/false,
                                      CommonFlags().max_file_bytes));
  return values;
}

absl::Status Export(const std::string& graph_path, const BertHfShared& shared) {
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(graph_path));
  absl::StatusOr<BertSpec> spec = BertSpecFromGraph(valid.proto());
  if (!spec.ok()) return Annotate(spec.status(), graph_path);
  std::map<std::string, Tensor> values;
  if (!flags.params.empty()) {
    ASSIGN_OR_RETURN(values, CheckpointValues(valid, flags.params));
  }
  std::error_code ec;
  std::filesystem::create_directories(shared.output, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create -o directory ", shared.output, ": ", ec.message()));
  }
  RETURN_IF_ERROR(ExportHfBertWeights(valid.proto(), values, shared.output));
  RETURN_IF_ERROR(
      WriteFileAtomic(shared.output + "/config.json", HfBertConfigJson(*spec)));
  std::printf("%s: the HF config.json and state_dict of %s\n",
              shared.output.c_str(),
              flags.params.empty() ? graph_path.c_str() : flags.params.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Flag> BertHfFlags() {
  return {
      StringFlag("config", &flags.config,
                 "import-hf: HF's config.json; default HF_DIR/config.json."),
      IntFlag("seq_length", &flags.seq_length,
              "import-hf: S, the graph's sequence length (default 128)."),
      IntFlag("num_labels", &flags.num_labels,
              "import-hf: >= 2 builds a BertForSequenceClassification of "
              "that many labels (classifier.* entries); 0 (the default) "
              "BertForPreTraining."),
      ChoiceFlag("dtype", &flags.dtype, {"f32", "f64"},
                 "import-hf: the graph's float type."),
      StringFlag("params", &flags.params,
                 "export-hf: a `rill train` checkpoint (or a directory, "
                 "for its newest) whose parameters to write instead of "
                 "the graph's.")};
}

absl::Status CheckBertHf(const std::string& subcommand,
                         const BertHfShared& shared) {
  if (subcommand == "import-hf") {
    RETURN_IF_ERROR(CheckTextGraphOutput(shared.output));
    if (!IsTextGraphPath(shared.output)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-o ", shared.output,
          ": the graph is written as text proto, so the name must end in "
          ".pbtxt, .txt or .textproto"));
    }
    RETURN_IF_ERROR(CheckAtLeast("--seq_length", flags.seq_length, 1));
    if (flags.num_labels != 0) {
      RETURN_IF_ERROR(CheckAtLeast("--num_labels", flags.num_labels, 2));
    }
    return CheckAtLeast("--max_predictions_per_seq",
                        shared.max_predictions_per_seq, 1);
  }
  return shared.output.empty() ? absl::InvalidArgumentError(
                                     "name the output directory with -o DIR")
                               : absl::OkStatus();
}

absl::Status RunBertHf(const Operands& operands, const BertHfShared& shared) {
  return operands[0] == "import-hf" ? Import(operands[1], shared)
                                    : Export(operands[1], shared);
}

}  // namespace rill

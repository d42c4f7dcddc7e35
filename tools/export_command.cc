// `rill export`: a trained graph as an inference model (runtime/model.h).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint.h"
#include "runtime/model.h"
#include "tools/commands.h"

namespace rill {
namespace {

struct {
  std::string output, params, vocab, labels;
  std::vector<std::string> fetches;
  bool lowercase = false;
} export_model_flags;

}  // namespace

std::vector<Flag> ExportModelFlags() {
  auto& f = export_model_flags;
  return {OutputFlag(&f.output,
                     "The model directory to write; it must not exist. It "
                     "is written as MODEL.partial and renamed when complete."),
          StringFlag("params", &f.params,
                     "A `rill train` checkpoint (or a directory, for its "
                     "newest) whose parameters to bake in. Default: the "
                     "graph's own values."),
          ListFlag("fetch", &f.fetches,
                   "What the model computes, as node or node:k, "
                   "comma-separated. Default: the graph's outputs that need "
                   "no loss input."),
          StringFlag("vocab", &f.vocab,
                     "A WordPiece vocabulary to bundle, for `rill predict`."),
          SwitchFlag("lowercase", &f.lowercase,
                     "With --vocab: `rill predict` lowercases (and strips "
                     "accents from) the text, as uncased BERT does."),
          StringFlag("labels", &f.labels,
                     "The label names, one a line in logits' column order, "
                     "to bundle for `rill predict`."),
          MemoryBudgetFlag(),
          MaxFileFlag()};
}

absl::Status CheckExportModelFlags(const Operands&) {
  const auto& f = export_model_flags;
  if (f.output.empty()) {
    return absl::InvalidArgumentError("name the model directory with -o MODEL");
  }
  if (f.lowercase && f.vocab.empty()) {
    return absl::InvalidArgumentError("--lowercase goes with --vocab");
  }
  return absl::OkStatus();
}

absl::Status RunExportModel(const Operands& operands) {
  const auto& f = export_model_flags;
  ASSIGN_OR_RETURN(ValidGraph graph, LoadAndValidate(operands[0]));
  ExportOptions o;
  o.fetches = f.fetches;
  if (!f.params.empty()) {
    ASSIGN_OR_RETURN(o.params, CheckpointFile(f.params));
  }
  o.vocab = f.vocab;
  o.labels = f.labels;
  o.lowercase = f.lowercase;
  o.max_file_bytes = CommonFlags().max_file_bytes;
  o.memory_budget = CommonFlags().memory_budget.bytes;
  ASSIGN_OR_RETURN(ExportSummary s, ExportModel(graph, f.output, o));
  std::printf(
      "%s: %d of %d nodes (%d Dropout removed), %lld parameters "
      "(%lld values) from %s\n",
      f.output.c_str(), s.kept_nodes, s.graph_nodes, s.dropouts_removed,
      static_cast<long long>(s.parameters), static_cast<long long>(s.values),
      o.params.empty() ? operands[0].c_str() : o.params.c_str());
  std::printf("  inputs:  %s\n  outputs: %s\n",
              absl::StrJoin(s.inputs, ", ").c_str(),
              absl::StrJoin(s.outputs, ", ").c_str());
  if (!f.vocab.empty()) {
    std::printf("  vocab:   %s%s\n", f.vocab.c_str(),
                f.lowercase ? " (lowercase)" : "");
  }
  if (!f.labels.empty()) {
    std::printf("  labels:  %s (%d)\n", f.labels.c_str(), s.num_labels);
  }
  return absl::OkStatus();
}

}  // namespace rill

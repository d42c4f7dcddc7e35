#ifndef RILL_TOOLS_COMMANDS_H_
#define RILL_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/limits.h"
#include "core/status.h"
#include "graph/validate.h"
#include "runtime/executor.h"
#include "tools/flags.h"
#include "tools/tokenizer_flags.h"

namespace rill {

// The words of a command line that are not flags.
using Operands = std::vector<std::string>;

// One `rill` subcommand.
struct Command {
  const char* name;
  const char* summary;      // One line, for `rill --help`.
  const char* usage;        // "check GRAPH"
  const char* description;  // A paragraph, for `rill check --help`.
  // Its flags (tools/flags.h), bound to where the command reads them; any
  // other flag is refused.
  std::vector<Flag> flags;
  int num_operands;  // -n: at most n.
  absl::Status (*run)(const Operands& operands);
  // Checks the command line beyond each flag's own value (flags that are
  // required, or exclude each other) before `run`; an error is a
  // command-line mistake, which exits 2 (errors from `run` exit 1).
  absl::Status (*check)(const Operands& operands) = nullptr;
};

const std::vector<Command>& AllCommands();
const Command* FindCommand(const std::string& name);

// The flags that mean the same in every command that takes them. A command
// lists those it takes (MemoryBudgetFlag(), ...) among its flags; for the
// others, the defaults hold.
struct CommonFlagValues {
  MemoryBudget memory_budget;                    // --memory_budget_mb
  int64_t max_file_bytes = int64_t{1024} << 20;  // --max_file_mb
  int64_t threads = -1;                          // --threads; -1 when not given
  Backend backend = Backend::kOneDnn;            // --backend
  bool no_fuse = false;                          // --no_fuse
  std::string precision;  // --precision: "f32", "bf16", or "" when not given
};
const CommonFlagValues& CommonFlags();
Flag MemoryBudgetFlag();
Flag MaxFileFlag();
Flag ThreadsFlag();
Flag BackendFlag();
Flag NoFuseFlag();
Flag PrecisionFlag();
// The executor options that --backend and --precision (f32 when not given)
// ask for.
ExecutorOptions ExecutorOptionsFromFlags();
// Prints an Executor's precision_note(), if any, on stderr.
void ReportPrecision(const std::string& precision_note);
// -o/--output: where the command writes what `help` says.
Flag OutputFlag(std::string* path, std::string help);
// -o/--output for a command that writes `what` ("the gradient graph") as a
// text proto graph, whose name must end in .pbtxt, .txt or .textproto.
Flag TextGraphOutputFlag(std::string* path, const std::string& what);
// OK when such an output was named; otherwise the error that asks for it.
absl::Status CheckTextGraphOutput(const std::string& path);

// Loads and validates a graph file with the --max_file_mb and
// --memory_budget_mb limits; with `fuse` (and no --no_fuse), runs tagged
// recurrent layers on the fused ops (graph/fuse_recurrent.h).
absl::StatusOr<ValidGraph> LoadAndValidate(const std::string& path,
                                           bool fuse = false);
// The checkpoint that --params names: a file, or a directory of `rill
// train` checkpoints, whose newest one it reads (as `train --resume DIR`
// does); at most --max_file_mb.
absl::StatusOr<Checkpoint> ReadParamsCheckpoint(const std::string& path);
// Writes `graph` to `path` as text proto, atomically.
absl::Status WriteTextGraph(const Graph& graph, const std::string& path);
// The lines of a UTF-8 text file, or of stdin when `path` is empty,
// without their terminators (a final newline starts no extra line); at
// most 1 GiB. Errors name the line ("<stdin>:3: not valid UTF-8").
absl::StatusOr<std::vector<std::string>> ReadTextLines(const std::string& path);
// "f32[2, 3]"
std::string TypedShape(DType dtype, const Shape& shape);

// Each command's flags, checks and run, in <command>_command.cc.

std::vector<Flag> EsnFlags();
absl::Status CheckEsnFlags(const Operands& operands);
absl::Status RunEsn(const Operands& operands);

std::vector<Flag> TrainFlags();
absl::Status RunTrain(const Operands& operands);
absl::Status CheckTrainFlags(const Operands& operands);

std::vector<Flag> PlotFlags();
absl::Status CheckPlotFlags(const Operands& operands);
absl::Status RunPlot(const Operands& operands);

std::vector<Flag> GradFlags();
absl::Status CheckGradFlags(const Operands& operands);
absl::Status RunGrad(const Operands& operands);

// `rill import-onnx` (onnx_command.cc).
std::vector<Flag> ImportOnnxFlags();
absl::Status CheckImportOnnxFlags(const Operands& operands);
absl::Status RunImportOnnx(const Operands& operands);

std::vector<Flag> BuildFlags();
absl::Status CheckBuildFlags(const Operands& operands);
absl::Status RunBuild(const Operands& operands);

std::vector<Flag> ExportWeightsFlags();
absl::Status CheckExportWeightsFlags(const Operands& operands);
absl::Status RunExportWeights(const Operands& operands);
// tools/export_command.cc
std::vector<Flag> ExportModelFlags();
absl::Status CheckExportModelFlags(const Operands& operands);
absl::Status RunExportModel(const Operands& operands);
// tools/predict_command.cc
std::vector<Flag> PredictFlags();
absl::Status CheckPredictFlags(const Operands& operands);
absl::Status RunPredict(const Operands& operands);

std::vector<Flag> DecodeFlags();
absl::Status CheckDecodeFlags(const Operands& operands);
absl::Status RunDecode(const Operands& operands);

std::vector<Flag> BleuFlags();
absl::Status CheckBleuFlags(const Operands& operands);
absl::Status RunBleu(const Operands& operands);

std::vector<Flag> BertFlags();
absl::Status CheckBertFlags(const Operands& operands);
absl::Status RunBert(const Operands& operands);
// bert's import-hf and export-hf (tools/bert_hf_command.cc): their own
// flags, and the values of those they share with make-data.
struct BertHfShared {
  std::string output;
  int64_t max_predictions_per_seq;
  uint64_t seed;
};
std::vector<Flag> BertHfFlags();
absl::Status CheckBertHf(const std::string& subcommand,
                         const BertHfShared& shared);
absl::Status RunBertHf(const Operands& operands, const BertHfShared& shared);

// bert's make-classification-data (tools/bert_classify_command.cc): its own
// flags, and the values of those it shares with make-data.
struct BertClassifyShared {
  const TokenizerFlagValues& tokenizer;
  std::string input, output;
  int64_t max_seq_length;
};
std::vector<Flag> BertClassifyFlags();
absl::Status CheckBertClassify(const BertClassifyShared& shared);
absl::Status RunBertClassify(const BertClassifyShared& shared);

std::vector<Flag> TokenizeFlags();
absl::Status CheckTokenizeFlags(const Operands& operands);
absl::Status RunTokenize(const Operands& operands);

}  // namespace rill

#endif  // RILL_TOOLS_COMMANDS_H_

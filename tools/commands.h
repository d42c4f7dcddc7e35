#ifndef RILL_TOOLS_COMMANDS_H_
#define RILL_TOOLS_COMMANDS_H_

#include <map>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "graph/validate.h"

namespace rill {

// One `rill` subcommand. Its flags are absl flags, listed by name so that
// `rill <command> --help` can describe them and others can be refused.
struct Command {
  const char* name;
  const char* summary;      // One line, for `rill --help`.
  const char* usage;        // "check GRAPH"
  const char* description;  // A paragraph, for `rill check --help`.
  std::vector<const char*> flags;
  int num_operands;  // -1: zero or one.
  absl::Status (*run)(const std::vector<std::string>& operands);
  // Short spellings, e.g. {"r", "ref"} lets `-r FILE` stand for `--ref FILE`.
  std::map<std::string, std::string> aliases = {};
  // Checks the flags' values before `run`; an error is a command-line
  // mistake, which exits 2 (errors from `run` exit 1).
  absl::Status (*check_flags)() = nullptr;
};

const std::vector<Command>& AllCommands();
const Command* FindCommand(const std::string& name);
// Flags that may be repeated (--feed, --ref). main() collects their values
// itself, so that a value may contain commas; commands read them here.
bool IsListFlag(const std::string& name);
void SetListFlagValues(std::map<std::string, std::vector<std::string>> values);
const std::vector<std::string>& ListFlagValues(const std::string& name);

// --memory_budget_mb and --max_file_mb in bytes; a negative value, or one
// whose byte count overflows, is an error naming the flag.
absl::StatusOr<MemoryBudget> MemoryBudgetFromFlags();
absl::StatusOr<int64_t> MaxFileBytesFromFlags();

// Loads and validates a graph file with the --max_file_mb and
// --memory_budget_mb limits; with `fuse` (and no --no-fuse), runs tagged
// recurrent layers on the fused ops (graph/fuse_recurrent.h).
absl::StatusOr<ValidGraph> LoadAndValidate(const std::string& path,
                                           bool fuse = false);
// The -o path of a command that writes `what` ("the graph") as text proto;
// refused when missing or not named as text (.pbtxt, .txt, .textproto).
absl::StatusOr<std::string> TextGraphOutput(const std::string& what);
// Writes `graph` to `path` as text proto, atomically.
absl::Status WriteTextGraph(const Graph& graph, const std::string& path);
// The lines of a UTF-8 text file, or of stdin when `path` is empty,
// without their terminators (a final newline starts no extra line); at
// most 1 GiB. Errors name the line ("<stdin>:3: not valid UTF-8").
absl::StatusOr<std::vector<std::string>> ReadTextLines(const std::string& path);
// The --threads flag of commands that run kernels: -1 when not given;
// anything but a count in [0, kMaxThreads] is an error naming the flag.
absl::StatusOr<int64_t> ThreadsFlag();
// "f32[2, 3]"
std::string TypedShape(DType dtype, const Shape& shape);

// `rill esn`, in esn_command.cc.
absl::Status RunEsn(const std::vector<std::string>& operands);

// `rill train`, in train_command.cc.
absl::Status RunTrain(const std::vector<std::string>& operands);

// `rill grad`, in grad_command.cc.
absl::Status RunGrad(const std::vector<std::string>& operands);

// `rill build`, in build_command.cc.
absl::Status RunBuild(const std::vector<std::string>& operands);

// `rill export-weights`, in build_command.cc.
absl::Status RunExportWeights(const std::vector<std::string>& operands);

// `rill decode`, in decode_command.cc.
absl::Status RunDecode(const std::vector<std::string>& operands);

// `rill bleu`, in bleu_command.cc.
absl::Status RunBleu(const std::vector<std::string>& operands);

// `rill tokenize`, in tokenize_command.cc.
absl::Status CheckTokenizeFlags();
absl::Status RunTokenize(const std::vector<std::string>& operands);

}  // namespace rill

#endif  // RILL_TOOLS_COMMANDS_H_

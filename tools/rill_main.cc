// The `rill` command: `rill <subcommand> [flags] [args]`.

#include "tools/rill_main.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/threads.h"
#include "core/version.h"
#include "tools/commands.h"

namespace rill {
namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "rill: a dataflow graph engine with reverse-mode autodiff.\n\n"
               "Usage: rill <command> [flags] [args]\n\nCommands:\n");
  for (const Command& c : AllCommands()) {
    std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  }
  std::fprintf(out,
               "\n'rill <command> --help' describes a command and its flags; "
               "'rill --version' prints the version.\n");
}

void PrintCommandHelp(const Command& c) {
  std::printf("Usage: rill %s\n\n%s\n", c.usage, c.description);
  if (c.flags.empty()) return;
  std::printf("\nFlags:\n%s", FlagsHelp(c.flags).c_str());
}

// A command-line mistake: what is wrong, then how the command is used.
int UsageError(const Command& c, absl::string_view message) {
  std::fprintf(stderr, "rill %s: %s\nUsage: rill %s\n(see 'rill %s --help')\n",
               c.name, std::string(message).c_str(), c.usage, c.name);
  return 2;
}

absl::Status CheckOperandCount(const Command& c, size_t given) {
  const bool ok = c.num_operands < 0
                      ? static_cast<int>(given) <= -c.num_operands
                      : static_cast<int>(given) == c.num_operands;
  if (ok) return absl::OkStatus();
  const int want = std::abs(c.num_operands);
  return absl::InvalidArgumentError(
      absl::StrCat("takes ", c.num_operands < 0 ? "at most " : "", want,
                   " operand", want == 1 ? "" : "s", ", not ", given));
}

// What must hold before a command runs: commands that run kernels (they
// take --threads) get passive OpenMP threads and their thread count, and
// the command checks its command line. An error is a command-line mistake.
absl::Status PrepareToRun(const Command& command, const Operands& operands,
                          char** argv) {
  for (const Flag& flag : command.flags) {
    if (flag.name != "threads") continue;
    PreferPassiveOpenMpThreads(argv);  // Costs a process start: only here.
    // Not given: the CPUs this process may use, not the host's core count.
    RETURN_IF_ERROR(
        SetThreads(std::max<int64_t>(CommonFlags().threads, 0), "--threads"));
  }
  return command.check != nullptr ? command.check(operands) : absl::OkStatus();
}

// Sizes are estimated and checked against --memory_budget_mb before work
// starts, but the machine may have less memory than the budget (ulimit -v,
// a container): then an allocation fails, and the user gets an error
// naming the command, not an abort.
absl::Status RunGuarded(const Command& command,
                        const std::vector<std::string>& operands) {
  try {
    return command.run(operands);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        "out of memory: an allocation failed; lower the sizes the input asks "
        "for, or --memory_budget_mb to below the memory available");
  } catch (const std::length_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory: a container would exceed its largest size (", e.what(),
        ")"));
  }
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    PrintUsage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::printf("%s\n", kRillVersion);
    return 0;
  }
  const Command* command = FindCommand(argv[1]);
  if (command == nullptr) {
    std::fprintf(stderr, "rill: unknown command '%s'\n\n", argv[1]);
    PrintUsage(stderr);
    return 2;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintCommandHelp(*command);
      return 0;
    }
  }
  absl::StatusOr<Operands> operands = ParseFlags(command->flags, args);
  if (!operands.ok()) return UsageError(*command, operands.status().message());
  absl::Status ready = CheckOperandCount(*command, operands->size());
  if (ready.ok()) ready = PrepareToRun(*command, *operands, argv);
  if (!ready.ok()) return UsageError(*command, ready.message());
  absl::Status status = RunGuarded(*command, *operands);
  if (!status.ok()) {
    std::fprintf(stderr, "rill %s: %s\n", command->name,
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace rill

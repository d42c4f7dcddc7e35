// The `rill` command: `rill <subcommand> [flags] [args]`.

#include <algorithm>
#include <cstdio>
#include <map>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/threads.h"
#include "tools/commands.h"

namespace rill {
namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "rill: a dataflow graph engine with reverse-mode autodiff.\n\n"
               "Usage: rill <command> [flags] [args]\n\nCommands:\n");
  for (const Command& c : AllCommands()) {
    std::fprintf(out, "  %-6s %s\n", c.name, c.summary);
  }
  std::fprintf(
      out, "\n'rill <command> --help' describes a command and its flags.\n");
}

void PrintCommandHelp(const Command& c) {
  std::printf("Usage: rill %s\n\n%s\n", c.usage, c.description);
  if (c.flags.empty()) return;
  std::printf("\nFlags:\n");
  for (const char* name : c.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::printf(
        "  --%s (default: %s)\n      %s\n", name,
        flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue().c_str(),
        flag->Help().c_str());
  }
}

// The flag name of "--name=value", "--name" or "--noname" (bools).
std::string FlagName(const std::string& arg) {
  std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
  return name.substr(0, name.find('='));
}

// Checks that every flag given belongs to the command, expands short
// aliases, and takes the values of repeatable flags (--feed a=x.npy --feed
// b=y.npy) out of the list for absl, which would only keep the last one.
absl::StatusOr<std::vector<std::string>> PrepareArgs(const Command& c, int argc,
                                                     char** argv) {
  std::set<std::string> allowed(c.flags.begin(), c.flags.end());
  std::vector<std::string> args = {argv[0]};
  std::map<std::string, std::vector<std::string>> lists;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) args.push_back(argv[i]);
      break;
    }
    // "-5" is a value (of the flag before it), not a flag.
    if (arg.size() < 2 || arg[0] != '-' || absl::ascii_isdigit(arg[1])) {
      args.push_back(arg);
      continue;
    }
    const std::string given = arg;
    std::string name = FlagName(arg);
    // --check-numerics means --check_numerics (absl flags take '_').
    if (name.find('-') != std::string::npos) {
      std::string spelled = absl::StrReplaceAll(name, {{"-", "_"}});
      arg =
          absl::StrCat("--", spelled, arg.substr(arg.find(name) + name.size()));
      name = spelled;
    }
    auto alias = c.aliases.find(name);
    if (alias != c.aliases.end()) {
      size_t eq = arg.find('=');
      arg = absl::StrCat("--", alias->second,
                         eq == std::string::npos ? "" : arg.substr(eq));
      name = alias->second;
    }
    std::string base = absl::StartsWith(name, "no") && !allowed.count(name)
                           ? name.substr(2)
                           : name;
    if (!allowed.count(base)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rill ", c.name, ": unknown flag '", given,
                       "' (see 'rill ", c.name, " --help')"));
    }
    if (IsListFlag(base)) {
      size_t eq = arg.find('=');
      if (eq == std::string::npos) {
        if (i + 1 >= argc) {
          return absl::InvalidArgumentError(absl::StrCat(
              "rill ", c.name, ": flag '", arg, "' needs a value"));
        }
        lists[base].push_back(argv[++i]);
      } else {
        lists[base].push_back(arg.substr(eq + 1));
      }
      continue;
    }
    args.push_back(arg);
  }
  SetListFlagValues(std::move(lists));
  return args;
}

// What must hold before a command runs: commands that run kernels (they
// take --threads) get passive OpenMP threads and their thread count, and
// the command checks its flags. An error is a command-line mistake.
absl::Status PrepareToRun(const Command& command, char** argv) {
  if (std::find(command.flags.begin(), command.flags.end(),
                std::string("threads")) != command.flags.end()) {
    PreferPassiveOpenMpThreads(argv);  // Costs a process start: only here.
    ASSIGN_OR_RETURN(int64_t threads, ThreadsFlag());
    // Not given: the CPUs this process may use, not the host's core count.
    RETURN_IF_ERROR(SetThreads(std::max<int64_t>(threads, 0), "--threads"));
  }
  return command.check_flags != nullptr ? command.check_flags()
                                        : absl::OkStatus();
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

int Main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    PrintUsage(stdout);
    return argc < 2 ? 2 : 0;
  }
  const Command* command = FindCommand(argv[1]);
  if (command == nullptr) {
    std::fprintf(stderr, "rill: unknown command '%s'\n\n", argv[1]);
    PrintUsage(stderr);
    return 2;
  }
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintCommandHelp(*command);
      return 0;
    }
  }
  absl::StatusOr<std::vector<std::string>> args =
      PrepareArgs(*command, argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  std::vector<char*> cargs;
  for (std::string& a : *args) cargs.push_back(a.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());
  std::vector<std::string> operands(positional.begin() + 1, positional.end());
  bool operands_ok =
      command->num_operands < 0
          ? operands.size() <= 1
          : static_cast<int>(operands.size()) == command->num_operands;
  if (!operands_ok) {
    std::fprintf(stderr, "Usage: rill %s\n(see 'rill %s --help')\n",
                 command->usage, command->name);
    return 2;
  }
  if (absl::Status flags = PrepareToRun(*command, argv); !flags.ok()) {
    std::fprintf(stderr, "rill %s: %s\n", command->name,
                 std::string(flags.message()).c_str());
    return 2;  // A flag's value is a command-line mistake.
  }
  absl::Status status = RunGuarded(*command, operands);
  if (!status.ok()) {
    std::fprintf(stderr, "rill %s: %s\n", command->name,
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) { return rill::Main(argc, argv); }

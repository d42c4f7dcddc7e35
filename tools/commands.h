#ifndef RILL_TOOLS_COMMANDS_H_
#define RILL_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace rill {

// One `rill` subcommand. Its flags are absl flags, listed by name so that
// `rill <command> --help` can describe them and others can be refused.
struct Command {
  const char* name;
  const char* summary;      // One line, for `rill --help`.
  const char* usage;        // "check GRAPH"
  const char* description;  // A paragraph, for `rill check --help`.
  std::vector<const char*> flags;
  int num_operands;
  absl::Status (*run)(const std::vector<std::string>& operands);
};

const std::vector<Command>& AllCommands();
const Command* FindCommand(const std::string& name);
// Flags that may be repeated; their values are joined with commas.
bool IsListFlag(const std::string& name);

}  // namespace rill

#endif  // RILL_TOOLS_COMMANDS_H_

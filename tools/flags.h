#ifndef RILL_TOOLS_FLAGS_H_
#define RILL_TOOLS_FLAGS_H_

// The flags of one `rill` command: each command lists its own, bound to the
// variables that hold their values, so a flag is defined, described and read
// in the file of the command that takes it, in that command's words. A
// command keeps the values in one struct in its file, set by ParseFlags
// before the command runs (a process runs one command, once); the flags
// that mean the same everywhere (--memory_budget_mb, --threads, ...) are
// defined once, in commands.cc, and read through CommonFlags().
//
// Spellings: --name=value or --name value, -o value for a one-letter alias,
// '-' and '_' alike in names (--no-fuse is --no_fuse); a switch is --name,
// --name=true|false or --noname. A value that is not of the flag's type, or
// not one of its choices, is an error naming the flag: a command-line
// mistake, which `rill` reports with the command's usage and exit code 2.

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "core/status.h"

namespace rill {

struct Flag {
  std::string name;  // "output": --output
  // Other spellings: "o" for -o, or a name still accepted ("out").
  std::vector<std::string> aliases;
  std::string help;
  std::string default_text;  // Shown by --help when not empty.
  enum Kind {
    kValue,     // Takes a value; given twice, the last one counts.
    kSwitch,    // --name / --noname / --name=true|false.
    kRepeated,  // Takes a value; each time it is given adds one.
  } kind = kValue;
  // Parses and stores a value ("true"/"false" for a switch).
  std::function<absl::Status(const std::string& value)> set;
};

Flag StringFlag(const char* name, std::string* value, std::string help);
// A whole number (e.g. 64); `value`'s initial value is the default.
template <typename Int>
Flag IntFlag(const char* name, Int* value, std::string help);
Flag DoubleFlag(const char* name, double* value, std::string help);
Flag SwitchFlag(const char* name, bool* value, std::string help);
// One of `choices` ("text" or "json"); the default is `value`'s initial one.
Flag ChoiceFlag(const char* name, std::string* value,
                std::vector<std::string> choices, std::string help);
// Comma-separated names (--wrt a,b); given again, adds more.
Flag ListFlag(const char* name, std::vector<std::string>* values,
              std::string help);
// One value per use, which may hold commas (--feed a=x.npy --feed b=y.npy).
Flag RepeatedFlag(const char* name, std::vector<std::string>* values,
                  std::string help);
// A value that `parse` turns into a T (a backend, a tokenizer); its error
// is reported after "--name VALUE: ".
template <typename T>
Flag ParsedFlag(const char* name, T* value, std::string default_text,
                std::string help,
                std::function<absl::StatusOr<T>(const std::string&)> parse);
// `flag` with `sentence` added to its help, for a command's own words.
Flag WithMoreHelp(Flag flag, const std::string& sentence);
// `flag`, also spelled `alias` (-o for "o", --out for "out").
Flag WithAlias(Flag flag, std::string alias);

// Sets the flags given in `args` (the words after the command's name) and
// returns the operands, in order; "--" ends the flags.
absl::StatusOr<std::vector<std::string>> ParseFlags(
    const std::vector<Flag>& flags, const std::vector<std::string>& args);

// "  -o, --output (default: ...)\n      help\n" for each flag.
std::string FlagsHelp(const std::vector<Flag>& flags);

// An error about `flag`'s value as given: "--name VALUE: <why>".
absl::Status FlagValueError(const std::string& flag, const std::string& value,
                            const std::string& why);

template <typename Int>
Flag IntFlag(const char* name, Int* value, std::string help) {
  return {name,
          {},
          std::move(help),
          std::to_string(*value),
          Flag::kValue,
          [name, value](const std::string& text) {
            return absl::SimpleAtoi(text, value)
                       ? absl::OkStatus()
                       : FlagValueError(name, text, "give a whole number");
          }};
}

template <typename T>
Flag ParsedFlag(const char* name, T* value, std::string default_text,
                std::string help,
                std::function<absl::StatusOr<T>(const std::string&)> parse) {
  return {name,
          {},
          std::move(help),
          std::move(default_text),
          Flag::kValue,
          [name, value, parse](const std::string& text) -> absl::Status {
            absl::StatusOr<T> parsed = parse(text);
            if (!parsed.ok()) {
              return FlagValueError(name, text,
                                    std::string(parsed.status().message()));
            }
            *value = *std::move(parsed);
            return absl::OkStatus();
          }};
}

}  // namespace rill

#endif  // RILL_TOOLS_FLAGS_H_

#include "tools/flags.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace rill {

absl::Status FlagValueError(const std::string& flag, const std::string& value,
                            const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " ", value, ": ", why));
}

Flag StringFlag(const char* name, std::string* value, std::string help) {
  return {name,
          {},
          std::move(help),
          *value,
          Flag::kValue,
          [value](const std::string& text) {
            *value = text;
            return absl::OkStatus();
          }};
}

Flag DoubleFlag(const char* name, double* value, std::string help) {
  return {name,
          {},
          std::move(help),
          absl::StrCat(*value),
          Flag::kValue,
          [name, value](const std::string& text) {
            return absl::SimpleAtod(text, value)
                       ? absl::OkStatus()
                       : FlagValueError(name, text, "give a number");
          }};
}

Flag SwitchFlag(const char* name, bool* value, std::string help) {
  return {name,
          {},
          std::move(help),
          "",
          Flag::kSwitch,
          [name, value](const std::string& text) {
            return absl::SimpleAtob(text, value)
                       ? absl::OkStatus()
                       : FlagValueError(name, text, "give true or false");
          }};
}

Flag ChoiceFlag(const char* name, std::string* value,
                std::vector<std::string> choices, std::string help) {
  return {
      name,
      {},
      std::move(help),
      *value,
      Flag::kValue,
      [name, value, choices](const std::string& text) {
        if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
          const std::vector<std::string> all_but_last(choices.begin(),
                                                      choices.end() - 1);
          return FlagValueError(
              name, text,
              absl::StrCat("choose ", absl::StrJoin(all_but_last, ", "), " or ",
                           choices.back()));
        }
        *value = text;
        return absl::OkStatus();
      }};
}

Flag ListFlag(const char* name, std::vector<std::string>* values,
              std::string help) {
  return {name,
          {},
          std::move(help),
          "",
          Flag::kValue,
          [values](const std::string& text) {
            for (absl::string_view v : absl::StrSplit(text, ',')) {
              values->emplace_back(v);
            }
            return absl::OkStatus();
          }};
}

Flag RepeatedFlag(const char* name, std::vector<std::string>* values,
                  std::string help) {
  return {name,
          {},
          std::move(help),
          "",
          Flag::kRepeated,
          [values](const std::string& text) {
            values->push_back(text);
            return absl::OkStatus();
          }};
}

Flag WithMoreHelp(Flag flag, const std::string& sentence) {
  absl::StrAppend(&flag.help, " ", sentence);
  return flag;
}

Flag WithAlias(Flag flag, std::string alias) {
  flag.aliases.push_back(std::move(alias));
  return flag;
}

absl::StatusOr<std::vector<std::string>> ParseFlags(
    const std::vector<Flag>& flags, const std::vector<std::string>& args) {
  std::map<std::string, const Flag*> by_name;
  for (const Flag& f : flags) {
    by_name[f.name] = &f;
    for (const std::string& alias : f.aliases) by_name[alias] = &f;
  }
  std::vector<std::string> operands;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      operands.insert(operands.end(), args.begin() + i + 1, args.end());
      break;
    }
    // "-5" is a value, not a flag.
    if (arg.size() < 2 || arg[0] != '-' || absl::ascii_isdigit(arg[1])) {
      operands.push_back(arg);
      continue;
    }
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const std::string name =
        absl::StrReplaceAll(body.substr(0, eq), {{"-", "_"}});
    auto it = by_name.find(name);
    bool negated = false;
    if (it == by_name.end() && absl::StartsWith(name, "no")) {
      auto base = by_name.find(name.substr(2));
      if (base != by_name.end() && base->second->kind == Flag::kSwitch) {
        it = base;
        negated = true;
      }
    }
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", arg, "'"));
    }
    const Flag& flag = *it->second;
    std::string value;
    if (flag.kind == Flag::kSwitch) {
      if (negated && eq != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", arg, "': --no", flag.name, " takes no value"));
      }
      value = eq != std::string::npos ? body.substr(eq + 1)
                                      : (negated ? "false" : "true");
    } else if (eq != std::string::npos) {
      value = body.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '", arg, "' needs a value"));
    }
    RETURN_IF_ERROR(flag.set(value));
  }
  return operands;
}

std::string FlagsHelp(const std::vector<Flag>& flags) {
  std::string text;
  for (const Flag& f : flags) {
    std::string shorts, longs;
    for (const std::string& alias : f.aliases) {
      if (alias.size() == 1) absl::StrAppend(&shorts, "-", alias, ", ");
      if (alias.size() > 1) absl::StrAppend(&longs, " (or --", alias, ")");
    }
    absl::StrAppend(&text, "  ", shorts, "--", f.name, longs);
    if (!f.default_text.empty()) {
      absl::StrAppend(&text, " (default: ", f.default_text, ")");
    }
    absl::StrAppend(&text, "\n      ", f.help, "\n");
  }
  return text;
}

}  // namespace rill

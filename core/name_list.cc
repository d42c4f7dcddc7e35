#include "core/name_list.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace rill {

std::vector<std::string_view> TextLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    text = end == std::string_view::npos ? std::string_view()
                                         : text.substr(end + 1);
  }
  return lines;
}

absl::Status LineError(const std::string& source, int64_t line,
                       const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", why));
}

absl::StatusOr<std::vector<std::string>> ParseNameList(
    std::string_view text, const std::string& source, const std::string& what) {
  std::vector<std::string> names;
  std::map<std::string, int64_t> seen;
  int64_t number = 0;
  for (std::string_view line : TextLines(text)) {
    ++number;
    const std::string name(absl::StripAsciiWhitespace(
        absl::string_view(line.data(), line.size())));
    if (name.empty()) return LineError(source, number, "empty " + what);
    auto [it, added] = seen.emplace(name, number);
    if (!added) {
      return LineError(
          source, number,
          absl::StrCat(what, " '", name, "' is listed twice (first on line ",
                       it->second, ")"));
    }
    names.push_back(name);
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no ", what, " (one per line)"));
  }
  return names;
}

}  // namespace rill

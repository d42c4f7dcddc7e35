#ifndef RILL_CORE_NAME_LIST_H_
#define RILL_CORE_NAME_LIST_H_

// Line-oriented text files: label lists, wordpiece lists, labelled data.
// Core, not text/, because an exported model's labels file is checked by
// runtime/ and read again by the tools.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rill {

// The lines of `text`, each without its "\n" (and a trailing "\r"); a
// final newline ends the last line rather than starting an empty one.
std::vector<std::string_view> TextLines(std::string_view text);

// "source:line: why", as an InvalidArgument error.
absl::Status LineError(const std::string& source, int64_t line,
                       const std::string& why);

// Names, one per line, id = line number from 0: the label names, or the
// wordpieces of bag-of-words features. Errors name the file and line, and
// call a name `what`: an empty name, a name listed twice, none at all.
absl::StatusOr<std::vector<std::string>> ParseNameList(
    std::string_view text, const std::string& source,
    const std::string& what = "label");

}  // namespace rill

#endif  // RILL_CORE_NAME_LIST_H_

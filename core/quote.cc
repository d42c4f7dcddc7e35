#include "core/quote.h"

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// `quote` is escaped too; '\0' means there is none.
std::string Escape(absl::string_view s, size_t max, char quote) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != quote) {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (s.size() > max) out += "...";
  if (quote != '\0')
    out = absl::StrCat(std::string(1, quote), out, std::string(1, quote));
  if (s.size() > max)
    absl::StrAppend(&out, " (", s.size(), " bytes, truncated)");
  return out;
}

}  // namespace

std::string QuoteForMessage(absl::string_view s, size_t max, char quote) {
  return Escape(s, max, quote);
}

std::string EscapeForMessage(absl::string_view s, size_t max) {
  return Escape(s, max, '\0');
}

}  // namespace rill

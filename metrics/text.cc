#include "metrics/text.h"

#include <unicode/ustring.h>
#include <unicode/utypes.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rill {
namespace text_internal {

int DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const auto at = [&](size_t k) -> unsigned char {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const unsigned char b0 = at(0);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  // The valid range of the second byte depends on the first one; this is
  // what excludes overlong forms, surrogates and code points past U+10FFFF.
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t value = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *cp = kInvalidBase + b0;
    return 1;
  }
  const unsigned char b1 = at(1);
  if (b1 < lo || b1 > hi) {
    *cp = kInvalidBase + b0;
    return 1;
  }
  value = (value << 6) | (b1 & 0x3F);
  for (int k = 2; k < len; ++k) {
    const unsigned char b = at(k);
    if ((b & 0xC0) != 0x80) {
      *cp = kInvalidBase + b0;
      return 1;
    }
    value = (value << 6) | (b & 0x3F);
  }
  *cp = value;
  return len;
}

void EncodeUtf8(char32_t cp, std::string* out) {
  if (cp >= kInvalidBase) {
    out->push_back(static_cast<char>(cp - kInvalidBase));
  } else if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::vector<char32_t> DecodeUtf8All(std::string_view s) {
  std::vector<char32_t> units;
  units.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    i += DecodeUtf8(s, i, &cp);
    units.push_back(cp);
  }
  return units;
}

}  // namespace text_internal

namespace {

using text_internal::DecodeUtf8;
using text_internal::ForEachToken;
using text_internal::kAsciiSpace;
using text_internal::kInvalidBase;

// Lowercases one valid UTF-8 run through UTF-16 with ICU's root locale.
void AppendLowerRun(std::string_view run, std::string* out) {
  UErrorCode err = U_ZERO_ERROR;
  std::u16string src(run.size(), u'\0');  // UTF-16 never needs more units
  int32_t src_len = 0;
  u_strFromUTF8(src.data(), static_cast<int32_t>(src.size()), &src_len,
                run.data(), static_cast<int32_t>(run.size()), &err);
  if (U_FAILURE(err)) {  // cannot happen on a valid run; keep the text
    out->append(run);
    return;
  }
  std::u16string lower(src_len + 16, u'\0');
  int32_t lower_len = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    err = U_ZERO_ERROR;
    lower_len = u_strToLower(lower.data(), static_cast<int32_t>(lower.size()),
                             src.data(), src_len, "", &err);
    if (err != U_BUFFER_OVERFLOW_ERROR) break;
    lower.resize(lower_len);
  }
  if (U_FAILURE(err)) {
    out->append(run);
    return;
  }
  const size_t base = out->size();
  out->resize(base + 3 * static_cast<size_t>(lower_len));
  int32_t utf8_len = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8(out->data() + base, 3 * lower_len, &utf8_len, lower.data(),
              lower_len, &err);
  if (U_FAILURE(err)) {
    out->resize(base);
    out->append(run);
    return;
  }
  out->resize(base + utf8_len);
}

}  // namespace

bool IsPythonSpace(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::vector<std::string_view> SplitWhitespace(std::string_view utf8) {
  std::vector<std::string_view> tokens;
  SplitWhitespace(utf8, &tokens);
  return tokens;
}

void SplitWhitespace(std::string_view utf8,
                     std::vector<std::string_view>* tokens) {
  tokens->clear();
  ForEachToken(utf8,
               [tokens](std::string_view token) { tokens->push_back(token); });
}

std::string_view RStripWhitespace(std::string_view utf8) {
  // From the end: a lead byte is never a continuation byte, so decoding from
  // the nearest lead byte finds the same last character as a forward scan.
  size_t end = utf8.size();
  while (end > 0) {
    const unsigned char last = static_cast<unsigned char>(utf8[end - 1]);
    if (last < 0x80) {
      if (!kAsciiSpace[last]) break;
      --end;
      continue;
    }
    size_t start = end - 1;
    while (start > 0 && end - start < 4 &&
           (static_cast<unsigned char>(utf8[start]) & 0xC0) == 0x80) {
      --start;
    }
    char32_t cp;
    const int len = DecodeUtf8(utf8, start, &cp);
    if (start + len != end || cp >= kInvalidBase || !IsPythonSpace(cp)) break;
    end = start;
  }
  return utf8.substr(0, end);
}

std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // Skip ASCII eight bytes at a time.
    uint64_t chunk;
    if (i + 8 <= s.size() && (std::memcpy(&chunk, s.data() + i, 8),
                              chunk & 0x8080808080808080ull) == 0) {
      i += 8;
      continue;
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    const int len = DecodeUtf8(s, i, &cp);
    if (cp >= kInvalidBase) return i;
    i += len;
  }
  return std::nullopt;
}

bool IsValidUtf8(std::string_view s) { return !FindInvalidUtf8(s); }

std::string Lowercase(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  bool ascii = true;
  for (char c : utf8) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) {
    for (char c : utf8) out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return out;
  }
  // ICU sees each maximal valid run whole (the final-sigma rule looks at
  // neighbouring letters, ASCII ones included); runs are capped so their
  // lengths fit ICU's int32_t with room for expansion.
  constexpr size_t kMaxRun = size_t{1} << 26;
  size_t i = 0;
  while (i < utf8.size()) {
    size_t j = i;
    while (j < utf8.size() && j - i < kMaxRun) {
      char32_t cp;
      const int len = DecodeUtf8(utf8, j, &cp);
      if (cp >= kInvalidBase) break;
      j += len;
    }
    if (j == i) {
      out.push_back(utf8[i++]);  // an invalid byte, kept as-is
      continue;
    }
    AppendLowerRun(utf8.substr(i, j - i), &out);
    i = j;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SplitTextLines(
    std::string_view text, absl::string_view name) {
  std::vector<std::string> lines;
  if (text.empty()) return lines;
  if (text.back() == '\n') text.remove_suffix(1);
  while (true) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!IsValidUtf8(line)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", lines.size() + 1, ": not valid UTF-8"));
    }
    lines.emplace_back(line);
    if (end == std::string_view::npos) return lines;
    text.remove_prefix(end + 1);
  }
}

}  // namespace rill

#include "metrics/tokenizer.h"

#include <unicode/uchar.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "metrics/text.h"

namespace rill {
namespace {

using text_internal::DecodeUtf8All;
using text_internal::EncodeUtf8;
using text_internal::ForEachToken;
using text_internal::kInvalidBase;

// Appends the whitespace-separated tokens of `s` to `out`, single-spaced.
void AppendJoinedTokens(std::string_view s, std::string* out) {
  ForEachToken(s, [out](std::string_view token) {
    if (!out->empty()) out->push_back(' ');
    out->append(token);
  });
}

std::string JoinTokens(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendJoinedTokens(s, &out);
  return out;
}

// ---- 13a ----
//
// sacreBLEU's TokenizerRegexp applies four re.sub calls in turn. Each pattern
// matches one or two fixed characters, so Python's leftmost, non-overlapping
// scan is a simple loop: try a match at i; on success emit the replacement
// and jump past the match, otherwise copy one character. Every character the
// patterns name is ASCII, so scanning bytes gives the same result as scanning
// code points: a multi-byte character is [^0-9], and only its last byte can
// be followed by '.' or ',' (rule 2); in rule 3 the bytes after a matched
// lead byte are continuation bytes, which never start a match.

// r'([\{-\~\[-\` -\&\(-\+\:-\@\/])' -> r' \1 '
constexpr std::array<bool, 256> kRule1Set = [] {
  std::array<bool, 256> t{};
  for (int c = '{'; c <= '~'; ++c) t[c] = true;
  for (int c = '['; c <= '`'; ++c) t[c] = true;
  for (int c = ' '; c <= '&'; ++c) t[c] = true;
  for (int c = '('; c <= '+'; ++c) t[c] = true;
  for (int c = ':'; c <= '@'; ++c) t[c] = true;
  t['/'] = true;
  return t;
}();
// Function objects rather than functions, so that BytePairPass inlines them.
struct IsDigit {
  bool operator()(char c) const { return c >= '0' && c <= '9'; }
};
struct IsNotDigit {
  bool operator()(char c) const { return c < '0' || c > '9'; }
};
struct IsPeriodComma {
  bool operator()(char c) const { return c == '.' || c == ','; }
};
struct IsDash {
  bool operator()(char c) const { return c == '-'; }
};

// One re.sub pass of a two-character pattern (groups matching `first` and
// `second`) over `in`, into *out; `space_before` selects r' \1 \2' over
// r'\1 \2 '. Writes through a pointer: this loop is the hot path of 13a.
template <typename First, typename Second>
void BytePairPass(std::string_view in, First first, Second second,
                  bool space_before, std::string* out) {
  out->resize(2 * in.size());
  char* p = out->data();
  const char* s = in.data();
  const size_t n = in.size();
  size_t i = 0;
  while (i + 1 < n) {
    if (first(s[i]) && second(s[i + 1])) {
      if (space_before) *p++ = ' ';
      *p++ = s[i];
      *p++ = ' ';
      *p++ = s[i + 1];
      if (!space_before) *p++ = ' ';
      i += 2;
    } else {
      *p++ = s[i++];
    }
  }
  if (i < n) *p++ = s[i];
  out->resize(p - out->data());
}

// Writes the padded, unjoined result of the four rules into *out.
void Tokenize13a(std::string_view line, std::string* out) {
  // One scan for the characters that the rules below depend on.
  bool has_newline = false, has_amp = false, has_lt = false;
  bool has_period_comma = false, has_dash = false;
  for (char c : line) {
    switch (c) {
      case '\n':
        has_newline = true;
        break;
      case '&':
        has_amp = true;
        break;
      case '<':
        has_lt = true;
        break;
      case '.':
      case ',':
        has_period_comma = true;
        break;
      case '-':
        has_dash = true;
        break;
    }
  }
  // The language-independent part, as sequential str.replace calls.
  std::string replaced;
  std::string_view s = line;
  const bool has_skipped =
      has_lt && s.find("<skipped>") != std::string_view::npos;
  if (has_newline || has_amp || has_skipped) {
    replaced = std::string(line);
    if (has_skipped)
      replaced = absl::StrReplaceAll(replaced, {{"<skipped>", ""}});
    if (has_newline) {
      replaced = absl::StrReplaceAll(replaced, {{"-\n", ""}});
      replaced = absl::StrReplaceAll(replaced, {{"\n", " "}});
    }
    // Python tests for '&' after the replacements above.
    if (replaced.find('&') != std::string::npos) {
      replaced = absl::StrReplaceAll(replaced, {{"&quot;", "\""}});
      replaced = absl::StrReplaceAll(replaced, {{"&amp;", "&"}});
      replaced = absl::StrReplaceAll(replaced, {{"&lt;", "<"}});
      replaced = absl::StrReplaceAll(replaced, {{"&gt;", ">"}});
    }
    s = replaced;
  }

  // f' {line} ', then rule 1 (one character, so no overlap questions). The
  // buffers are per thread so that steady-state tokenizing allocates only
  // its result.
  thread_local std::string a, b;
  a.resize(3 * s.size() + 2);
  char* p = a.data();
  *p++ = ' ';
  for (char c : s) {
    if (kRule1Set[static_cast<unsigned char>(c)]) {
      *p++ = ' ';
      *p++ = c;
      *p++ = ' ';
    } else {
      *p++ = c;
    }
  }
  *p++ = ' ';
  a.resize(p - a.data());

  // The rules only insert spaces, so a rule whose characters are absent from
  // the line (checked before the replacements, which add none of them) is
  // skipped.
  if (has_period_comma) {
    // Rule 2: r'([^0-9])([\.,])' -> r'\1 \2 '
    BytePairPass(a, IsNotDigit(), IsPeriodComma(), /*space_before=*/false, &b);
    // Rule 3: r'([\.,])([^0-9])' -> r' \1 \2'
    BytePairPass(b, IsPeriodComma(), IsNotDigit(), /*space_before=*/true, &a);
  }
  if (has_dash) {
    // Rule 4: r'([0-9])(-)' -> r'\1 \2 '
    BytePairPass(a, IsDigit(), IsDash(), /*space_before=*/false, &b);
    a.swap(b);
  }
  out->assign(a);
}

// ---- intl ----

enum : uint8_t { kCatN = 1, kCatP = 2, kCatS = 4 };

uint8_t IcuCategory(char32_t cp) {
  const uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  return ((mask & U_GC_N_MASK) ? kCatN : 0) |
         ((mask & U_GC_P_MASK) ? kCatP : 0) |
         ((mask & U_GC_S_MASK) ? kCatS : 0);
}

// \p{N}, \p{P} and \p{S} as bit flags; invalid bytes have none.
uint8_t Category(char32_t cp) {
  static const std::array<uint8_t, 128> kAscii = [] {
    std::array<uint8_t, 128> t{};
    for (char32_t c = 0; c < 128; ++c) t[c] = IcuCategory(c);
    return t;
  }();
  if (cp < 128) return kAscii[cp];
  if (cp >= kInvalidBase) return 0;
  return IcuCategory(cp);
}

// One re.sub pass of a two-character pattern (first matches `a`, second
// matches `b`); `space_before` selects r' \1 \2' over r'\1 \2 '.
template <typename A, typename B>
void PairPass(const std::vector<char32_t>& in, A a, B b, bool space_before,
              std::vector<char32_t>* out) {
  out->clear();
  out->reserve(2 * in.size());
  for (size_t i = 0; i < in.size();) {
    if (i + 1 < in.size() && a(in[i]) && b(in[i + 1])) {
      if (space_before) out->push_back(' ');
      out->push_back(in[i]);
      out->push_back(' ');
      out->push_back(in[i + 1]);
      if (!space_before) out->push_back(' ');
      i += 2;
    } else {
      out->push_back(in[i++]);
    }
  }
}

// Appends the units as whitespace-separated tokens, single-spaced.
std::string JoinUnits(const std::vector<char32_t>& units, bool split_all) {
  std::string out;
  out.reserve(units.size() * 2);
  bool pending_space = false;
  for (char32_t u : units) {
    if (u < kInvalidBase && IsPythonSpace(u)) {
      pending_space = true;
      continue;
    }
    if ((pending_space || split_all) && !out.empty()) out.push_back(' ');
    pending_space = false;
    EncodeUtf8(u, &out);
  }
  return out;
}

std::string TokenizeIntl(std::string_view line) {
  const auto not_number = [](char32_t c) { return !(Category(c) & kCatN); };
  const auto punct = [](char32_t c) { return (Category(c) & kCatP) != 0; };
  std::vector<char32_t> a = DecodeUtf8All(line), b;
  // r'(\P{N})(\p{P})' -> r'\1 \2 '
  PairPass(a, not_number, punct, /*space_before=*/false, &b);
  // r'(\p{P})(\P{N})' -> r' \1 \2'
  PairPass(b, punct, not_number, /*space_before=*/true, &a);
  // r'(\p{S})' -> r' \1 '
  b.clear();
  b.reserve(3 * a.size());
  for (char32_t c : a) {
    if (Category(c) & kCatS) {
      b.push_back(' ');
      b.push_back(c);
      b.push_back(' ');
    } else {
      b.push_back(c);
    }
  }
  return JoinUnits(b, /*split_all=*/false);
}

}  // namespace

absl::StatusOr<Tokenizer> ParseTokenizer(const std::string& name) {
  if (name == "none") return Tokenizer::kNone;
  if (name == "13a") return Tokenizer::k13a;
  if (name == "intl") return Tokenizer::kIntl;
  if (name == "char") return Tokenizer::kChar;
  return absl::InvalidArgumentError("unknown tokenizer '" + name +
                                    "' (choices: none, 13a, intl, char)");
}

const char* TokenizerName(Tokenizer t) {
  switch (t) {
    case Tokenizer::kNone:
      return "none";
    case Tokenizer::k13a:
      return "13a";
    case Tokenizer::kIntl:
      return "intl";
    case Tokenizer::kChar:
      return "char";
  }
  return "unknown";
}

std::string Tokenize(Tokenizer t, std::string_view utf8_line) {
  switch (t) {
    case Tokenizer::k13a: {
      thread_local std::string unjoined;
      Tokenize13a(utf8_line, &unjoined);
      return JoinTokens(unjoined);
    }
    case Tokenizer::kIntl:
      return TokenizeIntl(utf8_line);
    case Tokenizer::kChar:
      // " ".join(line), then split(): whitespace characters vanish.
      return JoinUnits(DecodeUtf8All(utf8_line), /*split_all=*/true);
    case Tokenizer::kNone:
      break;
  }
  return JoinTokens(utf8_line);
}

void TokenizeUnjoined(Tokenizer t, std::string_view utf8_line,
                      std::string* out) {
  switch (t) {
    case Tokenizer::k13a:
      Tokenize13a(utf8_line, out);
      return;
    case Tokenizer::kNone:
      out->assign(utf8_line);
      return;
    default:
      *out = Tokenize(t, utf8_line);
  }
}

}  // namespace rill

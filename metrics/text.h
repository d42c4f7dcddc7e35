#ifndef RILL_METRICS_TEXT_H_
#define RILL_METRICS_TEXT_H_

// The pieces of Python's string semantics that BLEU depends on (str.split,
// str.rstrip, str.lower, strict UTF-8 decoding), on UTF-8 bytes.
//
// All functions are total: on invalid UTF-8 each offending byte is kept
// as-is and treated as one opaque character that is not whitespace (nor,
// for the tokenizers, punctuation, symbol or number). Callers that need
// sacreBLEU's behaviour, which cannot decode such input at all, reject it
// first with IsValidUtf8.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rill {

// Python's str.split() with no argument, on UTF-8 (Unicode whitespace as
// Python's str.isspace defines it). The views point into `utf8`.
std::vector<std::string_view> SplitWhitespace(std::string_view utf8);
// The same into *tokens, reusing its storage.
void SplitWhitespace(std::string_view utf8,
                     std::vector<std::string_view>* tokens);

// Python's str.rstrip() with no argument.
std::string_view RStripWhitespace(std::string_view utf8);

// Whether `cp` is whitespace for Python's str.isspace (Unicode 14/15).
bool IsPythonSpace(char32_t cp);

// Strict UTF-8 as Python's decoder accepts it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);
// The byte offset of the first invalid sequence, or nullopt if `s` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view s);

// The lines of `text` without their terminators ("\n", or "\r\n"; a final
// newline starts no extra line), each checked to be valid UTF-8; errors
// name the line as `name`:LINE ("<stdin>:3: not valid UTF-8"). What `rill
// bleu` and `rill decode` read their text files with.
absl::StatusOr<std::vector<std::string>> SplitTextLines(std::string_view text,
                                                        absl::string_view name);

// Python's str.lower() (full Unicode lowercase mapping, via ICU u_strToLower
// with the root locale; this includes the final-sigma rule).
std::string Lowercase(std::string_view utf8);

namespace text_internal {

// A byte that does not start a valid UTF-8 sequence decodes to
// kInvalidBase + byte, so that it survives a decode/encode round trip
// unchanged and has no Unicode properties.
inline constexpr char32_t kInvalidBase = 0x110000;

// Decodes the code point at s[i] (i < s.size()) strictly, as Python's UTF-8
// codec does. Returns the number of bytes consumed (1 for an invalid byte).
int DecodeUtf8(std::string_view s, size_t i, char32_t* cp);
void EncodeUtf8(char32_t cp, std::string* out);
std::vector<char32_t> DecodeUtf8All(std::string_view s);

// Python's isspace for ASCII: 9..13, 28..31 and the space.
inline constexpr std::array<bool, 128> kAsciiSpace = [] {
  std::array<bool, 128> t{};
  for (int c = 9; c <= 13; ++c) t[c] = true;
  for (int c = 28; c <= 32; ++c) t[c] = true;
  return t;
}();

// Length of the whitespace character at s[i], or 0 if there is none. Only
// bytes that can start a non-ASCII space (U+0085, U+00A0, U+1680, U+2000..,
// U+3000) need decoding; continuation bytes never equal those lead bytes, so
// callers may step through non-space text one byte at a time.
inline int SpaceLength(std::string_view s, size_t i) {
  const unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return kAsciiSpace[b] ? 1 : 0;
  if (b != 0xC2 && b != 0xE1 && b != 0xE2 && b != 0xE3) return 0;
  char32_t cp;
  const int len = DecodeUtf8(s, i, &cp);
  return cp < kInvalidBase && IsPythonSpace(cp) ? len : 0;
}

// Bytes by what they may start: 0 nothing space-like, 1 an ASCII space,
// 2 possibly a non-ASCII space (the lead bytes of U+0085, U+00A0, U+1680,
// U+2000.., U+3000).
inline constexpr std::array<unsigned char, 256> kByteClass = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 128; ++c) t[c] = kAsciiSpace[c] ? 1 : 0;
  t[0xC2] = t[0xE1] = t[0xE2] = t[0xE3] = 2;
  return t;
}();

// Calls emit(token) for each whitespace-separated token, in one pass. The
// token loop only looks bytes up in kByteClass: splitting is a hot path of
// corpus BLEU.
template <typename Emit>
void ForEachToken(std::string_view s, Emit emit) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    int space;
    while (i < n && (space = SpaceLength(s, i)) > 0) i += space;
    if (i == n) return;
    const size_t start = i;
    while (i < n) {
      const unsigned char cls = kByteClass[static_cast<unsigned char>(s[i])];
      if (cls == 1 || (cls == 2 && SpaceLength(s, i) > 0)) break;
      ++i;
    }
    emit(s.substr(start, i - start));
  }
}

}  // namespace text_internal
}  // namespace rill

#endif  // RILL_METRICS_TEXT_H_

// libFuzzer target for the vocabulary file `rill decode` reads
// (seq2seq.vocab): the bytes as the file, read as the command reads it
// (SplitTextLines, then ParseVocabulary with as many tokens as it has, and
// with one more, which must fail). What parses must map each token to its
// line, a line of every token (up to 64) to ids 0, 1, ... and back to the
// same text; an unknown token and an id outside the vocabulary are errors.
// Errors name the file first and quote what they echo. Seeds:
// examples/translate/vocab.txt and corpus/decode_vocab/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "metrics/text.h"
#include "models/decode.h"

namespace {

constexpr size_t kMaxMessageBytes = 1024;
constexpr size_t kMaxLineTokens = 64;

void CheckError(const absl::Status& s, absl::string_view prefix) {
  if (s.ok() || !absl::StartsWith(s.message(), prefix) ||
      s.message().find('\x1b') != absl::string_view::npos ||
      s.message().size() > kMaxMessageBytes) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<std::string>> lines =
      rill::SplitTextLines(bytes, "vocab.txt");
  if (!lines.ok()) {
    CheckError(lines.status(), "vocab.txt");
    return 0;
  }
  const int64_t n = static_cast<int64_t>(lines->size());
  absl::StatusOr<rill::Vocabulary> v =
      rill::ParseVocabulary(*lines, "vocab.txt", n);
  if (!v.ok()) {
    CheckError(v.status(), "vocab.txt");
    return 0;
  }
  CheckError(rill::ParseVocabulary(*lines, "vocab.txt", n + 1).status(),
             "vocab.txt");
  std::vector<int64_t> expected;
  for (int64_t k = 0; k < n; ++k) {
    absl::StatusOr<std::vector<int64_t>> ids =
        rill::TokenIds(*v, v->tokens[k], "in.txt:1: ");
    if (!ids.ok() || *ids != std::vector<int64_t>{k}) __builtin_trap();
    if (expected.size() < kMaxLineTokens) expected.push_back(k);
  }
  std::vector<absl::string_view> words;
  for (int64_t k : expected) words.push_back(v->tokens[k]);
  const std::string line = absl::StrJoin(words, " ");
  absl::StatusOr<std::vector<int64_t>> ids =
      rill::TokenIds(*v, "\t" + line + " ", "in.txt:1: ");
  if (!ids.ok() || *ids != expected) __builtin_trap();
  absl::StatusOr<std::string> back = rill::JoinTokens(*v, *ids);
  if (!back.ok() || *back != line) __builtin_trap();
  // A token no vocabulary line can hold, and ids out of range.
  const std::string unknown = "\x1b[2J" + std::string(300, 'u');
  if (v->ids.count(unknown) == 0) {
    CheckError(rill::TokenIds(*v, line + " " + unknown, "in.txt:1: ").status(),
               "in.txt:1: ");
  }
  if (rill::JoinTokens(*v, {n}).ok() || rill::JoinTokens(*v, {-1}).ok()) {
    __builtin_trap();
  }
  return 0;
}

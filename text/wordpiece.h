#ifndef RILL_TEXT_WORDPIECE_H_
#define RILL_TEXT_WORDPIECE_H_

// BERT's tokenizer: a vocabulary (vocab.txt), the basic tokenizer and
// WordPiece, as google-research/bert's tokenization.py and Hugging Face's
// BertTokenizer define them.
//
// Basic tokenization, per whitespace-separated token:
//   - U+0000, U+FFFD and every Cc/Cf character other than tab, newline and
//     CR are dropped;
//   - tab, newline, CR and Zs separate tokens (and U+2028/U+2029, which
//     Python's str.split() splits on after the cleaning);
//   - each CJK ideograph (4E00-9FFF, 3400-4DBF, 20000-2A6DF, 2A700-2B73F,
//     2B740-2B81F, 2B820-2CEAF, F900-FAFF, 2F800-2FA1F; not Hangul or kana)
//     is a token of its own;
//   - with `lowercase`: Unicode full lowercasing (Python's str.lower), then
//     NFD with the nonspacing marks (Mn) dropped, which strips accents;
//   - each punctuation character (ASCII 33-47, 58-64, 91-96, 123-126 and
//     every Unicode P* category) is a word of its own.
// WordPiece then splits each word greedily, longest match first, continuing
// pieces spelled "##piece" in the vocabulary. A word with an unmatched part,
// or longer than max_input_chars_per_word code points, is one [UNK].
//
// Where the two published implementations differ (BertMode):
//   - google: no normalization before the whitespace split;
//     max_input_chars_per_word defaults to 200.
//   - hf: NFC after the cleaning and CJK spacing, before the whitespace
//     split (so "e" + U+0301 is the one character U+00E9 when not
//     lowercasing); max_input_chars_per_word defaults to 100.
// Not modelled: HF's `never_split`, by which "[MASK]" written in the text is
// the special token; here text is plain text in both modes ("[", "mask",
// "]"), as in google's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

// The five special tokens a BERT vocabulary holds, in the order the
// vocabulary builder gives them ids 0-4.
inline constexpr const char* kBertSpecialTokens[] = {"[PAD]", "[UNK]", "[CLS]",
                                                     "[SEP]", "[MASK]"};

class Vocab {
 public:
  // Reads vocab.txt: one token per line ("\n" or "\r\n"), id = line number
  // from 0. Errors name the file (and line): unreadable, over 256 MiB,
  // invalid UTF-8, an empty line, a token listed twice (both lines), and,
  // with `require_special`, one of kBertSpecialTokens missing. [UNK] is
  // always required: WordPiece needs it.
  [[nodiscard]] static absl::StatusOr<Vocab> Load(const std::string& path,
                                                  bool require_special = true);
  // The same checks on tokens already in memory; `source` names them in
  // errors (a file name, or "<vocab>").
  [[nodiscard]] static absl::StatusOr<Vocab> FromTokens(
      std::vector<std::string> tokens, const std::string& source,
      bool require_special = true);

  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;
  Vocab(const Vocab&) = delete;  // The maps point into tokens_.
  Vocab& operator=(const Vocab&) = delete;

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_[id]; }
  // The id of `token` as written ("##ing" for a continuation), or -1.
  int32_t Find(std::string_view token) const;
  int32_t unk_id() const { return unk_id_; }

  // The id of a word-initial piece, or of a continuation piece given without
  // its "##"; -1 when absent. No allocation: the hot path of WordPiece.
  int32_t FindInitial(std::string_view piece) const {
    auto it = initial_.find(absl::string_view(piece.data(), piece.size()));
    return it == initial_.end() ? -1 : it->second;
  }
  int32_t FindContinuation(std::string_view piece) const {
    auto it = continuation_.find(absl::string_view(piece.data(), piece.size()));
    return it == continuation_.end() ? -1 : it->second;
  }
  // The longest piece in bytes (without "##"), to bound the search.
  size_t max_piece_bytes() const { return max_piece_bytes_; }

 private:
  Vocab() = default;

  std::vector<std::string> tokens_;
  // Views into tokens_, whose strings a move of the vector does not move.
  // (absl::string_view, not std::: Debian's Abseil keeps its own, and hashes
  // it faster than std::hash hashes the standard one.)
  absl::flat_hash_map<absl::string_view, int32_t> initial_, continuation_;
  int32_t unk_id_ = -1;
  size_t max_piece_bytes_ = 0;
};

enum class BertMode { kGoogle, kHf };
// "google" or "hf"; anything else is an error listing both.
[[nodiscard]] absl::StatusOr<BertMode> ParseBertMode(std::string_view name);
const char* BertModeName(BertMode mode);
// 200 for google, 100 for hf.
int DefaultMaxInputCharsPerWord(BertMode mode);

struct BertTokenizerOptions {
  bool lowercase = false;
  BertMode mode = BertMode::kGoogle;
  // Words longer than this (in code points) become [UNK]; 0: the mode's
  // default.
  int max_input_chars_per_word = 0;
};

// The basic tokenizer alone: calls emit(word) for each word WordPiece would
// see, in order (the view lives until emit returns). Invalid UTF-8 is an
// error naming the byte offset, after the words before it were emitted.
[[nodiscard]] absl::Status ForEachBasicToken(
    std::string_view text, const BertTokenizerOptions& options,
    absl::FunctionRef<void(std::string_view)> emit);

// The basic tokenizer and WordPiece over one vocabulary, which must outlive
// it. Stateless after construction, so one tokenizer may serve several
// threads.
class BertTokenizer {
 public:
  BertTokenizer(const Vocab* vocab, const BertTokenizerOptions& options);

  // Appends the ids of `text` to *ids. Invalid UTF-8 is an error naming
  // the byte offset; *ids is then unchanged.
  [[nodiscard]] absl::Status Encode(std::string_view text,
                                    std::vector<int32_t>* ids) const;
  // The words of ForEachBasicToken, with this tokenizer's options.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> BasicTokenize(
      std::string_view text) const;
  // WordPiece of one word (no whitespace, as BasicTokenize makes them);
  // appends its ids to *ids.
  void WordPiece(std::string_view word, std::vector<int32_t>* ids) const;

  const Vocab& vocab() const { return *vocab_; }
  const BertTokenizerOptions& options() const { return options_; }

 private:
  const Vocab* vocab_;
  BertTokenizerOptions options_;
};

}  // namespace rill

#endif  // RILL_TEXT_WORDPIECE_H_

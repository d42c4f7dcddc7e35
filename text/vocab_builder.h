#ifndef RILL_TEXT_VOCAB_BUILDER_H_
#define RILL_TEXT_VOCAB_BUILDER_H_

// Builds a WordPiece vocabulary from a corpus, for users without a
// pretrained one.
//
// The algorithm (the one Hugging Face's `tokenizers` WordPieceTrainer runs:
// byte-pair-style merges over pieces spelled as WordPiece spells them):
//   1. The corpus goes through the basic tokenizer (wordpiece.h) with the
//      given options; words are counted. Words longer than
//      max_input_chars_per_word are left out: WordPiece maps them to [UNK].
//   2. Each word starts as its characters: the first as itself, the others
//      as continuation pieces "##c". Every character piece that occurs is
//      in the vocabulary, so every counted word can be tokenized without
//      [UNK].
//   3. Repeatedly, the adjacent pair of pieces that occurs most often
//      (counting each word by its frequency) is merged into one piece:
//      "un" + "##aff" -> "unaff", "##aff" + "##able" -> "##affable". A new
//      piece joins the vocabulary; the merge stops at `vocab_size` tokens,
//      or when no pair occurs at least `min_pair_count` times.
// Ids: [PAD] [UNK] [CLS] [SEP] [MASK] are 0-4; then the character pieces,
// most frequent first; then the merged pieces in the order they were made.
// Ties are broken deterministically: characters of equal frequency by their
// UTF-8 bytes; pairs of equal count by the earlier id of the left piece,
// then of the right piece. The same corpus and options give the same
// vocabulary.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "text/wordpiece.h"

namespace rill {

struct VocabBuilderOptions {
  int64_t vocab_size = 30522;
  // How the corpus is split into words; should match how the vocabulary
  // will be used (lowercase for an uncased model).
  BertTokenizerOptions tokenizer;
  int64_t min_pair_count = 2;
};

struct VocabBuildStats {
  int64_t words = 0;           // Counted in the corpus.
  int64_t distinct_words = 0;  // Of those, different.
  int64_t skipped_words = 0;   // Over max_input_chars_per_word.
  int64_t characters = 0;      // Character pieces (c and ##c).
  int64_t merged = 0;          // Pieces made by merges.
};

// The vocabulary's tokens in id order. `source` names the corpus in errors
// ("corpus.txt:7: not valid UTF-8 (at byte 3)"). Errors: vocab_size smaller
// than the special tokens plus the corpus's character pieces, or a corpus
// without words.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> BuildWordPieceVocab(
    const std::vector<std::string>& lines, const std::string& source,
    const VocabBuilderOptions& options, VocabBuildStats* stats = nullptr);

}  // namespace rill

#endif  // RILL_TEXT_VOCAB_BUILDER_H_

#ifndef RILL_TEXT_CLASSIFICATION_DATA_H_
#define RILL_TEXT_CLASSIFICATION_DATA_H_

// Labelled text as the arrays of BERT's sequence (pair) classifier
// (models/bert.h, num_labels), made as google-research/bert's
// run_classifier.py makes its features: [CLS] A [SEP] (B [SEP]), token
// types 0 for [CLS] A [SEP] and 1 for B [SEP], zero padding to
// max_seq_length, and a pair truncated longest first (one token at a time
// from the end of the longer segment, B's on a tie) until it fits.
//
// Input: one example per line, "label<TAB>text" or "label<TAB>text<TAB>
// text_b" (UTF-8; a trailing CR is dropped). Also, for a bag-of-words
// baseline, each example's wordpiece counts over a fixed list of pieces.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/name_list.h"
#include "core/status.h"
#include "core/tensor.h"
#include "text/wordpiece.h"

namespace rill {

struct LabelledExample {
  int64_t label = 0;
  std::vector<int32_t> a, b;  // Wordpiece ids, untruncated; b empty: single.
  int64_t line = 0;           // In the source, from 1.
};

struct LabelledText {
  std::vector<LabelledExample> examples;
  bool pairs = false;  // Some line has a second text.
};

// Reads and tokenizes the lines. With `label_names` empty, the names found
// become the labels, in sorted order, and are stored there; otherwise a
// name not listed is an error. Errors name `source` and the line: a
// missing TAB, more than three columns, an empty label, an empty text (or
// one with no token), invalid UTF-8; and an empty input.
absl::StatusOr<LabelledText> ReadLabelledText(
    std::string_view text, const std::string& source,
    const BertTokenizer& tokenizer, std::vector<std::string>* label_names);

// The `n` most frequent wordpiece ids of the examples (both texts, whole),
// most frequent first, ties to the smaller id; fewer when the examples
// hold fewer distinct pieces.
std::vector<int32_t> MostFrequentPieces(
    const std::vector<LabelledExample>& examples, int64_t n);

// One example as the classifier reads it: [CLS] A [SEP], and B [SEP] when
// `b` is not empty, the pair cut longest first to fit `max_seq_length`.
struct ClassifierTokens {
  std::vector<int32_t> ids;
  size_t b_start =
      0;             // Where B [SEP] (token type 1) starts; ids.size() if none.
  bool cut = false;  // Whether tokens were dropped to fit.
};
ClassifierTokens ClassifierInput(std::vector<int32_t> a, std::vector<int32_t> b,
                                 int32_t cls, int32_t sep,
                                 int64_t max_seq_length);

// The arrays: input_ids, token_type_ids, attention_mask i64 [n, S], labels
// i64 [n]; and, with `bow_pieces` not empty, bow f32 [n, F]: element
// (i, k) counts bow_pieces[k] in example i's texts (whole, not
// truncated). `truncated` is the number of examples that lost tokens.
struct ClassificationArrays {
  std::vector<std::pair<std::string, Tensor>> arrays;
  int64_t truncated = 0;
};
absl::StatusOr<ClassificationArrays> MakeClassificationArrays(
    const std::vector<LabelledExample>& examples, const Vocab& vocab,
    int64_t max_seq_length, const std::vector<int32_t>& bow_pieces);

}  // namespace rill

#endif  // RILL_TEXT_CLASSIFICATION_DATA_H_

#ifndef RILL_TEXT_PRETRAINING_DATA_H_
#define RILL_TEXT_PRETRAINING_DATA_H_

// BERT's pretraining examples, made as google-research/bert's
// create_pretraining_data.py makes them (SPEC.md, FACTS.md "Pretraining
// data"): a corpus of documents, one sentence per line and a blank line
// between documents, becomes [CLS] A [SEP] B [SEP] pairs for next-sentence
// prediction, with 15% of the tokens chosen for masked language modelling.
//
// The procedure, step for step as the reference runs it, with one random
// stream (core/random.h) in the same order of draws; SplitMix64 replaces
// Python's Mersenne Twister, so the examples are the reference's in
// distribution, not in bytes:
//   * the documents are shuffled; each is used `dupe_factor` times (with
//     fresh draws), and the examples of all passes are shuffled at the end;
//   * a document is cut into chunks of about `target` tokens, where target
//     is max_seq_length - 3, or, with probability short_seq_prob, uniform
//     in [2, max_seq_length - 3];
//   * A is the chunk's first k sentences (k uniform in [1, sentences - 1]);
//     B is the rest of the chunk, or, always for a one-sentence chunk and
//     otherwise with probability 0.5, sentences from a random other
//     document (10 tries to avoid its own), whose unused chunk sentences are
//     then put back for the next chunk;
//   * while the pair is longer than max_seq_length - 3 tokens, the longer
//     segment loses a token, from the front or the back with equal chance;
//   * num_to_predict = min(max_predictions_per_seq,
//     max(1, round(n * masked_lm_prob))) over all n tokens, [CLS] and [SEP]
//     included (rounding halves to even, as Python does); the positions are
//     the first of a shuffle of all but [CLS] and [SEP]; each becomes [MASK]
//     with probability 0.8, else stays itself or becomes a uniformly drawn
//     vocabulary id, with equal chance.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "text/wordpiece.h"

namespace rill {

struct PretrainingDataOptions {
  int64_t max_seq_length = 128;
  int64_t max_predictions_per_seq = 20;
  double masked_lm_prob = 0.15;
  double short_seq_prob = 0.1;
  int64_t dupe_factor = 10;
  uint64_t seed = 12345;
};

// Errors name the option: max_seq_length >= 5 (the three special tokens and
// one of each segment), max_predictions_per_seq >= 1, probabilities in
// [0, 1] (masked_lm_prob above 0), dupe_factor >= 1.
absl::Status ValidatePretrainingOptions(const PretrainingDataOptions& o);

// A document: its sentences, each as token ids (never empty).
using Document = std::vector<std::vector<int32_t>>;

// Tokenizes a corpus: a line with nothing but whitespace ends a document, a
// line that tokenizes to nothing is skipped. Errors name `source` and the
// line. A corpus without a document of two sentences is an error: no
// example could have a real next sentence.
absl::StatusOr<std::vector<Document>> ReadDocuments(
    std::string_view text, const std::string& source,
    const BertTokenizer& tokenizer);

// One example, unpadded.
struct PretrainingExample {
  std::vector<int32_t> tokens;   // [CLS] A [SEP] B [SEP], masks applied.
  int32_t segment_a_length = 0;  // [CLS] A [SEP].
  std::vector<int32_t> masked_positions;  // Ascending.
  std::vector<int32_t> masked_ids;        // The original tokens there.
  bool random_next = false;
};

struct PretrainingExamples {
  std::vector<PretrainingExample> examples;
  // Chunks of one sentence, whose B is random by necessity, not by the 50%
  // draw (so that the draw itself can be checked).
  int64_t forced_random_next = 0;
};

// Told after each pass over the corpus (1 to dupe_factor) the examples made
// so far; and after each shard written (1 to shards).
using PretrainingProgress = std::function<void(int64_t done, int64_t count)>;

// Makes the examples; `budget` bounds their memory (an estimate from the
// corpus size is checked before anything is made).
absl::StatusOr<PretrainingExamples> MakePretrainingExamples(
    std::vector<Document> documents, const Vocab& vocab,
    const PretrainingDataOptions& options, const MemoryBudget& budget,
    const PretrainingProgress& progress = nullptr);

// The graph inputs of BERT's pretraining graph, in this order: the names
// its model spec takes, and the stems of the shard files.
inline constexpr const char* kPretrainingInputs[] = {
    "input_ids",           "token_type_ids", "attention_mask",
    "masked_lm_positions", "masked_lm_ids",  "masked_lm_weights",
    "next_sentence_labels"};

// Writes the examples as .npy shards in `dir` (created if missing):
// <input>-<k>.npy for k = 00000, 00001, ..., each of at most
// `examples_per_shard` rows. input_ids, token_type_ids and attention_mask
// are i64 [n, max_seq_length], zero-padded; masked_lm_positions and
// masked_lm_ids i64 [n, max_predictions_per_seq] and masked_lm_weights f32
// (1 for a prediction, 0 for padding); next_sentence_labels i64 [n] (1: B is
// random). A directory that already holds shards is refused. Each file is
// written atomically; returns the number of shards.
absl::StatusOr<int64_t> WritePretrainingShards(
    const PretrainingExamples& examples, const PretrainingDataOptions& options,
    const std::string& dir, int64_t examples_per_shard,
    const PretrainingProgress& progress = nullptr);

}  // namespace rill

#endif  // RILL_TEXT_PRETRAINING_DATA_H_

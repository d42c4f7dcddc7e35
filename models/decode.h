#ifndef RILL_MODELS_DECODE_H_
#define RILL_MODELS_DECODE_H_

// Greedy and beam-search decoding of the seq2seq Transformer
// (models/seq2seq.h), with its trained parameters.
//
// Beam search keeps `beam_size` live hypotheses per sentence. At each step
// every live hypothesis is extended by every token; of the candidates,
// best first, an EOS among the first beam_size ends a hypothesis, and the
// first beam_size others stay live. A sentence is done when beam_size
// hypotheses have ended, or at the target length T (live ones then end as
// they are). The answer is the ended hypothesis with the best score
// log P(y) / lp(y), where lp(y) = ((5 + |y|) / 6)^length_penalty (Wu et al.
// 2016, GNMT, eq. 14) and |y| counts the tokens generated, EOS included;
// length_penalty 0 ranks by log P(y) alone. Ties go to the hypothesis that
// ended first. beam_size 1 is greedy decoding.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tensor.h"
#include "models/seq2seq.h"
#include "runtime/executor.h"

namespace rill {

enum class DecodeStrategy {
  // Runs the decoder on one new position per step, reading and writing the
  // self-attention's key/value cache; the memory's K and V are projected
  // once per source.
  kCache,
  // Runs the decoder over the whole target buffer [B, T] at every step.
  kRecompute,
};

struct DecodeOptions {
  int64_t beam_size = 1;      // >= 1; 1: greedy.
  double length_penalty = 0;  // alpha >= 0, above.
  int64_t bos_id = 1;         // What the target starts with.
  int64_t eos_id = 2;         // What ends a hypothesis.
  DecodeStrategy strategy = DecodeStrategy::kCache;
  int64_t batch_size = 64;  // Sentences decoded together, >= 1.
  // Backend, precision (bf16's size threshold included) and fusion of the
  // encoder's and the step's executors, as for any other run.
  ExecutorOptions executor;
  // Called after each batch with the sentences done so far and in all.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct DecodeStats {
  int64_t sentences = 0;
  int64_t steps = 0;  // Decoder runs.
  double encode_ms = 0, decode_ms = 0;
};

class Seq2SeqDecoder {
 public:
  // `parameters` maps Parameter node names to values (e.g.
  // CheckpointParameters of a training checkpoint); each decoding graph
  // takes the ones it uses, which must all be there.
  static absl::StatusOr<std::unique_ptr<Seq2SeqDecoder>> Create(
      const Seq2SeqOptions& model, const DecodeOptions& options,
      const std::map<std::string, const Tensor*>& parameters,
      const std::string& source);

  // src: i64 [N, S], each row a source padded with pad_id. Returns each
  // sentence's best hypothesis without BOS and EOS.
  absl::StatusOr<std::vector<std::vector<int64_t>>> Decode(const Tensor& src);

  const DecodeStats& stats() const { return stats_; }
  // Why the decoder runs f32 where bf16 was asked for (Executor's), or "".
  const std::string& precision_note() const {
    return encode_->precision_note();
  }
  // Kernels that ran on bf16 in the last encoder and step plans.
  int64_t bf16_kernels() const {
    return encode_->last_plan_stats().bf16_kernels +
           step_->last_plan_stats().bf16_kernels;
  }

 private:
  struct Chunk;
  Seq2SeqDecoder(const Seq2SeqOptions& model, const DecodeOptions& options)
      : model_(model), options_(options) {}
  absl::Status DecodeChunk(const Tensor& src, int64_t first, int64_t count,
                           std::vector<std::vector<int64_t>>* out);
  // Log-probabilities [rows, V] of the next token of every row.
  absl::StatusOr<std::vector<double>> Step(Chunk& chunk, int64_t t);

  Seq2SeqOptions model_;
  DecodeOptions options_;
  Seq2SeqDecodingGraphs graphs_;
  std::unique_ptr<Executor> encode_, step_;
  DecodeStats stats_;
};

// The vocabulary a seq2seq spec names (seq2seq.vocab) for `rill decode`:
// one token per line, line k naming id k.
struct Vocabulary {
  std::vector<std::string> tokens;
  std::map<std::string, int64_t> ids;
};

// From the vocabulary file's lines (metrics/text.h SplitTextLines): each a
// token without blanks, none twice, exactly `vocab_size` of them. Errors
// name `name` and the line.
absl::StatusOr<Vocabulary> ParseVocabulary(
    const std::vector<std::string>& lines, absl::string_view name,
    int64_t vocab_size);

// The ids of the blank-separated tokens of `line`; an unknown token is an
// error naming `where` ("in.txt:2: ") and the token's position.
absl::StatusOr<std::vector<int64_t>> TokenIds(const Vocabulary& v,
                                              absl::string_view line,
                                              absl::string_view where);

// The tokens of `ids` joined by single spaces; an id outside the
// vocabulary is an error.
absl::StatusOr<std::string> JoinTokens(const Vocabulary& v,
                                       const std::vector<int64_t>& ids);

}  // namespace rill

#endif  // RILL_MODELS_DECODE_H_

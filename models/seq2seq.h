#ifndef RILL_MODELS_SEQ2SEQ_H_
#define RILL_MODELS_SEQ2SEQ_H_

// The Transformer sequence-to-sequence model (issue 8; SPEC.md
// "Transformer"), batch-first, as the graphs that train it and the graphs
// that decode with it. All of them name their Parameters alike, so that a
// checkpoint of the training graph loads into the decoding graphs.
//
// Tokens are i64 ids in [0, V) from one vocabulary shared by source and
// target. Sequences are padded at the end with pad_id; a sequence's length
// is its number of tokens that are not pad_id (so pad_id must not occur
// inside one). Parameters, with <p> the prefix:
//   <p>/embedding.weight [V, D]        shared by source, target and (tied)
//                                      the output projection, as in
//                                      Vaswani et al. 2017, section 3.4;
//                                      drawn from N(0, 1/D) and scaled by
//                                      sqrt(D), so embedded rows have unit
//                                      variance
//   <p>/positional.weight [L, D]       learned positions, N(0, 1/D); or the
//                                      sinusoidal table as the Const
//                                      <p>/positional.table
//   <p>/encoder/layers.<i>/...         AddTransformerEncoderLayer's
//   <p>/encoder/norm.{weight,bias}     a final LayerNorm, as nn.Transformer
//   <p>/decoder/layers.<i>/...         AddTransformerDecoderLayer's
//   <p>/decoder/norm.{weight,bias}
//   <p>/output.{weight [V, D], bias [V]}  when the projection is not tied
// With those names read as torch state_dict keys ("/" -> "."), the stacks
// are nn.Transformer(batch_first=True)'s encoder and decoder.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "models/transformer.h"
#include "proto/graph.pb.h"

namespace rill {

enum class PositionalKind { kSinusoidal, kLearned };

struct Seq2SeqOptions {
  std::string prefix = "seq2seq";
  int64_t vocab_size = 0;  // V >= 2.
  int64_t d_model = 0;     // D, divisible by heads.
  int64_t heads = 0;
  int64_t ff = 0;
  int64_t encoder_layers = 1;
  int64_t decoder_layers = 1;
  int64_t src_length = 0;  // S: the source's padded length.
  int64_t tgt_length = 0;  // T: the target's, BOS included.
  TransformerActivation activation = TransformerActivation::kRelu;
  bool norm_first = false;
  double dropout = 0;  // Training graph only; decoding graphs have none.
  PositionalKind positional = PositionalKind::kSinusoidal;
  bool tie_output = true;  // logits = h . embedding^T, with no bias.
  int64_t pad_id = 0;
  double label_smoothing = 0;  // Of the training loss, in [0, 1).
  DType dtype = DType::kF32;
  uint64_t seed = 0;
};

// The training graph. Inputs src [-1, S], tgt_in [-1, T] (the target after
// BOS) and tgt_out [-1, T] (the target followed by EOS, then pad_id), all
// i64; <p>/logits [B, T, V]; and the graph output `loss`, the mean
// cross-entropy over the target positions that are not pad_id (label
// smoothed when asked). Validated. Errors name the option.
absl::StatusOr<Graph> BuildSeq2SeqTrainingGraph(const Seq2SeqOptions& options);

// What decoding runs, with no dropout:
//  - `encode`: Input src [-1, S] -> memory [B, S, D], src_lengths [B], and
//    per decoder layer i the projected K and V of the memory for its
//    cross-attention, memory_keys[i] and memory_values[i] [B, S, D].
//  - `recompute`: Inputs memory, src_lengths, tgt_in [-1, T] -> logits
//    [B, T, V]: the whole target prefix again at every step.
//  - `cached`: Inputs token [-1, 1], position [1] (i64), src_lengths, and
//    per layer i memory_key.<i>, memory_value.<i> [-1, S, D] and the
//    self-attention caches cache_key.<i>, cache_value.<i> [-1, T, D] ->
//    logits [B, 1, V] and the caches with this position written
//    (new_cache_keys[i], new_cache_values[i]).
struct Seq2SeqDecodingGraphs {
  Graph encode, recompute, cached;
  std::string memory, src_lengths;
  std::vector<std::string> memory_keys, memory_values;
  std::string recompute_logits;
  std::string cached_logits;
  std::vector<std::string> new_cache_keys, new_cache_values;
};
absl::StatusOr<Seq2SeqDecodingGraphs> BuildSeq2SeqDecodingGraphs(
    const Seq2SeqOptions& options);

}  // namespace rill

#endif  // RILL_MODELS_SEQ2SEQ_H_

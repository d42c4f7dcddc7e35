#ifndef RILL_MODELS_MODEL_SPEC_H_
#define RILL_MODELS_MODEL_SPEC_H_

// Graphs from model specs (proto/model.proto): a recurrent stack
// (models/rnn.h), a linear head and a loss, a bare stack, or the Transformer
// sequence-to-sequence model (models/seq2seq.h), for `rill build`, `rill
// decode` and TrainConfig.model_spec.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/limits.h"
#include "models/seq2seq.h"
#include "proto/graph.pb.h"
#include "proto/model.pb.h"
#include "proto/train.pb.h"

namespace rill {

// The graph of `spec`: Inputs <input.name> [-1, T, I] (batch-first; a
// Transpose node <input.name>/time_major gives the stack its [T, B, I]) and
// the target (f32/f64, the head's output shape) or labels (i64 [-1] or
// [-1, T]); the stack's and the head's Parameters; and the scalar `loss`,
// the graph's only output. A bare stack (no head, no loss) has PyTorch's
// module inputs and outputs instead: x [B, T, I] or [T, B, I]
// (recurrent.batch_first), the optional sequence lengths and h0/c0, and the
// outputs output, h_n and c_n (proto/model.proto). Validated before it is
// returned. Errors name the spec field ("recurrent.hidden_size: 0: must be
// >= 1").
// For a seq2seq spec: BuildSeq2SeqTrainingGraph's graph.
// Before anything is built, what the spec will cost (parameters, unrolled
// steps, attention scores) is checked against `budget` and sane maxima
// (core/limits.h); errors name the field and the limit.
absl::StatusOr<Graph> BuildModel(const ModelSpec& spec,
                                 const MemoryBudget& budget = {});

// The metrics a spec's graph offers, for a TrainConfig that names none:
// BERT's mlm_accuracy (mlm_logits against masked_lm_ids, weighted by
// masked_lm_weights) and nsp_accuracy; the BERT classifier's accuracy and
// macro_f1 (logits against labels); a recurrent stack trained with
// cross_entropy, accuracy (the head's output against the labels); others
// none.
std::vector<Metric> DefaultMetrics(const ModelSpec& spec);

// The checks BuildModel makes of a seq2seq model, for callers (decoding)
// that build its graphs themselves.
absl::Status CheckSeq2SeqLimits(const Seq2SeqOptions& options,
                                const MemoryBudget& budget);

// The model options of a seq2seq spec, checked; errors name the field
// ("seq2seq.heads: 0: must be >= 1").
absl::StatusOr<Seq2SeqOptions> Seq2SeqOptionsFromSpec(const ModelSpec& spec);

// Its token ids (pad, bos, eos), with the defaults 0, 1, 2.
struct SpecialTokens {
  int64_t pad = 0, bos = 1, eos = 2;
};
SpecialTokens SpecialTokensOf(const Seq2SeqSpec& spec);

// A ModelSpec text proto already read, parsed as LoadModelSpec parses it;
// errors name `name`.
absl::StatusOr<ModelSpec> ParseModelSpec(absl::string_view text,
                                         const std::string& name);

// Reads a ModelSpec text proto (at most 1 MiB).
absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path);

// LoadModelSpec then BuildModel, errors prefixed with `path`.
absl::StatusOr<Graph> BuildModelFile(const std::string& path,
                                     const MemoryBudget& budget = {});

}  // namespace rill

#endif  // RILL_MODELS_MODEL_SPEC_H_

#ifndef RILL_MODELS_BERT_H_
#define RILL_MODELS_BERT_H_

// BERT for pretraining (issue 16), as Hugging Face's BertForPreTraining
// computes it, built from primitive ops: embeddings (word + position +
// token type, LayerNorm, dropout), post-LN encoder layers with separate
// query/key/value projections and the additive padding mask
// (1 - attention_mask) * -10000, the pooler (dense + tanh on token 0), the
// masked-LM head on the masked positions only (dense, activation,
// LayerNorm, then the decoder tied to the word embeddings plus its own
// bias) and the next-sentence head (dense to 2).
//
// Inputs (kBertInputs): input_ids,
// token_type_ids, attention_mask i64 [B, S]; masked_lm_positions,
// masked_lm_ids i64 [B, P]; masked_lm_weights (dtype) [B, P];
// next_sentence_labels i64 [B]. B is symbolic.
// Outputs (node names): sequence_output [B, S, H], pooled_output [B, H],
// mlm_logits [B, P, V], nsp_logits [B, 2], and the scalar loss =
// sum_p(w_p ce_p) / sum_p(w_p) + mean_b ce_b (HF's loss with label -100
// wherever w = 0).
//
// Parameters are named and shaped as HF's state_dict (BertParameters):
// bert.embeddings.word_embeddings.weight [V, H], ..., nn.Linear weights
// [out, in]. The decoder has no Parameter of its own: it reads
// bert.embeddings.word_embeddings.weight, whose gradient sums both uses.
// Unlike HF (nn.Embedding's padding_idx 0), row 0 of the word embeddings
// is drawn like the others and gets the lookup's gradient, as in Google's
// BERT.
//
// With num_labels > 0, HF's BertForSequenceClassification instead: the
// same embeddings, encoder and pooler (the same code, Parameters and
// names), then dropout (classifier_dropout) and classifier.weight
// [num_labels, H], classifier.bias on pooled_output. Inputs
// (kBertClassifierInputs) input_ids, token_type_ids, attention_mask and
// labels i64 [B], each label in [0, num_labels) (the Input's
// allowed_values, so a stray one is refused before anything runs);
// outputs sequence_output, pooled_output, logits [B, num_labels] and the
// scalar loss = mean_b ce_b. No cls.* Parameters.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/limits.h"
#include "core/shape.h"
#include "proto/graph.pb.h"
#include "proto/model.pb.h"

namespace rill {

// The graph inputs, in order: text/pretraining_data.h kPretrainingInputs
// (which models/ cannot see; a test checks that they agree).
inline constexpr const char* kBertInputs[] = {
    "input_ids",           "token_type_ids", "attention_mask",
    "masked_lm_positions", "masked_lm_ids",  "masked_lm_weights",
    "next_sentence_labels"};

// The classifier's graph inputs, in order.
inline constexpr const char* kBertClassifierInputs[] = {
    "input_ids", "token_type_ids", "attention_mask", "labels"};

enum class BertActivation { kGelu, kGeluTanh };  // HF "gelu", "gelu_new".

struct BertOptions {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  BertActivation hidden_act = BertActivation::kGelu;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double initializer_range = 0.02;
  int64_t seq_length = 0;               // S
  int64_t max_predictions_per_seq = 0;  // P; pretraining only.
  int64_t num_labels = 0;  // > 0: the classifier head, not pretraining's.
  double classifier_dropout = 0.1;
  DType dtype = DType::kF32;
  uint64_t seed = 0;
};

// The options of `spec.bert` with `spec.dtype`, checked; errors name the
// field ("bert.hidden_size: 10: must be divisible by num_attention_heads
// 4").
absl::StatusOr<BertOptions> BertOptionsFromSpec(const ModelSpec& spec);

// A Parameter of the model: its HF state_dict name and shape.
struct BertParameter {
  std::string name;
  Shape shape;
};

// Every Parameter, in HF's state_dict order (without the tied decoder).
// The classifier's end with classifier.weight and classifier.bias.
std::vector<BertParameter> BertParameters(const BertOptions& options);

// HF state_dict entries that are the same tensor as a Parameter: the
// decoder's weight and bias (tied to the word embeddings and to
// cls.predictions.bias). Pretraining graphs only.
struct BertTiedEntry {
  const char* name;
  const char* same_as;
};
const std::vector<BertTiedEntry>& BertTiedEntries();

// The graph, validated. Its Parameters carry initializers, not values
// (ops/parameter_value.h): normal(0, initializer_range) for the weights and
// embeddings (each with its own seed, drawn in BertParameters' order from
// std::mt19937_64(seed)), biases 0, LayerNorm weight 1 and bias 0.
// Dropout ops appear only for rates > 0. Fails on bad options, or when
// the parameters or one sequence's attention scores exceed `budget`.
absl::StatusOr<Graph> BuildBertGraph(const BertOptions& options,
                                     const MemoryBudget& budget = {});

}  // namespace rill

#endif  // RILL_MODELS_BERT_H_

#ifndef RILL_MODELS_BERT_HF_H_
#define RILL_MODELS_BERT_HF_H_

// Hugging Face interop for the BERT of models/bert.h (issue 16): the
// hyper-parameters of a config.json, and the state_dict as one <key>.npy
// per entry (what `torch.save`-free tools exchange: np.save(f"{k}.npy",
// v.numpy()) for k, v in model.state_dict().items()).
//
// Keys. A BertForPreTraining state_dict's keys are the graph's Parameter
// names (bert.embeddings.word_embeddings.weight, ..., cls.seq_relationship
// .bias). A BertModel's lack the "bert." prefix and the cls.* heads; its
// files set the encoder's Parameters and leave the heads as they are.
// A BertForSequenceClassification's (a graph with num_labels) are its
// Parameter names too: bert.* and classifier.weight, classifier.bias.
// Besides the Parameters, HF's state_dict holds entries that are no
// tensors of their own:
//   cls.predictions.decoder.weight  the word embeddings (tied),
//   cls.predictions.decoder.bias    cls.predictions.bias (tied),
//   bert.embeddings.position_ids    a buffer, arange(max_positions).
// Import accepts them when present (a tied entry must equal its source,
// value for value; position_ids is not read); export writes the two tied
// entries as copies, so that torch's load_state_dict(strict=True) on a
// BertForPreTraining accepts the directory, and leaves out position_ids
// (a non-persistent buffer in recent transformers).

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"
#include "proto/model.pb.h"

namespace rill {

// The BertSpec fields of an HF BertConfig config.json: vocab_size,
// hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
// hidden_act ("gelu" or "gelu_new"), max_position_embeddings,
// type_vocab_size, layer_norm_eps, hidden_dropout_prob and
// attention_probs_dropout_prob are required; initializer_range and
// classifier_dropout (a number or null) are optional;
// a model_type other than "bert" is refused; other keys are ignored.
// seq_length, max_predictions_per_seq and seed are left 0 for the caller.
// Errors name `source` and the field ("config.json: hidden_size: 10: must
// be divisible by num_attention_heads 4").
absl::StatusOr<BertSpec> BertSpecFromHfConfig(absl::string_view json,
                                              const std::string& source);
absl::StatusOr<BertSpec> ReadHfBertConfig(const std::string& path);

// The BertSpec fields of HF's config.json, read from a BERT graph
// (models/bert.h) as BuildBertGraph wrote it: the sizes from the
// Parameters' shapes (the layers counted), num_attention_heads from layer
// 0's head split, hidden_act from its activation op, layer_norm_eps from
// the LayerNorms, the dropout rates from the Dropout nodes (0 without
// any), initializer_range from the word embeddings' normal initializer
// (0.02 when they hold values); for a classifier, num_labels from
// classifier.weight and classifier_dropout from its Dropout (0 without
// one). seq_length, max_predictions_per_seq and seed are left 0. A graph
// that is not such a BERT is an error.
absl::StatusOr<BertSpec> BertSpecFromGraph(const Graph& graph);

// HF's config.json for `spec` (model_type "bert", architectures
// BertForPreTraining, or BertForSequenceClassification with num_labels and
// classifier_dropout), which BertSpecFromHfConfig reads back.
std::string HfBertConfigJson(const BertSpec& spec);

// Replaces every Parameter of the BERT graph `graph` (models/bert.h) by
// DIR/<key>.npy (f32 or f64, converted). A missing Parameter entry, an
// entry that is neither a Parameter nor one of the known extras, an entry
// of the wrong shape, or a tied entry that differs is an error naming the
// entry; on any error `graph` is unchanged.
absl::Status ImportHfBertWeights(const std::string& dir, Graph* graph);

// Writes DIR/<key>.npy (DIR must exist) for every Parameter, plus the two
// tied entries; values from `values[node]` when present (a checkpoint's),
// else the graph's. Everything is checked before the first file is written.
absl::Status ExportHfBertWeights(const Graph& graph,
                                 const std::map<std::string, Tensor>& values,
                                 const std::string& dir);

}  // namespace rill

#endif  // RILL_MODELS_BERT_HF_H_

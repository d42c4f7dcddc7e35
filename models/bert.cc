#include "models/bert.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/attention.h"

namespace rill {
namespace {

absl::Status BertFieldError(const std::string& field, const std::string& why) {
  return FieldError("bert." + field, why);
}

absl::Status CheckRate(const char* field, double rate) {
  // Negated so that NaN fails too.
  if (rate >= 0 && rate < 1) return absl::OkStatus();
  return BertFieldError(field, absl::StrCat(rate, ": must be in [0, 1)"));
}

absl::Status CheckOptions(const BertOptions& o) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", o.vocab_size},
      {"hidden_size", o.hidden_size},
      {"num_hidden_layers", o.num_hidden_layers},
      {"num_attention_heads", o.num_attention_heads},
      {"intermediate_size", o.intermediate_size},
      {"max_position_embeddings", o.max_position_embeddings},
      {"type_vocab_size", o.type_vocab_size},
      {"seq_length", o.seq_length},
      {"max_predictions_per_seq",
       o.num_labels > 0 ? int64_t{1} : o.max_predictions_per_seq}};
  for (const auto& [field, value] : sizes) {
    if (value < 1)
      return BertFieldError(field, absl::StrCat(value, ": must be >= 1"));
  }
  if (o.num_labels < 0 || o.num_labels == 1) {
    return BertFieldError("num_labels",
                          absl::StrCat(o.num_labels,
                                       ": must be >= 2 (a classifier), or 0 "
                                       "(the pretraining heads)"));
  }
  // Every label is listed in the Input's allowed_values.
  RETURN_IF_ERROR(
      CheckAtMost("bert.num_labels", o.num_labels, 1 << 16, "classes"));
  if (o.hidden_size % o.num_attention_heads != 0) {
    return BertFieldError("hidden_size", absl::StrCat(o.hidden_size,
                                                      ": must be divisible by "
                                                      "num_attention_heads ",
                                                      o.num_attention_heads));
  }
  if (o.seq_length > o.max_position_embeddings) {
    return BertFieldError(
        "seq_length",
        absl::StrCat(o.seq_length, ": must be <= max_position_embeddings ",
                     o.max_position_embeddings));
  }
  if (o.num_labels == 0 && o.max_predictions_per_seq > o.seq_length) {
    return BertFieldError(
        "max_predictions_per_seq",
        absl::StrCat(o.max_predictions_per_seq, ": must be <= seq_length ",
                     o.seq_length));
  }
  if (!(o.layer_norm_eps > 0)) {
    return BertFieldError("layer_norm_eps",
                          absl::StrCat(o.layer_norm_eps, ": must be > 0"));
  }
  if (!(o.initializer_range >= 0)) {
    return BertFieldError("initializer_range",
                          absl::StrCat(o.initializer_range, ": must be >= 0"));
  }
  RETURN_IF_ERROR(CheckRate("hidden_dropout_prob", o.hidden_dropout_prob));
  RETURN_IF_ERROR(CheckRate("attention_probs_dropout_prob",
                            o.attention_probs_dropout_prob));
  RETURN_IF_ERROR(CheckRate("classifier_dropout", o.classifier_dropout));
  if (o.dtype != DType::kF32 && o.dtype != DType::kF64) {
    return absl::InvalidArgumentError("dtype: must be f32 or f64");
  }
  return absl::OkStatus();
}

// The largest (the one to name) of the fields that the sizes multiply.
std::pair<const char*, int64_t> LargestSize(const BertOptions& o) {
  const std::pair<const char*, int64_t> fields[] = {
      {"bert.vocab_size", o.vocab_size},
      {"bert.hidden_size", o.hidden_size},
      {"bert.intermediate_size", o.intermediate_size},
      {"bert.num_hidden_layers", o.num_hidden_layers},
      {"bert.max_position_embeddings", o.max_position_embeddings}};
  return *std::max_element(
      std::begin(fields), std::end(fields),
      [](const auto& a, const auto& b) { return a.second < b.second; });
}

absl::Status CheckLimits(const BertOptions& o, const MemoryBudget& budget) {
  int64_t params = 0;
  for (const BertParameter& p : BertParameters(o)) {
    absl::StatusOr<int64_t> n = p.shape.NumElements();
    params = SaturatingAdd(params, n.ok() ? *n : INT64_MAX);
  }
  const auto [field, value] = LargestSize(o);
  const int64_t dtype = DTypeSize(o.dtype);
  RETURN_IF_ERROR(CheckFitsBudget(field, value, "parameters",
                                  SaturatingMul(params, dtype), budget));
  const int64_t scores = SaturatingMul(
      o.num_attention_heads, SaturatingMul(o.seq_length, o.seq_length));
  return CheckFitsBudget("bert.seq_length", o.seq_length,
                         "attention scores for a single sequence",
                         SaturatingMul(scores, dtype), budget);
}

std::string LayerName(int64_t i) {
  return absl::StrCat("bert.encoder.layer.", i);
}

// The model's nodes: Parameters under their HF names (staged on root_),
// the ops of each part under a scope named like its module.
class BertBuilder {
 public:
  explicit BertBuilder(const BertOptions& o)
      : o_(o), root_("bert", ""), rng_(o.seed) {}

  absl::StatusOr<Graph> Build() {
    DeclareInputs();
    std::string h = Embeddings();
    const std::string mask = ExtendedMask();
    for (int64_t i = 0; i < o_.num_hidden_layers; ++i) {
      ASSIGN_OR_RETURN(h, Layer(i, h, mask));
    }
    const std::string sequence = root_.Op("sequence_output", "Identity", {h});
    const std::string pooled = Pooler(sequence);
    std::vector<std::string> outputs = {"sequence_output", "pooled_output"};
    if (o_.num_labels > 0) {
      Classifier(pooled);
      outputs.insert(outputs.end(), {"logits", "loss"});
    } else {
      PretrainingHeads(sequence, pooled);
      outputs.insert(outputs.end(), {"mlm_logits", "nsp_logits", "loss"});
    }
    Graph graph;
    RETURN_IF_ERROR(root_.Commit(&graph));
    for (const std::string& out : outputs) graph.add_output(out);
    ASSIGN_OR_RETURN(ValidGraph valid,
                     ValidateGraph(LoadedGraph{graph, SourceMap("bert")}));
    return std::move(valid).Release().first.graph;
  }

 private:
  void DeclareInputs() {
    const int64_t s = o_.seq_length, p = o_.max_predictions_per_seq;
    std::vector<std::pair<const char*, std::vector<int64_t>>> inputs = {
        {"input_ids", {-1, s}},
        {"token_type_ids", {-1, s}},
        {"attention_mask", {-1, s}}};
    if (o_.num_labels > 0) {
      inputs.push_back({"labels", {-1}});
    } else {
      inputs.insert(inputs.end(), {{"masked_lm_positions", {-1, p}},
                                   {"masked_lm_ids", {-1, p}},
                                   {"masked_lm_weights", {-1, p}},
                                   {"next_sentence_labels", {-1}}});
    }
    for (const auto& [name, dims] : inputs) {
      const bool weights = std::string(name) == "masked_lm_weights";
      GraphBuilder::NodeRef input =
          root_.Op(name, "Input")
              .AttrType("dtype", weights ? o_.dtype : DType::kI64)
              .AttrShape("shape", dims);
      // Any other value would silently scale the -10000 mask offset.
      if (std::string(name) == "attention_mask") {
        input.AttrInts("allowed_values", {0, 1});
      }
      // A label out of range is named by its row before anything runs.
      if (std::string(name) == "labels") {
        std::vector<int64_t> classes(o_.num_labels);
        for (int64_t c = 0; c < o_.num_labels; ++c) classes[c] = c;
        input.AttrInts("allowed_values", classes);
      }
    }
  }

  // Initializers, not values: BERT-base's weights would make a text proto
  // of ~3.6 GB, past protobuf's 2 GiB. Each weight draws with its own seed.
  std::string Normal(const std::string& name, const Shape& shape) {
    return root_.Parameter(
        name, o_.dtype, shape,
        Initializer::Normal(0, o_.initializer_range, rng_()));
  }
  std::string Filled(const std::string& name, int64_t n,
                     const Initializer& init) {
    return root_.Parameter(name, o_.dtype, Shape{n}, init);
  }

  // nn.Linear(in, out) as HF initialises it: <module>.weight [out, in]
  // normal, <module>.bias zeros. Its Add node is `name` in `b`'s scope.
  std::string Dense(GraphBuilder& b, const std::string& name,
                    const std::string& x, const std::string& module,
                    int64_t out, int64_t in = 0) {
    if (in == 0) in = o_.hidden_size;
    std::string weight = Normal(module + ".weight", Shape{out, in});
    std::string bias = Filled(module + ".bias", out, Initializer::Zeros());
    return b.Linear(name, x, weight, bias);
  }

  std::string LayerNorm(GraphBuilder& b, const std::string& name,
                        const std::string& x, const std::string& module) {
    std::string weight =
        Filled(module + ".weight", o_.hidden_size, Initializer::Ones());
    std::string bias =
        Filled(module + ".bias", o_.hidden_size, Initializer::Zeros());
    return b.LayerNorm(name, x, weight, bias, o_.layer_norm_eps);
  }

  std::string Dropout(GraphBuilder& b, const std::string& name,
                      const std::string& x) {
    if (o_.hidden_dropout_prob == 0) return x;
    return b.Dropout(name, x, o_.hidden_dropout_prob, o_.seed);
  }

  std::string Activation(GraphBuilder& b, const std::string& x) {
    return b.Op("act",
                o_.hidden_act == BertActivation::kGelu ? "Gelu" : "GeluTanh",
                {x});
  }

  // A Const i64 [n] holding 0, 1, ..., n - 1.
  std::string Iota(GraphBuilder& b, const std::string& name, int64_t n) {
    absl::StatusOr<Tensor> t = Tensor::Allocate(DType::kI64, Shape{n});
    if (t.ok()) {
      for (int64_t i = 0; i < n; ++i) t->data<int64_t>()[i] = i;
    }
    return b.Const(name, t);
  }

  std::string Embeddings() {
    GraphBuilder b = root_.Scope("bert.embeddings");
    const int64_t h = o_.hidden_size;
    const std::string prefix = "bert.embeddings.";
    std::string word =
        Normal(prefix + "word_embeddings.weight", Shape{o_.vocab_size, h});
    word_embeddings_ = word;
    std::string position = Normal(prefix + "position_embeddings.weight",
                                  Shape{o_.max_position_embeddings, h});
    std::string type = Normal(prefix + "token_type_embeddings.weight",
                              Shape{o_.type_vocab_size, h});
    std::string words = b.Op("words", "Gather", {word, "input_ids"});
    std::string positions =
        b.Op("positions", "Gather",
             {position, Iota(b, "position_ids", o_.seq_length)});
    std::string types = b.Op("types", "Gather", {type, "token_type_ids"});
    std::string sum =
        b.Op("sum", "Add",
             {b.Op("words_positions", "Add", {words, positions}), types});
    return Dropout(b, "dropout",
                   LayerNorm(b, "LayerNorm", sum, prefix + "LayerNorm"));
  }

  // (1 - attention_mask) * -10000 as [B, 1, 1, S], to add to the scores.
  std::string ExtendedMask() {
    GraphBuilder b = root_.Scope("bert.extended_attention_mask");
    std::string m = b.Cast("mask", "attention_mask", o_.dtype);
    std::string off = b.Op("off", "Sub", {b.Scalar("one", o_.dtype, 1), m});
    std::string add =
        b.Op("additive", "Mul", {off, b.Scalar("min", o_.dtype, -10000)});
    add = b.Op("additive_h", "ExpandDims", {add}).AttrInt("axis", 1);
    return b.Op("additive_hq", "ExpandDims", {add}).AttrInt("axis", 1);
  }

  absl::StatusOr<std::string> Layer(int64_t i, const std::string& x,
                                    const std::string& mask) {
    const std::string l = LayerName(i);
    GraphBuilder b = root_.Scope(l);
    const std::string self = l + ".attention.self.";
    std::string q = Dense(b, "query", x, self + "query", o_.hidden_size);
    std::string k = Dense(b, "key", x, self + "key", o_.hidden_size);
    std::string v = Dense(b, "value", x, self + "value", o_.hidden_size);
    MultiHeadAttentionOptions a;
    a.prefix = l + "/attention";
    a.d_model = o_.hidden_size;
    a.heads = o_.num_attention_heads;
    a.dtype = o_.dtype;
    a.additive_mask = mask;
    a.attention_dropout = o_.attention_probs_dropout_prob;
    a.seed = o_.seed;
    ASSIGN_OR_RETURN(std::string context, AddProjectedMultiHeadAttention(
                                              q, k, v, a, root_.staging()));
    const std::string out = l + ".attention.output.";
    std::string attn =
        Dense(b, "attention_dense", context, out + "dense", o_.hidden_size);
    attn = Dropout(b, "attention_dropout", attn);
    attn = LayerNorm(b, "attention_LayerNorm",
                     b.Op("attention_residual", "Add", {attn, x}),
                     out + "LayerNorm");
    std::string inter = Dense(b, "intermediate", attn,
                              l + ".intermediate.dense", o_.intermediate_size);
    inter = Activation(b, inter);
    std::string y = Dense(b, "output_dense", inter, l + ".output.dense",
                          o_.hidden_size, o_.intermediate_size);
    y = Dropout(b, "output_dropout", y);
    return LayerNorm(b, "output_LayerNorm",
                     b.Op("output_residual", "Add", {y, attn}),
                     l + ".output.LayerNorm");
  }

  std::string Pooler(const std::string& sequence) {
    GraphBuilder b = root_.Scope("bert.pooler");
    absl::StatusOr<Tensor> zero = Tensor::Allocate(DType::kI64, Shape{});
    if (zero.ok()) zero->data<int64_t>()[0] = 0;
    std::string first =
        b.Op("first", "Gather", {sequence, b.Const("zero", zero)})
            .AttrInt("axis", 1);
    std::string dense =
        Dense(b, "dense", first, "bert.pooler.dense", o_.hidden_size);
    return root_.Op("pooled_output", "Tanh", {dense});
  }

  // BertForPreTraining's heads and the summed loss.
  void PretrainingHeads(const std::string& sequence,
                        const std::string& pooled) {
    const std::string mlm_loss = MaskedLm(sequence);
    const std::string nsp_logits =
        Dense(root_, "nsp_logits", pooled, "cls.seq_relationship", 2);
    const std::string nsp_loss = root_.Op("nsp_loss", "SoftmaxCrossEntropy",
                                          {nsp_logits, "next_sentence_labels"});
    root_.Op("loss", "Add", {mlm_loss, nsp_loss});
  }

  // BertForSequenceClassification's head: dropout, dense, mean
  // cross-entropy.
  void Classifier(const std::string& pooled) {
    GraphBuilder b = root_.Scope("classifier");
    std::string x = pooled;
    if (o_.classifier_dropout > 0) {
      x = b.Dropout("dropout", x, o_.classifier_dropout, o_.seed);
    }
    const std::string logits =
        Dense(root_, "logits", x, "classifier", o_.num_labels);
    root_.Op("loss", "SoftmaxCrossEntropy", {logits, "labels"});
  }

  // The MLM head on the masked positions, and its loss node.
  std::string MaskedLm(const std::string& sequence) {
    GraphBuilder b = root_.Scope("cls.predictions");
    // Gathering through an iota range-checks the positions (Gather names a
    // bad one); the one-hot product then picks the rows batch by batch:
    // [B, P, S] x [B, S, H] -> [B, P, H].
    std::string positions =
        b.Op("positions", "Gather",
             {Iota(b, "iota", o_.seq_length), "masked_lm_positions"});
    std::string pick = b.Op("pick", "OneHot", {positions})
                           .AttrInt("depth", o_.seq_length)
                           .AttrType("dtype", o_.dtype);
    std::string gathered = b.Op("gathered", "MatMul", {pick, sequence});
    // HF's order: the module's own bias before its transform's.
    std::string bias =
        Filled("cls.predictions.bias", o_.vocab_size, Initializer::Zeros());
    const std::string t = "cls.predictions.transform.";
    std::string h =
        Dense(b, "transform_dense", gathered, t + "dense", o_.hidden_size);
    h = LayerNorm(b, "transform_LayerNorm", Activation(b, h), t + "LayerNorm");
    std::string logits = root_.Linear("mlm_logits", h, word_embeddings_, bias,
                                      "cls.predictions/decoder");
    return root_.Op("mlm_loss", "SoftmaxCrossEntropy",
                    {logits, "masked_lm_ids", "masked_lm_weights"});
  }

  const BertOptions& o_;
  GraphBuilder root_;
  std::mt19937_64 rng_;
  std::string word_embeddings_;
};

}  // namespace

absl::StatusOr<BertOptions> BertOptionsFromSpec(const ModelSpec& spec) {
  if (!spec.has_bert()) return absl::InvalidArgumentError("bert: required");
  if (spec.has_input() || spec.has_recurrent() || spec.has_head() ||
      spec.has_loss() || spec.has_seq2seq()) {
    return absl::InvalidArgumentError(
        "bert: stands alone: no input, recurrent, head, loss or seq2seq");
  }
  const BertSpec& s = spec.bert();
  BertOptions o;
  o.vocab_size = s.vocab_size();
  o.hidden_size = s.hidden_size();
  o.num_hidden_layers = s.num_hidden_layers();
  o.num_attention_heads = s.num_attention_heads();
  o.intermediate_size = s.intermediate_size();
  if (s.hidden_act() == "gelu_new") {
    o.hidden_act = BertActivation::kGeluTanh;
  } else if (!s.hidden_act().empty() && s.hidden_act() != "gelu") {
    return BertFieldError("hidden_act",
                          absl::StrCat("'", s.hidden_act(),
                                       "': expected gelu (erf) or "
                                       "gelu_new (tanh form)"));
  }
  o.max_position_embeddings = s.max_position_embeddings();
  o.type_vocab_size = s.type_vocab_size();
  if (s.has_layer_norm_eps()) o.layer_norm_eps = s.layer_norm_eps();
  if (s.has_hidden_dropout_prob()) {
    o.hidden_dropout_prob = s.hidden_dropout_prob();
  }
  if (s.has_attention_probs_dropout_prob()) {
    o.attention_probs_dropout_prob = s.attention_probs_dropout_prob();
  }
  if (s.has_initializer_range()) o.initializer_range = s.initializer_range();
  o.seq_length = s.seq_length();
  o.max_predictions_per_seq = s.max_predictions_per_seq();
  o.num_labels = s.num_labels();
  o.classifier_dropout = s.has_classifier_dropout() ? s.classifier_dropout()
                                                    : o.hidden_dropout_prob;
  o.seed = s.seed();
  if (spec.dtype() == "f64") {
    o.dtype = DType::kF64;
  } else if (!spec.dtype().empty() && spec.dtype() != "f32") {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype: '", spec.dtype(), "': expected f32 or f64"));
  }
  RETURN_IF_ERROR(CheckOptions(o));
  return o;
}

std::vector<BertParameter> BertParameters(const BertOptions& o) {
  const int64_t h = o.hidden_size, ff = o.intermediate_size;
  std::vector<BertParameter> p = {
      {"bert.embeddings.word_embeddings.weight", Shape{o.vocab_size, h}},
      {"bert.embeddings.position_embeddings.weight",
       Shape{o.max_position_embeddings, h}},
      {"bert.embeddings.token_type_embeddings.weight",
       Shape{o.type_vocab_size, h}},
      {"bert.embeddings.LayerNorm.weight", Shape{h}},
      {"bert.embeddings.LayerNorm.bias", Shape{h}}};
  auto linear = [&](const std::string& module, int64_t out, int64_t in) {
    p.push_back({module + ".weight", Shape{out, in}});
    p.push_back({module + ".bias", Shape{out}});
  };
  auto norm = [&](const std::string& module) {
    p.push_back({module + ".weight", Shape{h}});
    p.push_back({module + ".bias", Shape{h}});
  };
  for (int64_t i = 0; i < o.num_hidden_layers; ++i) {
    const std::string l = LayerName(i);
    for (const char* m : {"query", "key", "value"}) {
      linear(absl::StrCat(l, ".attention.self.", m), h, h);
    }
    linear(l + ".attention.output.dense", h, h);
    norm(l + ".attention.output.LayerNorm");
    linear(l + ".intermediate.dense", ff, h);
    linear(l + ".output.dense", h, ff);
    norm(l + ".output.LayerNorm");
  }
  linear("bert.pooler.dense", h, h);
  if (o.num_labels > 0) {
    linear("classifier", o.num_labels, h);
    return p;
  }
  p.push_back({"cls.predictions.bias", Shape{o.vocab_size}});
  linear("cls.predictions.transform.dense", h, h);
  norm("cls.predictions.transform.LayerNorm");
  linear("cls.seq_relationship", 2, h);
  return p;
}

const std::vector<BertTiedEntry>& BertTiedEntries() {
  static const auto* tied = new std::vector<BertTiedEntry>{
      {"cls.predictions.decoder.weight",
       "bert.embeddings.word_embeddings.weight"},
      {"cls.predictions.decoder.bias", "cls.predictions.bias"}};
  return *tied;
}

absl::StatusOr<Graph> BuildBertGraph(const BertOptions& options,
                                     const MemoryBudget& budget) {
  RETURN_IF_ERROR(CheckOptions(options));
  RETURN_IF_ERROR(CheckLimits(options, budget));
  return BertBuilder(options).Build();
}

}  // namespace rill

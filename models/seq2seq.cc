#include "models/seq2seq.h"

#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "graph/graph_builder.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/attention.h"
#include "models/cross_entropy.h"

namespace rill {
namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("seq2seq options: ", field, ": ", why));
}

absl::Status CheckOptions(const Seq2SeqOptions& o) {
  if (!IsValidNodeName(o.prefix)) {
    return Bad("prefix", absl::StrCat("'", o.prefix, "' is not a node name"));
  }
  const std::pair<const char*, int64_t> sizes[] = {
      {"d_model", o.d_model},
      {"heads", o.heads},
      {"ff", o.ff},
      {"encoder_layers", o.encoder_layers},
      {"decoder_layers", o.decoder_layers},
      {"src_length", o.src_length},
      {"tgt_length", o.tgt_length}};
  for (const auto& [field, value] : sizes) {
    if (value < 1) return Bad(field, absl::StrCat(value, ": must be >= 1"));
  }
  if (o.vocab_size < 2) {
    return Bad("vocab_size", absl::StrCat(o.vocab_size, ": must be >= 2"));
  }
  if (o.d_model % o.heads != 0) {
    return Bad("d_model",
               absl::StrCat(o.d_model, " is not divisible by heads ", o.heads));
  }
  if (o.pad_id < 0 || o.pad_id >= o.vocab_size) {
    return Bad("pad_id", absl::StrCat(o.pad_id, ": must be in [0, vocab_size ",
                                      o.vocab_size, ")"));
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) {
    return Bad("dropout", absl::StrCat(o.dropout, ": must be in [0, 1)"));
  }
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) {
    return Bad("label_smoothing",
               absl::StrCat(o.label_smoothing, ": must be in [0, 1)"));
  }
  if (o.dtype != DType::kF32 && o.dtype != DType::kF64) {
    return Bad("dtype", "must be f32 or f64");
  }
  return absl::OkStatus();
}

// Stages the model's nodes in one GraphBuilder: Inputs and the loss by
// their own names, the model's parts under the prefix, and the Transformer
// stacks and loss, which take a Graph*, into its staging.
class Seq2SeqBuilder {
 public:
  explicit Seq2SeqBuilder(const Seq2SeqOptions& o)
      : o_(o), root_("seq2seq", ""), model_(root_.Scope(o.prefix)) {}

  GraphBuilder& root() { return root_; }
  Graph* staging() { return root_.staging(); }

  std::string Input(const std::string& name, DType dtype,
                    const std::vector<int64_t>& dims) {
    return root_.Input(name, dtype, dims);
  }

  // The Const [n] = 0, 1, ..., n - 1 (i64): the positions of a sequence.
  absl::StatusOr<std::string> Positions(const std::string& name, int64_t n) {
    ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kI64, Shape{n}));
    for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = i;
    return model_.Const(name, t);
  }

  // The [B] number of tokens of `ids` [B, n] that are not pad_id, as i64.
  std::string Lengths(const std::string& ids, int64_t n) {
    GraphBuilder& w = model_;
    Tensor pad = *Tensor::Allocate(DType::kI64, Shape{1});
    *pad.data<int64_t>() = o_.pad_id;
    std::string is_pad =
        w.Op("src_is_pad", "Equal", {ids, w.Const("pad_id", pad)});
    std::string pads = w.Cast("src_pads", is_pad, DType::kF32);
    pads = w.Op("src_pad_count", "ReduceSum", {pads}).AttrInts("axes", {1});
    std::string full = w.Scalar("src_length", DType::kF32, n);
    std::string len = w.Op("src_lengths_f", "Sub", {full, pads});
    return w.Cast("src_lengths", len, DType::kI64);
  }

  // embedding(ids) * sqrt(D) + positional(positions): [B, n, D]. The
  // Parameters are added on first use; `tag` names this use's nodes.
  absl::StatusOr<std::string> Embed(const std::string& tag,
                                    const std::string& ids,
                                    const std::string& positions) {
    RETURN_IF_ERROR(AddEmbeddingParameters());
    GraphBuilder& w = model_;
    std::string rows =
        w.Op(tag + "_tokens", "Gather", {embedding_, ids}).AttrInt("axis", 0);
    std::string scaled =
        w.Op(tag + "_scaled", "Mul",
             {rows, w.Scalar(tag + "_scale", o_.dtype,
                             std::sqrt(static_cast<double>(o_.d_model)))});
    std::string pos =
        w.Op(tag + "_position_rows", "Gather", {positional_, positions})
            .AttrInt("axis", 0);
    std::string out = w.Op(tag + "_embedded", "Add", {scaled, pos});
    if (o_.dropout > 0) {
      out = w.Dropout(tag + "_dropout", out, o_.dropout, o_.seed);
    }
    return out;
  }

  // The encoder's or the decoder's stack, <p>/<stack>; the layers' seeds
  // stay apart across both stacks (8 per layer).
  TransformerStackOptions Stack(const std::string& stack) const {
    TransformerStackOptions s;
    TransformerLayerOptions& l = s.layer;
    l.prefix = absl::StrCat(o_.prefix, "/", stack);
    l.d_model = o_.d_model;
    l.heads = o_.heads;
    l.ff = o_.ff;
    l.activation = o_.activation;
    l.norm_first = o_.norm_first;
    l.dropout = o_.dropout;
    l.dtype = o_.dtype;
    const bool encoder = stack == "encoder";
    s.num_layers = encoder ? o_.encoder_layers : o_.decoder_layers;
    l.seed = o_.seed + 8 * (encoder ? 1 : o_.encoder_layers + 1);
    return s;
  }

  // logits [B, n, V] of the decoder's output h.
  std::string Logits(const std::string& h) {
    std::string weight = embedding_, bias;
    if (!o_.tie_output) {
      std::mt19937_64 rng(o_.seed + 1);
      const double bound = 1.0 / std::sqrt(static_cast<double>(o_.d_model));
      weight = model_.Parameter(
          "output.weight",
          UniformTensor(o_.dtype, Shape{o_.vocab_size, o_.d_model}, bound,
                        rng));
      bias = model_.Parameter(
          "output.bias",
          UniformTensor(o_.dtype, Shape{o_.vocab_size}, bound, rng));
    }
    return model_.Linear("logits", h, weight, bias);
  }

  // The graph with `outputs`, checked; it must be whole.
  absl::StatusOr<Graph> Finish(const std::vector<std::string>& outputs = {}) {
    Graph graph;
    RETURN_IF_ERROR(root_.Commit(&graph));
    for (const std::string& out : outputs) graph.add_output(out);
    ASSIGN_OR_RETURN(ValidGraph valid,
                     ValidateGraph(LoadedGraph{graph, SourceMap("seq2seq")}));
    return std::move(valid).Release().first.graph;
  }

 private:
  absl::Status AddEmbeddingParameters() {
    if (!embedding_.empty()) return absl::OkStatus();
    std::mt19937_64 rng(o_.seed);
    std::normal_distribution<double> normal(
        0, 1 / std::sqrt(static_cast<double>(o_.d_model)));
    auto draw = [&](int64_t) { return normal(rng); };
    embedding_ = model_.Parameter(
        "embedding.weight",
        FilledTensor(o_.dtype, Shape{o_.vocab_size, o_.d_model}, draw));
    const int64_t rows = std::max(o_.src_length, o_.tgt_length);
    if (o_.positional == PositionalKind::kLearned) {
      positional_ = model_.Parameter(
          "positional.weight",
          FilledTensor(o_.dtype, Shape{rows, o_.d_model}, draw));
    } else {
      ASSIGN_OR_RETURN(Tensor table, SinusoidalPositionalEncodingTable(
                                         rows, o_.d_model, o_.dtype));
      positional_ = model_.Const("positional.table", table);
    }
    return absl::OkStatus();
  }

  const Seq2SeqOptions& o_;
  GraphBuilder root_, model_;
  std::string embedding_, positional_;
};

// The source side: src -> (memory, lengths).
absl::StatusOr<std::pair<std::string, std::string>> AddSource(
    Seq2SeqBuilder& b, const Seq2SeqOptions& o) {
  std::string src = b.Input("src", DType::kI64, {-1, o.src_length});
  ASSIGN_OR_RETURN(std::string positions,
                   b.Positions("src_positions", o.src_length));
  std::string lengths = b.Lengths(src, o.src_length);
  ASSIGN_OR_RETURN(std::string x, b.Embed("src", src, positions));
  TransformerStackOptions encoder = b.Stack("encoder");
  encoder.layer.key_lengths = lengths;
  ASSIGN_OR_RETURN(TransformerStack memory,
                   AddTransformerEncoder(x, encoder, b.staging()));
  return std::make_pair(memory.output, lengths);
}

// The decoder stack over tgt ids [B, T] at all positions, causal.
absl::StatusOr<std::string> AddFullDecoder(Seq2SeqBuilder& b,
                                           const Seq2SeqOptions& o,
                                           const std::string& tgt,
                                           const std::string& memory,
                                           const std::string& lengths) {
  ASSIGN_OR_RETURN(std::string positions,
                   b.Positions("tgt_positions", o.tgt_length));
  ASSIGN_OR_RETURN(std::string x, b.Embed("tgt", tgt, positions));
  TransformerStackOptions decoder = b.Stack("decoder");
  decoder.layer.causal = true;
  decoder.layer.memory_key_lengths = lengths;
  ASSIGN_OR_RETURN(TransformerStack h,
                   AddTransformerDecoder(x, memory, decoder, b.staging()));
  return b.Logits(h.output);
}

}  // namespace

absl::StatusOr<Graph> BuildSeq2SeqTrainingGraph(const Seq2SeqOptions& o) {
  RETURN_IF_ERROR(CheckOptions(o));
  Seq2SeqBuilder b(o);
  ASSIGN_OR_RETURN(auto source, AddSource(b, o));
  std::string tgt_in = b.Input("tgt_in", DType::kI64, {-1, o.tgt_length});
  std::string tgt_out = b.Input("tgt_out", DType::kI64, {-1, o.tgt_length});
  ASSIGN_OR_RETURN(std::string logits,
                   AddFullDecoder(b, o, tgt_in, source.first, source.second));
  CrossEntropyOptions ce;
  ce.prefix = absl::StrCat(o.prefix, "/loss");
  ce.label_smoothing = o.label_smoothing;
  ce.ignore_index = o.pad_id;
  ce.dtype = o.dtype;
  ASSIGN_OR_RETURN(std::string loss,
                   AddCrossEntropyLoss(logits, tgt_out, ce, b.staging()));
  b.root().Op("loss", "Identity", {loss});
  return b.Finish({"loss"});
}

absl::StatusOr<Seq2SeqDecodingGraphs> BuildSeq2SeqDecodingGraphs(
    const Seq2SeqOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  Seq2SeqOptions o = options;
  o.dropout = 0;
  Seq2SeqDecodingGraphs d;
  {  // encode
    Seq2SeqBuilder b(o);
    ASSIGN_OR_RETURN(auto source, AddSource(b, o));
    d.memory = source.first;
    d.src_lengths = source.second;
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      TransformerLayerOptions l = StackLayerOptions(b.Stack("decoder"), i);
      MultiHeadAttentionOptions m;
      m.prefix = l.prefix + "/multihead_attn";
      m.d_model = o.d_model;
      m.heads = o.heads;
      m.dtype = o.dtype;
      m.seed = l.seed + 1;
      ASSIGN_OR_RETURN(ProjectedKeyValue kv,
                       AddKeyValueProjection(d.memory, m, b.staging()));
      d.memory_keys.push_back(kv.key);
      d.memory_values.push_back(kv.value);
    }
    ASSIGN_OR_RETURN(d.encode, b.Finish());
  }
  {  // recompute
    Seq2SeqBuilder b(o);
    std::string memory =
        b.Input("memory", o.dtype, {-1, o.src_length, o.d_model});
    std::string lengths = b.Input("src_lengths", DType::kI64, {-1});
    std::string tgt = b.Input("tgt_in", DType::kI64, {-1, o.tgt_length});
    ASSIGN_OR_RETURN(d.recompute_logits,
                     AddFullDecoder(b, o, tgt, memory, lengths));
    ASSIGN_OR_RETURN(d.recompute, b.Finish());
  }
  {  // cached
    Seq2SeqBuilder b(o);
    std::string token = b.Input("token", DType::kI64, {-1, 1});
    std::string position = b.Input("position", DType::kI64, {1});
    std::string lengths = b.Input("src_lengths", DType::kI64, {-1});
    ASSIGN_OR_RETURN(std::string h, b.Embed("tgt", token, position));
    const TransformerStackOptions decoder = b.Stack("decoder");
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      TransformerLayerOptions l = StackLayerOptions(decoder, i);
      const std::vector<int64_t> memory_dims = {-1, o.src_length, o.d_model};
      const std::vector<int64_t> cache_dims = {-1, o.tgt_length, o.d_model};
      l.memory_kv.key =
          b.Input(absl::StrCat("memory_key.", i), o.dtype, memory_dims);
      l.memory_kv.value =
          b.Input(absl::StrCat("memory_value.", i), o.dtype, memory_dims);
      l.cache_key = b.Input(absl::StrCat("cache_key.", i), o.dtype, cache_dims);
      l.cache_value =
          b.Input(absl::StrCat("cache_value.", i), o.dtype, cache_dims);
      l.cache_position = position;
      l.cache_length = o.tgt_length;
      l.memory_key_lengths = lengths;
      ASSIGN_OR_RETURN(TransformerLayer layer,
                       AddTransformerDecoderLayer(h, "", l, b.staging()));
      h = layer.output;
      d.new_cache_keys.push_back(layer.cache_key);
      d.new_cache_values.push_back(layer.cache_value);
    }
    ASSIGN_OR_RETURN(TransformerStack norm,
                     AddStackNorm(h, decoder, b.staging()));
    d.cached_logits = b.Logits(norm.output);
    ASSIGN_OR_RETURN(d.cached, b.Finish());
  }
  return d;
}

}  // namespace rill

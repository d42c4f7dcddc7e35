#include "models/torch_layer_spec.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "graph/graph_builder.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/attention.h"
#include "models/transformer.h"

namespace rill {
namespace {

// What a bool mask's true adds to a score: far below any real score, so
// that softmax gives the key exactly 0 (PyTorch uses -inf).
constexpr double kForbidden = -1e9;

enum class MaskKind { kNone, kBool, kAdditive };

absl::StatusOr<MaskKind> ParseMask(const std::string& field,
                                   const std::string& kind) {
  if (kind.empty()) return MaskKind::kNone;
  if (kind == "bool") return MaskKind::kBool;
  if (kind == "additive") return MaskKind::kAdditive;
  return FieldError(
      field, absl::StrCat("'", kind, "': expected \"\", bool or additive"));
}

absl::Status Positive(const std::string& field, int64_t value) {
  if (value >= 1) return absl::OkStatus();
  return FieldError(field, absl::StrCat(value, ": must be >= 1"));
}

// Builds the graph's Inputs and outputs around the layer builders.
class LayerGraph {
 public:
  LayerGraph(const char* what, DType dtype, bool batch_first)
      : b_(what, ""), dtype_(dtype), batch_first_(batch_first) {}

  GraphBuilder& builder() { return b_; }

  // A sequence Input [B, n, width] (batch_first) or [n, B, width], as the
  // [B, n, width] the layers read.
  std::string Sequence(const std::string& name, int64_t n, int64_t width) {
    if (batch_first_) return b_.Input(name, dtype_, {-1, n, width});
    return ToggleBatch(name + "/batch_major",
                       b_.Input(name, dtype_, {n, -1, width}));
  }

  // The additive form of mask Input `name` [dims] of `kind`, or "".
  std::string Mask(const std::string& name, MaskKind kind,
                   const std::vector<int64_t>& dims) {
    if (kind == MaskKind::kNone) return "";
    if (kind == MaskKind::kAdditive) return b_.Input(name, dtype_, dims);
    std::string forbidden =
        b_.Cast(name + "/as_float", b_.Input(name, DType::kBool, dims), dtype_);
    return b_.Op(
        name + "/additive", "Mul",
        {forbidden, b_.Scalar(name + "/forbidden", dtype_, kForbidden)});
  }

  // A key-padding mask [B, S] as the additive [B, 1, 1, S] (broadcasting
  // over heads and queries), or "". `batch_like` [B, n, width] is the
  // query side: a mask with another batch size fails at a node named after
  // the Input, not deep inside the attention.
  std::string KeyPadding(const std::string& name, MaskKind kind, int64_t s,
                         const std::string& batch_like) {
    std::string mask = Mask(name, kind, {-1, s});
    if (mask.empty()) return "";
    std::string zeros = b_.Op(name + "/zeros", "ZerosLike", {batch_like});
    zeros =
        b_.Op(name + "/batch", "ReduceSum", {zeros}).AttrInts("axes", {1, 2});
    zeros =
        b_.Op(name + "/batch_column", "ExpandDims", {zeros}).AttrInt("axis", 1);
    mask = b_.Op(name + "/batch_check", "Add", {mask, zeros});
    mask = b_.Op(name + "/h", "ExpandDims", {mask}).AttrInt("axis", 1);
    return b_.Op(name + "/hq", "ExpandDims", {mask}).AttrInt("axis", 1);
  }

  // The sum of the masks that are given, or "".
  std::string Both(const std::string& name, const std::string& a,
                   const std::string& b) {
    if (a.empty() || b.empty()) return a.empty() ? b : a;
    return b_.Op(name, "Add", {a, b});
  }

  // Output `name` from the layers' [B, n, width] `x`, in the Inputs'
  // layout.
  void Output(const std::string& name, const std::string& x) {
    if (batch_first_) {
      b_.Op(name, "Identity", {x});
    } else {
      ToggleBatch(name, x);
    }
    outputs_.push_back(name);
  }

  // An output already in its final layout.
  void AsIs(const std::string& name, const std::string& x) {
    b_.Op(name, "Identity", {x});
    outputs_.push_back(name);
  }

  absl::StatusOr<Graph> Finish(const std::string& source) {
    Graph g;
    RETURN_IF_ERROR(b_.Commit(&g));
    for (const std::string& out : outputs_) g.add_output(out);
    ASSIGN_OR_RETURN(ValidGraph valid,
                     ValidateGraph(LoadedGraph{g, SourceMap(source)}));
    return std::move(valid).Release().first.graph;
  }

 private:
  std::string ToggleBatch(const std::string& name, const std::string& x) {
    return b_.Op(name, "Transpose", {x}).AttrInts("perm", {1, 0, 2});
  }

  GraphBuilder b_;
  DType dtype_;
  bool batch_first_;
  std::vector<std::string> outputs_;
};

absl::StatusOr<Graph> BuildMultiheadAttention(const MultiheadAttentionSpec& s,
                                              DType dtype,
                                              const MemoryBudget& budget) {
  const std::string f = "multihead_attention.";
  for (const auto& [field, value] :
       {std::pair<const char*, int64_t>{"embed_dim", s.embed_dim()},
        {"num_heads", s.num_heads()},
        {"query_length", s.query_length()},
        {"key_length", s.key_length()}}) {
    RETURN_IF_ERROR(Positive(f + field, value));
  }
  if (s.embed_dim() % s.num_heads() != 0) {
    return FieldError(f + "embed_dim",
                      absl::StrCat(s.embed_dim(), " is not divisible by ",
                                   "num_heads ", s.num_heads()));
  }
  ASSIGN_OR_RETURN(MaskKind padding,
                   ParseMask(f + "key_padding_mask", s.key_padding_mask()));
  ASSIGN_OR_RETURN(MaskKind attn, ParseMask(f + "attn_mask", s.attn_mask()));
  const int64_t e = s.embed_dim(), l = s.query_length(), k = s.key_length();
  RETURN_IF_ERROR(CheckFitsBudget(
      f + "embed_dim", e, "parameters",
      SaturatingMul(SaturatingMul(4, SaturatingAdd(SaturatingMul(e, e), e)),
                    DTypeSize(dtype)),
      budget));
  LayerGraph g("multihead_attention", dtype, s.batch_first());
  MultiHeadAttentionOptions o;
  o.prefix = "multihead_attention";
  o.d_model = e;
  o.heads = s.num_heads();
  o.dtype = dtype;
  o.bias = !s.has_bias() || s.bias();
  o.attention_dropout = s.dropout();
  o.seed = s.seed();
  const std::string query = g.Sequence("query", l, e);
  if (s.kdim() < 0 || s.vdim() < 0) {
    return FieldError(f + (s.kdim() < 0 ? "kdim" : "vdim"), "must be >= 0");
  }
  o.kdim = s.kdim();
  o.vdim = s.vdim();
  const std::string key = g.Sequence("key", k, s.kdim() > 0 ? s.kdim() : e);
  o.value = g.Sequence("value", k, s.vdim() > 0 ? s.vdim() : e);
  o.additive_mask = g.Both("attention_mask",
                           g.KeyPadding("key_padding_mask", padding, k, query),
                           g.Mask("attn_mask", attn, {l, k}));
  absl::StatusOr<MultiHeadAttention> mha =
      AddMultiHeadAttention(query, key, o, g.builder().staging());
  if (!mha.ok()) return Annotate(mha.status(), "multihead_attention");
  g.Output("attn_output", mha->output);
  if (s.need_weights()) {
    GraphBuilder& b = g.builder();
    g.AsIs("attn_output_weights",
           b.Op("attn_output_weights/mean", "ReduceMean", {mha->weights})
               .AttrInts("axes", {1}));
  }
  return g.Finish("multihead_attention spec");
}

// The transformer layers' shared fields, checked, as layer options.
absl::StatusOr<TransformerLayerOptions> LayerOptions(
    const std::string& f, const TransformerLayerSpec& s, DType dtype,
    bool decoder, const MemoryBudget& budget) {
  std::vector<std::pair<const char*, int64_t>> sizes = {
      {"d_model", s.d_model()},
      {"nhead", s.nhead()},
      {"dim_feedforward", s.dim_feedforward()},
      {"src_length", s.src_length()}};
  if (decoder) sizes.push_back({"tgt_length", s.tgt_length()});
  for (const auto& [field, value] : sizes) {
    RETURN_IF_ERROR(Positive(f + field, value));
  }
  if (!decoder && s.tgt_length() != 0) {
    return FieldError(f + "tgt_length", "decoder only");
  }
  const int64_t d = s.d_model(), ff = s.dim_feedforward();
  // Two or three attention blocks (4 D^2 + 4 D), the FFN, the norms.
  const int64_t attention = SaturatingMul(
      decoder ? 2 : 1, SaturatingMul(4, SaturatingAdd(SaturatingMul(d, d), d)));
  const int64_t ffn = SaturatingMul(
      2, SaturatingAdd(SaturatingMul(d, ff), SaturatingAdd(d, ff)));
  RETURN_IF_ERROR(CheckFitsBudget(
      f + (ff > d ? "dim_feedforward" : "d_model"), std::max(d, ff),
      "parameters",
      SaturatingMul(
          SaturatingAdd(SaturatingAdd(attention, ffn), SaturatingMul(6, d)),
          DTypeSize(dtype)),
      budget));
  TransformerLayerOptions o;
  o.prefix = decoder ? "decoder_layer" : "encoder_layer";
  o.d_model = d;
  o.heads = s.nhead();
  o.ff = ff;
  ASSIGN_OR_RETURN(o.activation, ParseTransformerActivation(f + "activation",
                                                            s.activation()));
  o.norm_first = s.norm_first();
  o.dropout = s.dropout();
  if (s.has_layer_norm_eps()) o.layer_norm_eps = s.layer_norm_eps();
  o.dtype = dtype;
  o.seed = s.seed();
  return o;
}

absl::StatusOr<Graph> BuildEncoderLayer(const TransformerLayerSpec& s,
                                        DType dtype,
                                        const MemoryBudget& budget) {
  const std::string f = "transformer_encoder_layer.";
  for (const auto& [field, value] :
       {std::pair<const char*, std::string>{"tgt_mask", s.tgt_mask()},
        {"memory_mask", s.memory_mask()},
        {"tgt_key_padding_mask", s.tgt_key_padding_mask()},
        {"memory_key_padding_mask", s.memory_key_padding_mask()}}) {
    if (!value.empty()) return FieldError(f + field, "decoder only");
  }
  ASSIGN_OR_RETURN(TransformerLayerOptions o,
                   LayerOptions(f, s, dtype, false, budget));
  ASSIGN_OR_RETURN(MaskKind attn, ParseMask(f + "src_mask", s.src_mask()));
  ASSIGN_OR_RETURN(MaskKind padding, ParseMask(f + "src_key_padding_mask",
                                               s.src_key_padding_mask()));
  const int64_t n = s.src_length();
  LayerGraph g("transformer_encoder_layer", dtype, s.batch_first());
  const std::string src = g.Sequence("src", n, s.d_model());
  o.self_attn_mask =
      g.Both("src_attention_mask", g.Mask("src_mask", attn, {n, n}),
             g.KeyPadding("src_key_padding_mask", padding, n, src));
  absl::StatusOr<TransformerLayer> layer =
      AddTransformerEncoderLayer(src, o, g.builder().staging());
  if (!layer.ok()) return Annotate(layer.status(), "transformer_encoder_layer");
  g.Output("output", layer->output);
  return g.Finish("transformer_encoder_layer spec");
}

absl::StatusOr<Graph> BuildDecoderLayer(const TransformerLayerSpec& s,
                                        DType dtype,
                                        const MemoryBudget& budget) {
  const std::string f = "transformer_decoder_layer.";
  for (const auto& [field, value] :
       {std::pair<const char*, std::string>{"src_mask", s.src_mask()},
        {"src_key_padding_mask", s.src_key_padding_mask()}}) {
    if (!value.empty()) return FieldError(f + field, "encoder only");
  }
  ASSIGN_OR_RETURN(TransformerLayerOptions o,
                   LayerOptions(f, s, dtype, true, budget));
  ASSIGN_OR_RETURN(MaskKind tgt_mask, ParseMask(f + "tgt_mask", s.tgt_mask()));
  ASSIGN_OR_RETURN(MaskKind memory_mask,
                   ParseMask(f + "memory_mask", s.memory_mask()));
  ASSIGN_OR_RETURN(MaskKind tgt_padding, ParseMask(f + "tgt_key_padding_mask",
                                                   s.tgt_key_padding_mask()));
  ASSIGN_OR_RETURN(
      MaskKind memory_padding,
      ParseMask(f + "memory_key_padding_mask", s.memory_key_padding_mask()));
  const int64_t t = s.tgt_length(), n = s.src_length(), d = s.d_model();
  LayerGraph g("transformer_decoder_layer", dtype, s.batch_first());
  const std::string tgt = g.Sequence("tgt", t, d);
  const std::string memory = g.Sequence("memory", n, d);
  o.self_attn_mask =
      g.Both("tgt_attention_mask", g.Mask("tgt_mask", tgt_mask, {t, t}),
             g.KeyPadding("tgt_key_padding_mask", tgt_padding, t, tgt));
  o.memory_attn_mask = g.Both(
      "memory_attention_mask", g.Mask("memory_mask", memory_mask, {t, n}),
      g.KeyPadding("memory_key_padding_mask", memory_padding, n, tgt));
  absl::StatusOr<TransformerLayer> layer =
      AddTransformerDecoderLayer(tgt, memory, o, g.builder().staging());
  if (!layer.ok()) return Annotate(layer.status(), "transformer_decoder_layer");
  g.Output("output", layer->output);
  return g.Finish("transformer_decoder_layer spec");
}

}  // namespace

bool IsTorchLayerSpec(const ModelSpec& spec) {
  return spec.has_multihead_attention() ||
         spec.has_transformer_encoder_layer() ||
         spec.has_transformer_decoder_layer();
}

absl::StatusOr<Graph> BuildTorchLayerModel(const ModelSpec& spec, DType dtype,
                                           const MemoryBudget& budget) {
  const int kinds = spec.has_multihead_attention() +
                    spec.has_transformer_encoder_layer() +
                    spec.has_transformer_decoder_layer();
  if (kinds != 1 || spec.has_input() || spec.has_recurrent() ||
      spec.has_head() || spec.has_loss() || spec.has_seq2seq() ||
      spec.has_bert()) {
    return FieldError(spec.has_multihead_attention() ? "multihead_attention"
                      : spec.has_transformer_encoder_layer()
                          ? "transformer_encoder_layer"
                          : "transformer_decoder_layer",
                      "stands alone: no other model field beside dtype");
  }
  if (spec.has_multihead_attention()) {
    return BuildMultiheadAttention(spec.multihead_attention(), dtype, budget);
  }
  if (spec.has_transformer_encoder_layer()) {
    return BuildEncoderLayer(spec.transformer_encoder_layer(), dtype, budget);
  }
  return BuildDecoderLayer(spec.transformer_decoder_layer(), dtype, budget);
}

}  // namespace rill

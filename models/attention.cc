#include "models/attention.h"

#include <cmath>
#include <functional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"

namespace rill {
namespace {

// Below this an additive mask entry counts as masked: the masks are 0 or
// -1e9, and real scores are far from either threshold.
constexpr double kMaskedBelow = -5e8;
// What CausalMask and PaddingMask put at a masked position.
constexpr double kMaskedScore = -1e9;

constexpr char kWhat[] = "attention";

absl::Status Bad(const std::string& what, const std::string& prefix,
                 const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " options: ", prefix, ": ", message));
}

// The checks every builder shares: prefix, dtype, a positive size.
absl::Status CheckCommon(const std::string& what, const std::string& prefix,
                         DType dtype, const char* size_field, int64_t size) {
  if (!IsValidNodeName(prefix)) {
    return Bad(
        what, "",
        absl::StrCat("prefix '", prefix,
                     "' is not a node name ([A-Za-z_][A-Za-z0-9_.-/]*)"));
  }
  if (dtype != DType::kF32 && dtype != DType::kF64) {
    return Bad(what, prefix, "dtype must be f32 or f64");
  }
  if (size < 1) {
    return Bad(what, prefix, absl::StrCat(size_field, " ", size, " < 1"));
  }
  return absl::OkStatus();
}

// The body of AddScaledDotProductAttention; options are checked.
// `make_mask` gets the scores' node (whose shape masks read) and returns
// the additive mask, or "" for none.
// `dropout` > 0 drops attention probabilities (training), as PyTorch's
// and BERT's attention do.
struct AttendOptions {
  int64_t key_dim = 0;
  DType dtype = DType::kF32;
  double dropout = 0;
  uint64_t seed = 0;
  // Zero the rows whose keys are all masked (the -1e9 masks); an additive
  // mask of moderate values (BERT's -10000) leaves every row allowed.
  bool zero_masked_rows = true;
};

std::string Attend(
    GraphBuilder& w, const std::string& q, const std::string& k,
    const std::string& v,
    const std::function<std::string(const std::string&)>& make_mask,
    const AttendOptions& a, std::string* weights_out = nullptr) {
  const int64_t key_dim = a.key_dim;
  const DType dtype = a.dtype;
  auto attend = [&](std::string weights) -> std::string {
    if (a.dropout > 0) {
      weights = w.Dropout("weights_dropout", weights, a.dropout, a.seed);
    }
    if (weights_out != nullptr) *weights_out = weights;
    return w.Op("output", "MatMul", {weights, v});
  };
  std::string qk =
      w.Op("scores_qk", "MatMul", {q, k}).AttrBool("transpose_b", true);
  const double scale = 1.0 / std::sqrt(static_cast<double>(key_dim));
  std::string scores =
      w.Op("scores", "Mul", {qk, w.Scalar("scale", dtype, scale)});
  const std::string mask = make_mask(qk);
  if (mask.empty()) return attend(w.Op("weights", "Softmax", {scores}));
  std::string masked = w.Op("scores_masked", "Add", {scores, mask});
  if (!a.zero_masked_rows) return attend(w.Op("weights", "Softmax", {masked}));
  std::string soft = w.Op("softmax", "Softmax", {masked});
  // Zero the rows with no allowed key, which softmax makes uniform.
  std::string allowed =
      w.Op("allowed", "Greater",
           {mask, w.Scalar("masked_below", dtype, kMaskedBelow)});
  std::string keep = w.Cast("keep", allowed, dtype);
  return attend(w.Op("weights", "Mul", {soft, keep}));
}

// x [B, T, D] -> [B, h, T, D/h]: a Split along D, a new axis 1 per part,
// and a Concat along it. Unlike Reshape it leaves B and T symbolic.
std::string SplitHeads(GraphBuilder& w, const std::string& name,
                       const std::string& x, int64_t heads) {
  GraphBuilder::NodeRef parts = w.Op(name + "_parts", "Split", {x})
                                    .AttrInt("num_splits", heads)
                                    .AttrInt("axis", 2);
  std::vector<std::string> expanded;
  for (int64_t i = 0; i < heads; ++i) {
    expanded.push_back(
        w.Op(absl::StrCat(name, "_h", i), "ExpandDims", {parts.Output(i)})
            .AttrInt("axis", 1));
  }
  return w.Op(name, "Concat", expanded).AttrInt("axis", 1);
}

// [B, h, T, D/h] -> [B, T, D], the inverse of SplitHeads.
std::string JoinHeads(GraphBuilder& w, const std::string& name,
                      const std::string& x, int64_t heads) {
  GraphBuilder::NodeRef parts = w.Op(name + "_parts", "Split", {x})
                                    .AttrInt("num_splits", heads)
                                    .AttrInt("axis", 1);
  std::vector<std::string> squeezed;
  for (int64_t i = 0; i < heads; ++i) {
    squeezed.push_back(
        w.Op(absl::StrCat(name, "_h", i), "Squeeze", {parts.Output(i)})
            .AttrInts("axes", {1}));
  }
  return w.Op(name, "Concat", squeezed).AttrInt("axis", 2);
}

// The additive mask [B or 1, 1, T_q, T_k] of the options, or "" for none.
// `scores_like` is any [B, h, T_q, T_k] tensor (only its shape is read).
std::string Mask(GraphBuilder& w, const MultiHeadAttentionOptions& o,
                 const std::string& scores_like) {
  std::string mask;
  if (o.causal) mask = w.Op("causal_mask", "CausalMask", {scores_like});
  if (!o.key_lengths.empty()) {
    std::string pad =
        w.Op("padding_mask", "PaddingMask", {o.key_lengths, scores_like});
    // [B, T_k] -> [B, 1, 1, T_k], to broadcast over heads and queries.
    pad = w.Op("padding_mask_h", "ExpandDims", {pad}).AttrInt("axis", 1);
    pad = w.Op("padding_mask_hq", "ExpandDims", {pad}).AttrInt("axis", 1);
    mask = mask.empty() ? pad : w.Op("mask", "Add", {mask, pad});
  }
  if (!o.additive_mask.empty()) {
    mask = mask.empty() ? o.additive_mask
                        : w.Op("mask_additive", "Add", {mask, o.additive_mask});
  }
  return mask;
}

struct Projections {
  // in_weight packs q, k and v; with kdim or vdim apart from d_model,
  // PyTorch keeps three: q_weight, k_weight, v_weight.
  std::string in_weight, q_weight, k_weight, v_weight, in_bias, out_weight,
      out_bias;
  // The q, k and v weights and biases ("" for none) as the projections
  // read them.
  std::vector<std::string> w, b;
};

// "node:0".."node:2" of a three-way Split along axis 0; three "" for "".
std::vector<std::string> SplitThree(GraphBuilder& w, const std::string& name,
                                    const std::string& x) {
  if (x.empty()) return {"", "", ""};
  GraphBuilder::NodeRef s = w.Op(name, "Split", {x}).AttrInt("num_splits", 3);
  return {s.Output(0), s.Output(1), s.Output(2)};
}

int64_t DimOr(int64_t dim, int64_t d_model) { return dim > 0 ? dim : d_model; }

// The Parameters, initialised as PyTorch does.
Projections AddProjections(GraphBuilder& w,
                           const MultiHeadAttentionOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](const Shape& shape, double bound) {
    return UniformTensor(o.dtype, shape, bound, rng);
  };
  auto zeros = [&](int64_t n) {
    return FilledTensor(o.dtype, Shape{n}, [](int64_t) { return 0.0; });
  };
  const int64_t d = o.d_model;
  const int64_t kdim = DimOr(o.kdim, d), vdim = DimOr(o.vdim, d);
  Projections p;
  // xavier_uniform_: uniform(+-sqrt(6 / (fan_in + fan_out))).
  auto xavier = [&](const char* name, int64_t rows, int64_t cols) {
    return w.Parameter(
        name, uniform(Shape{rows, cols}, std::sqrt(6.0 / (rows + cols))));
  };
  if (kdim == d && vdim == d) {
    p.in_weight = xavier("in_proj_weight", 3 * d, d);
    p.w = SplitThree(w, "in_proj_weight_qkv", p.in_weight);
  } else {
    p.q_weight = xavier("q_proj_weight", d, d);
    p.k_weight = xavier("k_proj_weight", d, kdim);
    p.v_weight = xavier("v_proj_weight", d, vdim);
    p.w = {p.q_weight, p.k_weight, p.v_weight};
  }
  if (o.bias) p.in_bias = w.Parameter("in_proj_bias", zeros(3 * d));
  p.b = SplitThree(w, "in_proj_bias_qkv", p.in_bias);
  // Linear's kaiming_uniform_(a = sqrt(5)): uniform(+-1/sqrt(fan_in)).
  p.out_weight = w.Parameter("out_proj.weight",
                             uniform(Shape{d, d}, 1.0 / std::sqrt(1.0 * d)));
  if (o.bias) p.out_bias = w.Parameter("out_proj.bias", zeros(d));
  return p;
}

// The Parameters that exist, in PyTorch's state_dict order.
std::vector<std::string> ParameterList(const Projections& p) {
  std::vector<std::string> out;
  for (const std::string* n :
       {&p.in_weight, &p.q_weight, &p.k_weight, &p.v_weight, &p.in_bias,
        &p.out_weight, &p.out_bias}) {
    if (!n->empty()) out.push_back(*n);
  }
  return out;
}

}  // namespace

absl::Status CheckAttentionOptions(const std::string& what,
                                   const std::string& prefix, DType dtype,
                                   int64_t d_model, int64_t heads) {
  RETURN_IF_ERROR(CheckCommon(what, prefix, dtype, "d_model", d_model));
  if (heads < 1)
    return Bad(what, prefix, absl::StrCat("heads ", heads, " < 1"));
  if (d_model % heads != 0) {
    return Bad(what, prefix,
               absl::StrCat("d_model ", d_model, " is not divisible by heads ",
                            heads));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AddScaledDotProductAttention(
    const std::string& q, const std::string& k, const std::string& v,
    const std::string& mask, const ScaledDotProductAttentionOptions& o,
    Graph* graph) {
  RETURN_IF_ERROR(CheckCommon("scaled dot-product attention", o.prefix, o.dtype,
                              "key_dim", o.key_dim));
  if (q.empty() || k.empty() || v.empty()) {
    return Bad("scaled dot-product attention", o.prefix,
               "q, k and v must all be given");
  }
  GraphBuilder w(kWhat, o.prefix);
  std::string out = Attend(w, q, k, v, [&](const std::string&) { return mask; },
                           {o.key_dim, o.dtype});
  RETURN_IF_ERROR(w.Commit(graph));
  return out;
}

namespace {

absl::Status CheckMultiHead(const MultiHeadAttentionOptions& o,
                            const std::string& key_value) {
  const char* what = "multi-head attention";
  RETURN_IF_ERROR(
      CheckAttentionOptions(what, o.prefix, o.dtype, o.d_model, o.heads));
  if (!(o.attention_dropout >= 0 && o.attention_dropout < 1)) {
    return Bad(what, o.prefix,
               absl::StrCat("attention_dropout ", o.attention_dropout,
                            " is not in [0, 1)"));
  }
  if (o.kdim < 0 || o.vdim < 0) {
    return Bad(what, o.prefix,
               absl::StrCat("kdim ", o.kdim, " or vdim ", o.vdim, " < 0"));
  }
  const bool projected = !o.projected_key.empty() || !o.projected_value.empty();
  const bool cached = !o.cache_key.empty() || !o.cache_value.empty() ||
                      !o.cache_position.empty();
  if (key_value.empty() && !projected) {
    return Bad(what, o.prefix, "query and key_value must both be given");
  }
  if (projected && (o.projected_key.empty() || o.projected_value.empty())) {
    return Bad(what, o.prefix, "projected_key and projected_value go together");
  }
  if (cached && (o.cache_key.empty() || o.cache_value.empty() ||
                 o.cache_position.empty())) {
    return Bad(what, o.prefix,
               "cache_key, cache_value and cache_position go together");
  }
  if (cached && o.cache_length < 1) {
    return Bad(what, o.prefix,
               absl::StrCat("cache_length ", o.cache_length, " < 1"));
  }
  if (cached && (projected || o.causal || !o.key_lengths.empty())) {
    return Bad(what, o.prefix,
               "a cache is for self-attention: no projected K/V, causal or "
               "key_lengths (the cache masks the keys after the query)");
  }
  return absl::OkStatus();
}

// [1, L, 1]: `on` at row p of the cache and `off` elsewhere, to broadcast
// over B and D.
std::string CacheRows(GraphBuilder& w, const std::string& name,
                      const MultiHeadAttentionOptions& o, double on,
                      double off) {
  std::string rows = w.Op(name, "OneHot", {o.cache_position})
                         .AttrInt("depth", o.cache_length)
                         .AttrType("dtype", o.dtype)
                         .AttrFloat("on_value", on)
                         .AttrFloat("off_value", off);
  return w.Op(name + "_d", "ExpandDims", {rows}).AttrInt("axis", -1);
}

// cache * keep + row * select: the cache with row p := the new K (or V)
// [B, 1, D]. Exact, unlike cache + select * (row - cache), whatever the
// unwritten rows hold (if finite).
std::string WriteCacheRow(GraphBuilder& w, const std::string& name,
                          const std::string& cache, const std::string& row,
                          const std::string& keep, const std::string& select) {
  std::string kept = w.Op(name + "_kept", "Mul", {cache, keep});
  std::string written = w.Op(name + "_row", "Mul", {row, select});
  return w.Op(name, "Add", {kept, written});
}

// Splits projected q, k, v [B, T, D] into heads, attends with `mask` and
// the options' dropout, and joins the heads: [B, T_q, D].
std::string AttendHeads(
    GraphBuilder& w, const std::string& q, const std::string& k,
    const std::string& v,
    const std::function<std::string(const std::string&)>& mask,
    const MultiHeadAttentionOptions& o, std::string* weights = nullptr) {
  std::string qh = SplitHeads(w, "q_heads", q, o.heads);
  std::string kh = SplitHeads(w, "k_heads", k, o.heads);
  std::string vh = SplitHeads(w, "v_heads", v, o.heads);
  AttendOptions a;
  a.key_dim = o.d_model / o.heads;
  a.dtype = o.dtype;
  a.dropout = o.attention_dropout;
  a.seed = o.seed;
  a.zero_masked_rows =
      o.causal || !o.key_lengths.empty() || !o.cache_key.empty();
  // The masks read only the shape [B, h, T_q, T_k] of the scores.
  std::string heads = Attend(w, qh, kh, vh, mask, a, weights);
  return JoinHeads(w, "joined", heads, o.heads);
}

}  // namespace

absl::StatusOr<MultiHeadAttention> AddMultiHeadAttention(
    const std::string& query, const std::string& key_value,
    const MultiHeadAttentionOptions& o, Graph* graph) {
  RETURN_IF_ERROR(CheckMultiHead(o, key_value));
  if (query.empty()) {
    return Bad("multi-head attention", o.prefix,
               "query and key_value must both be given");
  }
  GraphBuilder w(kWhat, o.prefix);
  Projections p = AddProjections(w, o);
  const std::vector<std::string>&wq = p.w, &bq = p.b;
  std::string q = w.Linear("q", query, wq[0], bq[0]);
  MultiHeadAttention mha;
  std::string k = o.projected_key, v = o.projected_value;
  if (k.empty()) {
    k = w.Linear("k", key_value, wq[1], bq[1]);
    v = w.Linear("v", o.value.empty() ? key_value : o.value, wq[2], bq[2]);
  }
  std::function<std::string(const std::string&)> mask =
      [&](const std::string& scores) { return Mask(w, o, scores); };
  if (!o.cache_key.empty()) {
    std::string select = CacheRows(w, "cache_select", o, 1, 0);
    std::string keep = CacheRows(w, "cache_keep", o, 0, 1);
    mha.cache_key = k =
        WriteCacheRow(w, "cache_key", o.cache_key, k, keep, select);
    mha.cache_value = v =
        WriteCacheRow(w, "cache_value", o.cache_value, v, keep, select);
    mask = [&](const std::string&) {
      // Row p of a causal [L, L] table lets the query see keys 0..p.
      const int64_t l = o.cache_length;
      std::string table =
          w.Const("cache_mask_table",
                  FilledTensor(o.dtype, Shape{l, l}, [&](int64_t i) {
                    return i % l <= i / l ? 0.0 : kMaskedScore;
                  }));
      std::string row = w.Op("cache_mask", "Gather", {table, o.cache_position})
                            .AttrInt("axis", 0);
      // [1, L] -> [1, 1, 1, L], to broadcast over B, heads and the query.
      row = w.Op("cache_mask_h", "ExpandDims", {row}).AttrInt("axis", 1);
      return w.Op("cache_mask_hq", "ExpandDims", {row}).AttrInt("axis", 1);
    };
  }
  std::string joined = AttendHeads(w, q, k, v, mask, o, &mha.weights);
  mha.output = w.Linear("out", joined, p.out_weight, p.out_bias);
  mha.parameters = ParameterList(p);
  RETURN_IF_ERROR(w.Commit(graph));
  return mha;
}

absl::StatusOr<std::string> AddProjectedMultiHeadAttention(
    const std::string& q, const std::string& k, const std::string& v,
    const MultiHeadAttentionOptions& o, Graph* graph) {
  RETURN_IF_ERROR(CheckMultiHead(o, k));
  if (q.empty() || v.empty() || !o.projected_key.empty() ||
      !o.cache_key.empty()) {
    return Bad("multi-head attention", o.prefix,
               "q, k and v must all be given, with no projected K/V or cache");
  }
  GraphBuilder w(kWhat, o.prefix);
  std::string out = AttendHeads(
      w, q, k, v, [&](const std::string& scores) { return Mask(w, o, scores); },
      o);
  RETURN_IF_ERROR(w.Commit(graph));
  return out;
}

absl::StatusOr<ProjectedKeyValue> AddKeyValueProjection(
    const std::string& key_value, const MultiHeadAttentionOptions& o,
    Graph* graph) {
  MultiHeadAttentionOptions plain = o;
  plain.projected_key = plain.projected_value = "";
  plain.cache_key = plain.cache_value = plain.cache_position = "";
  RETURN_IF_ERROR(CheckMultiHead(plain, key_value));
  GraphBuilder w(kWhat, o.prefix);
  Projections p = AddProjections(w, o);
  const std::vector<std::string>&wq = p.w, &bq = p.b;
  ProjectedKeyValue kv;
  kv.key = w.Linear("k", key_value, wq[1], bq[1]);
  kv.value = w.Linear("v", key_value, wq[2], bq[2]);
  RETURN_IF_ERROR(w.Commit(graph));
  return kv;
}

absl::StatusOr<Tensor> SinusoidalPositionalEncodingTable(int64_t length,
                                                         int64_t d_model,
                                                         DType dtype) {
  RETURN_IF_ERROR(
      CheckCommon("positional encoding", "table", dtype, "length", length));
  if (d_model < 1) {
    return Bad("positional encoding", "table",
               absl::StrCat("d_model ", d_model, " < 1"));
  }
  return FilledTensor(dtype, Shape{length, d_model}, [&](int64_t i) {
    const int64_t pos = i / d_model, col = i % d_model;
    const double two_i = static_cast<double>(col - col % 2);
    const double angle =
        static_cast<double>(pos) /
        std::pow(10000.0, two_i / static_cast<double>(d_model));
    return col % 2 == 0 ? std::sin(angle) : std::cos(angle);
  });
}

absl::StatusOr<std::string> AddSinusoidalPositionalEncoding(
    const std::string& x, const PositionalEncodingOptions& o, Graph* graph) {
  RETURN_IF_ERROR(CheckCommon("positional encoding", o.prefix, o.dtype,
                              "length", o.length));
  if (x.empty()) return Bad("positional encoding", o.prefix, "x is empty");
  ASSIGN_OR_RETURN(Tensor table, SinusoidalPositionalEncodingTable(
                                     o.length, o.d_model, o.dtype));
  GraphBuilder w(kWhat, o.prefix);
  std::string out = w.Op("output", "Add", {x, w.Const("table", table)});
  RETURN_IF_ERROR(w.Commit(graph));
  return out;
}

}  // namespace rill

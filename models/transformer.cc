#include "models/transformer.h"

#include <cmath>
#include <functional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"

namespace rill {
namespace {

absl::Status Bad(const char* what, const std::string& prefix,
                 const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " options: ", prefix, ": ", message));
}

absl::Status CheckOptions(const char* what, const TransformerLayerOptions& o) {
  RETURN_IF_ERROR(
      CheckAttentionOptions(what, o.prefix, o.dtype, o.d_model, o.heads));
  if (o.ff < 1) return Bad(what, o.prefix, absl::StrCat("ff ", o.ff, " < 1"));
  // Negated so that NaN fails too.
  if (!(o.dropout >= 0 && o.dropout < 1)) {
    return Bad(what, o.prefix,
               absl::StrCat("dropout ", o.dropout, " is not in [0, 1)"));
  }
  if (!(o.layer_norm_eps > 0)) {
    return Bad(what, o.prefix,
               absl::StrCat("layer_norm_eps ", o.layer_norm_eps, " <= 0"));
  }
  return absl::OkStatus();
}

// nn.LayerNorm(D, eps=o.layer_norm_eps) with Parameters <name>.weight
// (ones) and <name>.bias (zeros); the Parameters join `parameters`.
std::string Norm(GraphBuilder& b, const std::string& name, const std::string& x,
                 const TransformerLayerOptions& o,
                 std::vector<std::string>* parameters) {
  auto filled = [&](double v) {
    return FilledTensor(o.dtype, Shape{o.d_model}, [&](int64_t) { return v; });
  };
  std::string weight = b.Parameter(name + ".weight", filled(1));
  std::string bias = b.Parameter(name + ".bias", filled(0));
  parameters->insert(parameters->end(), {weight, bias});
  return b.LayerNorm(name, x, weight, bias, o.layer_norm_eps);
}

// A layer's nodes, staged so that the caller's graph changes only once
// every node is in place and no name clashes.
class LayerBuilder {
 public:
  explicit LayerBuilder(const TransformerLayerOptions& o)
      : o_(o), b_("transformer layer", o.prefix), rng_(o.seed + 2) {}

  // nn.Linear(in, out): Parameters <name>.weight [out, in] and <name>.bias
  // [out], both uniform(+-1/sqrt(in)).
  std::string Linear(const std::string& name, const std::string& x, int64_t in,
                     int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    std::string weight = Param(
        name + ".weight", UniformTensor(o_.dtype, Shape{out, in}, bound, rng_));
    std::string bias =
        Param(name + ".bias", UniformTensor(o_.dtype, Shape{out}, bound, rng_));
    return b_.Linear(name, x, weight, bias);
  }

  // x itself when dropout is 0.
  std::string Dropout(const std::string& name, const std::string& x) {
    if (o_.dropout == 0) return x;
    return b_.Dropout(name, x, o_.dropout, o_.seed);
  }

  // AddMultiHeadAttention as <prefix>/<name>, with `m`'s masks, projected
  // K/V and cache; its Parameters join ours.
  absl::StatusOr<MultiHeadAttention> Attention(const std::string& name,
                                               const std::string& query,
                                               const std::string& key_value,
                                               MultiHeadAttentionOptions m,
                                               uint64_t seed) {
    m.prefix = absl::StrCat(o_.prefix, "/", name);
    m.d_model = o_.d_model;
    m.heads = o_.heads;
    m.dtype = o_.dtype;
    m.seed = seed;
    ASSIGN_OR_RETURN(MultiHeadAttention mha,
                     AddMultiHeadAttention(query, key_value, m, b_.staging()));
    for (const std::string& p : mha.parameters) parameters_.push_back(p);
    return mha;
  }

  // Linear(D, ff) - activation - dropout - Linear(ff, D).
  std::string FeedForward(const std::string& x) {
    std::string h = Linear("linear1", x, o_.d_model, o_.ff);
    h = b_.Op("activation",
              o_.activation == TransformerActivation::kGelu ? "Gelu" : "Relu",
              {h});
    h = Dropout("dropout", h);
    return Linear("linear2", h, o_.ff, o_.d_model);
  }

  // One residual block: post-norm norm(x + dropout(block(x))), or pre-norm
  // x + dropout(block(norm(x))). `n` numbers norm<n> and dropout<n>.
  absl::StatusOr<std::string> Residual(
      int n, const std::string& x,
      const std::function<absl::StatusOr<std::string>(const std::string&)>&
          block) {
    const std::string norm = absl::StrCat("norm", n);
    const std::string in =
        o_.norm_first ? Norm(b_, norm, x, o_, &parameters_) : x;
    ASSIGN_OR_RETURN(std::string out, block(in));
    out = Dropout(absl::StrCat("dropout", n), out);
    std::string sum = b_.Op(absl::StrCat("residual", n), "Add", {x, out});
    return o_.norm_first ? sum : Norm(b_, norm, sum, o_, &parameters_);
  }

  absl::StatusOr<TransformerLayer> Commit(const std::string& output,
                                          Graph* graph,
                                          const MultiHeadAttention& self = {}) {
    RETURN_IF_ERROR(b_.Commit(graph));
    return TransformerLayer{output, std::move(parameters_), self.cache_key,
                            self.cache_value};
  }

 private:
  std::string Param(const std::string& name,
                    const absl::StatusOr<Tensor>& value) {
    parameters_.push_back(b_.Parameter(name, value));
    return parameters_.back();
  }

  const TransformerLayerOptions& o_;
  GraphBuilder b_;
  std::mt19937_64 rng_;
  std::vector<std::string> parameters_;
};

absl::StatusOr<std::string> Output(
    const absl::StatusOr<MultiHeadAttention>& mha) {
  if (!mha.ok()) return mha.status();
  return mha->output;
}

}  // namespace

absl::StatusOr<TransformerActivation> ParseTransformerActivation(
    const std::string& field, const std::string& name) {
  if (name.empty() || name == "relu") return TransformerActivation::kRelu;
  if (name == "gelu") return TransformerActivation::kGelu;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", name, "': expected relu or gelu"));
}

absl::StatusOr<TransformerLayer> AddTransformerEncoderLayer(
    const std::string& x, const TransformerLayerOptions& o, Graph* graph) {
  const char* what = "transformer encoder layer";
  RETURN_IF_ERROR(CheckOptions(what, o));
  if (x.empty()) return Bad(what, o.prefix, "x is empty");
  LayerBuilder b(o);
  MultiHeadAttentionOptions self;
  self.causal = o.causal;
  self.key_lengths = o.key_lengths;
  self.additive_mask = o.self_attn_mask;
  ASSIGN_OR_RETURN(std::string h, b.Residual(1, x, [&](const std::string& in) {
    return Output(b.Attention("self_attn", in, in, self, o.seed));
  }));
  ASSIGN_OR_RETURN(h, b.Residual(2, h, [&](const std::string& in) {
    return absl::StatusOr<std::string>(b.FeedForward(in));
  }));
  return b.Commit(h, graph);
}

absl::StatusOr<TransformerLayer> AddTransformerDecoderLayer(
    const std::string& x, const std::string& memory,
    const TransformerLayerOptions& o, Graph* graph) {
  const char* what = "transformer decoder layer";
  RETURN_IF_ERROR(CheckOptions(what, o));
  if (x.empty() || (memory.empty() && o.memory_kv.key.empty())) {
    return Bad(what, o.prefix, "x and memory must both be given");
  }
  LayerBuilder b(o);
  MultiHeadAttentionOptions self;
  self.causal = o.causal;
  self.key_lengths = o.key_lengths;
  self.additive_mask = o.self_attn_mask;
  self.cache_key = o.cache_key;
  self.cache_value = o.cache_value;
  self.cache_position = o.cache_position;
  self.cache_length = o.cache_length;
  MultiHeadAttention self_mha;
  ASSIGN_OR_RETURN(
      std::string h,
      b.Residual(
          1, x, [&](const std::string& in) -> absl::StatusOr<std::string> {
            ASSIGN_OR_RETURN(self_mha,
                             b.Attention("self_attn", in, in, self, o.seed));
            return self_mha.output;
          }));
  // Cross-attention: the memory is never normalised here (PyTorch's
  // pre-norm normalises only the query side).
  MultiHeadAttentionOptions cross;
  cross.key_lengths = o.memory_key_lengths;
  cross.additive_mask = o.memory_attn_mask;
  cross.projected_key = o.memory_kv.key;
  cross.projected_value = o.memory_kv.value;
  ASSIGN_OR_RETURN(h, b.Residual(2, h, [&](const std::string& in) {
    return Output(b.Attention("multihead_attn", in, memory, cross, o.seed + 1));
  }));
  ASSIGN_OR_RETURN(h, b.Residual(3, h, [&](const std::string& in) {
    return absl::StatusOr<std::string>(b.FeedForward(in));
  }));
  return b.Commit(h, graph, self_mha);
}

TransformerLayerOptions StackLayerOptions(const TransformerStackOptions& s,
                                          int64_t i) {
  TransformerLayerOptions l = s.layer;
  l.prefix = absl::StrCat(s.layer.prefix, "/layers.", i);
  l.seed = s.layer.seed + 8 * static_cast<uint64_t>(i);
  return l;
}

absl::StatusOr<TransformerStack> AddStackNorm(const std::string& x,
                                              const TransformerStackOptions& s,
                                              Graph* graph) {
  const TransformerLayerOptions& o = s.layer;
  RETURN_IF_ERROR(CheckOptions("transformer stack", o));
  GraphBuilder b("transformer stack", o.prefix);
  TransformerStack out;
  out.output = Norm(b, "norm", x, o, &out.parameters);
  RETURN_IF_ERROR(b.Commit(graph));
  return out;
}

namespace {

// The layers, then the norm, staged together so that they land all or
// none.
absl::StatusOr<TransformerStack> AddStack(
    const std::string& x, const TransformerStackOptions& s,
    const std::function<absl::StatusOr<TransformerLayer>(
        const std::string&, const TransformerLayerOptions&, Graph*)>& layer,
    Graph* graph) {
  if (s.num_layers < 1) {
    return Bad("transformer stack", s.layer.prefix,
               absl::StrCat("num_layers ", s.num_layers, " < 1"));
  }
  GraphBuilder b("transformer stack", s.layer.prefix);
  std::string h = x;
  std::vector<std::string> parameters;
  for (int64_t i = 0; i < s.num_layers; ++i) {
    ASSIGN_OR_RETURN(TransformerLayer l,
                     layer(h, StackLayerOptions(s, i), b.staging()));
    h = l.output;
    parameters.insert(parameters.end(), l.parameters.begin(),
                      l.parameters.end());
  }
  ASSIGN_OR_RETURN(TransformerStack stack, AddStackNorm(h, s, b.staging()));
  stack.parameters.insert(stack.parameters.begin(), parameters.begin(),
                          parameters.end());
  RETURN_IF_ERROR(b.Commit(graph));
  return stack;
}

}  // namespace

absl::StatusOr<TransformerStack> AddTransformerEncoder(
    const std::string& x, const TransformerStackOptions& s, Graph* graph) {
  return AddStack(x, s, AddTransformerEncoderLayer, graph);
}

absl::StatusOr<TransformerStack> AddTransformerDecoder(
    const std::string& x, const std::string& memory,
    const TransformerStackOptions& s, Graph* graph) {
  return AddStack(
      x, s,
      [&](const std::string& h, const TransformerLayerOptions& l, Graph* g) {
        return AddTransformerDecoderLayer(h, memory, l, g);
      },
      graph);
}

}  // namespace rill

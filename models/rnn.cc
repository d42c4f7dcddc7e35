#include "models/rnn.h"

#include <cmath>
#include <map>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/recurrent_step.h"
#include "graph/validate.h"
#include "models/node_writer.h"

namespace rill {
namespace {

absl::Status CheckOptions(const std::string& input,
                          const RecurrentLayerOptions& o) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("recurrent layer options: ", what));
  };
  if (!IsValidNodeName(o.prefix)) {
    return bad(
        absl::StrCat("prefix '", o.prefix,
                     "' is not a node name ([A-Za-z_][A-Za-z0-9_.-/]*)"));
  }
  if (input.empty()) return bad(absl::StrCat(o.prefix, ": input is empty"));
  if (o.steps < 1)
    return bad(absl::StrCat(o.prefix, ": steps ", o.steps, " < 1"));
  if (o.input_size < 1) {
    return bad(absl::StrCat(o.prefix, ": input_size ", o.input_size, " < 1"));
  }
  if (o.hidden_size < 1) {
    return bad(absl::StrCat(o.prefix, ": hidden_size ", o.hidden_size, " < 1"));
  }
  if (o.dtype != DType::kF32 && o.dtype != DType::kF64) {
    return bad(absl::StrCat(o.prefix, ": dtype must be f32 or f64"));
  }
  if (o.merge != RecurrentMerge::kConcat && o.merge != RecurrentMerge::kSum) {
    return bad(absl::StrCat(o.prefix, ": merge must be concat or sum"));
  }
  return absl::OkStatus();
}

// A Parameter node holding a [rows, cols] (cols = 0: [rows]) tensor drawn
// uniformly from [-k, k], k = 1/sqrt(H), as PyTorch initialises its RNNs.
absl::StatusOr<std::string> AddParameter(NodeWriter& w,
                                         const RecurrentLayerOptions& o,
                                         const std::string& name, int64_t rows,
                                         int64_t cols, std::mt19937_64& rng) {
  Shape shape = cols > 0 ? Shape{rows, cols} : Shape{rows};
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(o.dtype, shape));
  const double k = 1.0 / std::sqrt(static_cast<double>(o.hidden_size));
  std::uniform_real_distribution<double> dist(-k, k);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (o.dtype == DType::kF64) {
      t.data<double>()[i] = dist(rng);
    } else {
      t.data<float>()[i] = static_cast<float>(dist(rng));
    }
  }
  return w.ValueAt(o.prefix, name, "Parameter", t);
}

// Everything one step needs besides its own input projection.
struct Weights {
  std::string weight_hh, bias_hh;
  // The seed GRU splits the recurrent weights: rows of r and z, rows of n.
  std::string w_hrz, b_hrz, w_hn, b_hn;
};

struct State {
  std::string h, c;
};

// a . b^T + bias, a MatMul plus bias Add (fused on oneDNN).
std::string Affine(NodeWriter& w, const std::string& scope,
                   const std::string& name, const std::string& a,
                   const std::string& b, const std::string& bias) {
  Node* mm;
  std::string prod = w.OpAt(scope, name + "_mm", "MatMul", {a, b}, &mm);
  (*mm->mutable_attr())["transpose_b"].set_b(true);
  return w.OpAt(scope, name, "Add", {prod, bias});
}

// from + z (to - from): (1 - z) from + z to, in three ops, the last named
// `name`.
std::string Blend(NodeWriter& w, const std::string& s, const std::string& z,
                  const std::string& from, const std::string& to,
                  const std::string& name) {
  std::string diff = w.OpAt(s, name + "_delta", "Sub", {to, from});
  std::string step = w.OpAt(s, name + "_step", "Mul", {z, diff});
  return w.OpAt(s, name, "Add", {from, step});
}

// One step of the cell as graph/recurrent_step.h writes it, in `scope`
// (<prefix>/t<k>); the same ops the fusion pass recognises.
State Step(NodeWriter& w, RecurrentCell cell, const std::string& scope,
           const std::string& xp, const State& prev, const Weights& wt) {
  const std::map<std::string, std::string> vars = {
      {"$xp", xp},           {"$h", prev.h},
      {"$c", prev.c},        {"$w_hh", wt.weight_hh},
      {"$b_hh", wt.bias_hh}, {"$w_hrz", wt.w_hrz},
      {"$b_hrz", wt.b_hrz},  {"$w_hn", wt.w_hn},
      {"$b_hn", wt.b_hn}};
  bool has_c = false;
  for (const StepOp& op : RecurrentStepOps(cell)) {
    std::vector<std::string> inputs;
    for (const std::string& in : op.inputs) {
      inputs.push_back(IsStepVariable(in) ? vars.at(in)
                                          : absl::StrCat(scope, "/", in));
    }
    Node* node;
    w.OpAt(scope, op.name, op.op, inputs, &node);
    for (const auto& [key, value] : op.attrs) {
      (*node->mutable_attr())[key] = value;
    }
    has_c = has_c || op.name == "c";
  }
  return {absl::StrCat(scope, "/h"), has_c ? absl::StrCat(scope, "/c") : ""};
}

// Splits the seed GRU's recurrent weights and bias into rows [0, 2H) (r, z)
// and [2H, 3H) (n), once, outside the steps.
void SplitSeedGruWeights(NodeWriter& w, const std::string& prefix,
                         const std::string& suffix, int64_t h, Weights* wt) {
  auto split = [&](const std::string& name, const std::string& x,
                   std::string* rz, std::string* n) {
    Node* node;
    std::string s = w.OpAt(prefix, name, "Split", {x}, &node);
    (*node->mutable_attr())["num_splits"].set_i(2);
    SetInts(node, "sizes", {2 * h, h});
    *rz = s + ":0";
    *n = s + ":1";
  };
  split("weight_hh_split" + suffix, wt->weight_hh, &wt->w_hrz, &wt->w_hn);
  split("bias_hh_split" + suffix, wt->bias_hh, &wt->b_hrz, &wt->b_hn);
}

// The zero initial state [B, H], shared by both directions (and by the
// fused layer that graph/fuse_recurrent.h makes): a [B, 1] zero column cut from
// x [T, B, I] plus a zero row [H], so that it depends on x's shape alone (a
// symbolic batch needs no feed, and the fused graph does not keep the unrolled
// input projection alive).
std::string ZeroState(NodeWriter& w, const RecurrentLayerOptions& o,
                      const std::string& input) {
  Node* node;
  std::string corner = w.OpAt(o.prefix, "h0_corner", "Slice", {input}, &node);
  SetInts(node, "start", {0, 0});
  SetInts(node, "end", {1, 1});
  SetInts(node, "axes", {0, 2});
  std::string column =
      w.OpAt(o.prefix, "h0_column", "Squeeze", {corner}, &node);
  SetInts(node, "axes", {0});
  std::string zero_column = w.OpAt(o.prefix, "h0_zeros", "ZerosLike", {column});
  std::string zero_row = w.ValueAt(
      o.prefix, "h0_row", "Const",
      FilledTensor(o.dtype, Shape{o.hidden_size}, [](int64_t) { return 0.0; }));
  // [B, 1] + [H] broadcasts to [B, H].
  return w.OpAt(o.prefix, "h0", "Add", {zero_column, zero_row});
}

// The initial state: Input nodes, or `zeros` (ZeroState).
State InitialStates(NodeWriter& w, const RecurrentLayerOptions& o,
                    const std::string& suffix, const std::string& zeros,
                    RecurrentLayer* layer) {
  const bool lstm = o.cell == RecurrentCell::kLstm;
  if (o.initial_state == InitialState::kInput) {
    State st;
    for (const char* name : {"h0", "c0"}) {
      if (std::string(name) == "c0" && !lstm) break;
      Node* node;
      std::string in = w.OpAt(o.prefix, name + suffix, "Input", {}, &node);
      (*node->mutable_attr())["dtype"].set_type(DTypeToProto(o.dtype));
      ShapeProto* shape = (*node->mutable_attr())["shape"].mutable_shape();
      shape->add_dim(-1);
      shape->add_dim(o.hidden_size);
      layer->state_inputs.push_back(in);
      (st.h.empty() ? st.h : st.c) = in;
    }
    return st;
  }
  return {zeros, lstm ? zeros : ""};
}

// x [T, B, I] -> [T*B, I], shared by both directions.
std::string FlatInput(NodeWriter& w, const RecurrentLayerOptions& o,
                      const std::string& input) {
  Node* node;
  std::string flat = w.OpAt(o.prefix, "x_flat", "Reshape", {input}, &node);
  SetInts(node, "shape", {-1, o.input_size});
  return flat;
}

// flat [T*B, I] . weight_ih^T + bias_ih -> T parts [B, G*H].
std::vector<std::string> InputProjection(NodeWriter& w,
                                         const RecurrentLayerOptions& o,
                                         const std::string& suffix,
                                         const std::string& flat,
                                         const std::string& weight_ih,
                                         const std::string& bias_ih) {
  Node* node;
  std::string proj =
      Affine(w, o.prefix, "x_proj" + suffix, flat, weight_ih, bias_ih);
  // T*B rows in step-major order: T equal parts are the steps.
  std::string steps =
      w.OpAt(o.prefix, "x_proj_steps" + suffix, "Split", {proj}, &node);
  (*node->mutable_attr())["num_splits"].set_i(o.steps);
  std::vector<std::string> parts;
  for (int64_t t = 0; t < o.steps; ++t) {
    parts.push_back(absl::StrCat(steps, ":", t));
  }
  return parts;
}

// The per-step 0/1 masks [B, 1] of a variable-length batch: PaddingMask of
// the lengths against a [T] shape, split into its T columns.
std::vector<std::string> StepMasks(NodeWriter& w,
                                   const RecurrentLayerOptions& o) {
  std::vector<std::string> masks;
  if (o.sequence_lengths.empty()) return masks;
  std::string like = w.ValueAt(o.prefix, "steps_like", "Const",
                               Tensor::Allocate(o.dtype, Shape{o.steps}));
  Node* node;
  std::string mask = w.OpAt(o.prefix, "step_mask", "PaddingMask",
                            {o.sequence_lengths, like}, &node);
  (*node->mutable_attr())["additive"].set_b(false);
  std::string cols = w.OpAt(o.prefix, "step_masks", "Split", {mask}, &node);
  (*node->mutable_attr())["num_splits"].set_i(o.steps);
  (*node->mutable_attr())["axis"].set_i(1);
  for (int64_t t = 0; t < o.steps; ++t) {
    masks.push_back(absl::StrCat(cols, ":", t));
  }
  return masks;
}

// One direction's steps, forward (t = 0..T-1) or reverse (T-1..0).
struct DirectionResult {
  std::vector<std::string> step_outputs;  // indexed by t
  State final_state;
};

absl::StatusOr<DirectionResult> BuildDirection(
    NodeWriter& w, const RecurrentLayerOptions& o, const std::string& flat,
    const std::vector<std::string>& masks, const std::string& zeros,
    bool reverse, std::mt19937_64& rng, RecurrentLayer* layer) {
  const std::string suffix = reverse ? "_reverse" : "";
  const int64_t gh = GateCount(o.cell) * o.hidden_size;
  Weights wt;
  ASSIGN_OR_RETURN(
      std::string weight_ih,
      AddParameter(w, o, "weight_ih" + suffix, gh, o.input_size, rng));
  ASSIGN_OR_RETURN(wt.weight_hh, AddParameter(w, o, "weight_hh" + suffix, gh,
                                              o.hidden_size, rng));
  ASSIGN_OR_RETURN(std::string bias_ih,
                   AddParameter(w, o, "bias_ih" + suffix, gh, 0, rng));
  ASSIGN_OR_RETURN(wt.bias_hh,
                   AddParameter(w, o, "bias_hh" + suffix, gh, 0, rng));
  for (const std::string& p : {weight_ih, wt.weight_hh, bias_ih, wt.bias_hh}) {
    layer->parameters.push_back(p);
  }
  if (o.cell == RecurrentCell::kGru) {
    SplitSeedGruWeights(w, o.prefix, suffix, o.hidden_size, &wt);
  }
  std::vector<std::string> xp =
      InputProjection(w, o, suffix, flat, weight_ih, bias_ih);
  DirectionResult result;
  result.step_outputs.resize(o.steps);
  State state = InitialStates(w, o, suffix, zeros, layer);
  const std::string scope = reverse ? o.prefix + "/reverse" : o.prefix;
  for (int64_t k = 0; k < o.steps; ++k) {
    const int64_t t = reverse ? o.steps - 1 - k : k;
    const std::string s = absl::StrCat(scope, "/t", t);
    State next = Step(w, o.cell, s, xp[t], state, wt);
    if (masks.empty()) {
      result.step_outputs[t] = next.h;
      state = next;
      continue;
    }
    // Padded steps (mask 0) keep the state and output zeros.
    result.step_outputs[t] = w.OpAt(s, "h_out", "Mul", {masks[t], next.h});
    State kept{Blend(w, s, masks[t], state.h, next.h, "h_kept"), ""};
    if (!next.c.empty()) {
      kept.c = Blend(w, s, masks[t], state.c, next.c, "c_kept");
    }
    state = kept;
  }
  result.final_state = state;
  return result;
}

// The width of a layer's per-step output.
int64_t OutputSize(const RecurrentLayerOptions& o) {
  const bool concat = o.bidirectional && o.merge == RecurrentMerge::kConcat;
  return concat ? 2 * o.hidden_size : o.hidden_size;
}

// The per-step output of step t: the forward one, or both merged.
std::string MergeStep(NodeWriter& w, const RecurrentLayerOptions& o, int64_t t,
                      const std::string& fwd, const std::string& bwd) {
  const std::string s = absl::StrCat(o.prefix, "/t", t);
  if (o.merge == RecurrentMerge::kSum) {
    return w.OpAt(s, "merged", "Add", {fwd, bwd});
  }
  Node* node;
  std::string out = w.OpAt(s, "merged", "Concat", {fwd, bwd}, &node);
  (*node->mutable_attr())["axis"].set_i(1);
  return out;
}

// Appends one (possibly bidirectional) layer to `w`; options are checked.
absl::StatusOr<RecurrentLayer> BuildLayer(NodeWriter& w,
                                          const std::string& input,
                                          const RecurrentLayerOptions& o) {
  RecurrentLayer layer;
  std::mt19937_64 rng(o.seed);
  std::string flat = FlatInput(w, o, input);
  std::vector<std::string> masks = StepMasks(w, o);
  const std::string zeros =
      o.initial_state == InitialState::kZeros ? ZeroState(w, o, input) : "";
  ASSIGN_OR_RETURN(DirectionResult fwd, BuildDirection(w, o, flat, masks, zeros,
                                                       false, rng, &layer));
  layer.final_h = fwd.final_state.h;
  layer.final_c = fwd.final_state.c;
  layer.step_outputs = fwd.step_outputs;
  if (o.bidirectional) {
    ASSIGN_OR_RETURN(
        DirectionResult bwd,
        BuildDirection(w, o, flat, masks, zeros, true, rng, &layer));
    layer.final_h_reverse = bwd.final_state.h;
    layer.final_c_reverse = bwd.final_state.c;
    for (int64_t t = 0; t < o.steps; ++t) {
      layer.step_outputs[t] =
          MergeStep(w, o, t, fwd.step_outputs[t], bwd.step_outputs[t]);
    }
  }
  // Each step's output as [1, B, F], joined along the steps: a static size
  // of 1 per part lets the Concat gradient split dy back with a symbolic
  // batch.
  std::vector<std::string> parts;
  for (int64_t t = 0; t < o.steps; ++t) {
    Node* node;
    parts.push_back(w.OpAt(absl::StrCat(o.prefix, "/t", t), "h_seq",
                           "ExpandDims", {layer.step_outputs[t]}, &node));
    (*node->mutable_attr())["axis"].set_i(0);
  }
  layer.output = w.OpAt(o.prefix, "output", "Concat", parts);
  return layer;
}

// Inverted dropout on x, training on; the Dropout op's output 0.
std::string AddDropout(NodeWriter& w, const std::string& prefix,
                       const std::string& x, double rate, uint64_t seed) {
  Node* node;
  std::string out = w.OpAt(prefix, "dropout", "Dropout", {x}, &node);
  (*node->mutable_attr())["rate"].set_f(rate);
  (*node->mutable_attr())["training"].set_b(true);
  (*node->mutable_attr())["seed"].set_i(static_cast<int64_t>(seed));
  return out + ":0";
}

}  // namespace

absl::StatusOr<RecurrentLayer> AddRecurrentLayer(const std::string& input,
                                                 const RecurrentLayerOptions& o,
                                                 Graph* graph) {
  RETURN_IF_ERROR(CheckOptions(input, o));
  NodeWriter w("recurrent layer", o.prefix);
  ASSIGN_OR_RETURN(RecurrentLayer layer, BuildLayer(w, input, o));
  RETURN_IF_ERROR(w.Commit(graph));
  return layer;
}

absl::StatusOr<RecurrentStack> AddRecurrentStack(const std::string& input,
                                                 const RecurrentStackOptions& s,
                                                 Graph* graph) {
  const RecurrentLayerOptions& base = s.layer;
  RETURN_IF_ERROR(CheckOptions(input, base));
  if (s.num_layers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("recurrent stack options: ", base.prefix, ": num_layers ",
                     s.num_layers, " < 1"));
  }
  if (!(s.dropout >= 0 && s.dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("recurrent stack options: ", base.prefix, ": dropout ",
                     s.dropout, " not in [0, 1)"));
  }
  NodeWriter w("recurrent layer", base.prefix);
  RecurrentStack stack;
  std::string x = input;
  for (int64_t k = 0; k < s.num_layers; ++k) {
    RecurrentLayerOptions o = base;
    o.prefix = absl::StrCat(base.prefix, "/l", k);
    o.seed = base.seed + k;
    if (k > 0) o.input_size = OutputSize(base);
    if (k > 0 && s.dropout > 0)
      x = AddDropout(w, o.prefix, x, s.dropout, o.seed);
    ASSIGN_OR_RETURN(RecurrentLayer layer, BuildLayer(w, x, o));
    x = layer.output;
    stack.layers.push_back(std::move(layer));
  }
  stack.output = x;
  RETURN_IF_ERROR(w.Commit(graph));
  return stack;
}

}  // namespace rill

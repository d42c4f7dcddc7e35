#include "models/rnn.h"

#include <cmath>
#include <map>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"
#include "graph/recurrent_step.h"
#include "graph/validate.h"

namespace rill {
namespace {

// The number of [B, H] states a layer starts from: h (and c) per direction.
size_t StateCount(const RecurrentLayerOptions& o) {
  return (o.cell == RecurrentCell::kLstm ? 2 : 1) * (o.bidirectional ? 2 : 1);
}

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
  if (o.reverse && o.bidirectional) {
    return bad(absl::StrCat(o.prefix,
                            ": reverse is for a unidirectional layer (a "
                            "bidirectional one runs both directions)"));
  }
  const size_t weights = 4 * (o.bidirectional ? 2 : 1);
  if (!o.weights.empty() && o.weights.size() != weights) {
    return bad(absl::StrCat(o.prefix, ": weights holds ", o.weights.size(),
                            " references, expected ", weights));
  }
  const size_t states = StateCount(o);
  if (o.initial_state == InitialState::kGiven &&
      o.initial_states.size() != states) {
    return bad(absl::StrCat(o.prefix, ": initial_states holds ",
                            o.initial_states.size(), " references, expected ",
                            states));
  }
  return absl::OkStatus();
}

// A Parameter node <prefix>/<name> holding a [rows, cols] (cols = 0: [rows])
// tensor drawn uniformly from [-k, k], k = 1/sqrt(H), as PyTorch
// initialises its RNNs.
std::string AddParameter(GraphBuilder& b, const RecurrentLayerOptions& o,
                         const std::string& name, int64_t rows, int64_t cols,
                         std::mt19937_64& rng) {
  const double k = 1.0 / std::sqrt(static_cast<double>(o.hidden_size));
  return b.Parameter(
      name, UniformTensor(o.dtype, cols > 0 ? Shape{rows, cols} : Shape{rows},
                          k, rng));
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

// from + z (to - from): (1 - z) from + z to, in three ops, the last named
// `name`.
std::string Blend(GraphBuilder& s, const std::string& z,
                  const std::string& from, const std::string& to,
                  const std::string& name) {
  std::string diff = s.Op(name + "_delta", "Sub", {to, from});
  std::string step = s.Op(name + "_step", "Mul", {z, diff});
  return s.Op(name, "Add", {from, step});
}

// One step of the cell as graph/recurrent_step.h writes it, in the step's
// scope `s` (<prefix>/t<k>); the same ops the fusion pass recognises.
State Step(GraphBuilder& s, RecurrentCell cell, const std::string& xp,
           const State& prev, const Weights& wt) {
  const std::map<std::string, std::string> vars = {
      {"$xp", xp},           {"$h", prev.h},
      {"$c", prev.c},        {"$w_hh", wt.weight_hh},
      {"$b_hh", wt.bias_hh}, {"$w_hrz", wt.w_hrz},
      {"$b_hrz", wt.b_hrz},  {"$w_hn", wt.w_hn},
      {"$b_hn", wt.b_hn}};
  State next;
  for (const StepOp& op : RecurrentStepOps(cell)) {
    std::vector<std::string> inputs;
    for (const std::string& in : op.inputs) {
      inputs.push_back(IsStepVariable(in) ? vars.at(in)
                                          : absl::StrCat(s.prefix(), "/", in));
    }
    GraphBuilder::NodeRef node = s.Op(op.name, op.op, inputs);
    for (const auto& [key, value] : op.attrs) {
      (*node.node()->mutable_attr())[key] = value;
    }
    if (op.name == "h") next.h = node;
    if (op.name == "c") next.c = node;
  }
  return next;
}

// Splits the seed GRU's recurrent weights and bias into rows [0, 2H) (r, z)
// and [2H, 3H) (n), once, outside the steps.
void SplitSeedGruWeights(GraphBuilder& b, const std::string& suffix, int64_t h,
                         Weights* wt) {
  auto split = [&](const std::string& name, const std::string& x,
                   std::string* rz, std::string* n) {
    GraphBuilder::NodeRef s = b.Op(name, "Split", {x})
                                  .AttrInt("num_splits", 2)
                                  .AttrInts("sizes", {2 * h, h});
    *rz = s.Output(0);
    *n = s.Output(1);
  };
  split("weight_hh_split" + suffix, wt->weight_hh, &wt->w_hrz, &wt->w_hn);
  split("bias_hh_split" + suffix, wt->bias_hh, &wt->b_hrz, &wt->b_hn);
}

// The zero initial state [B, H], shared by both directions (and by the
// fused layer that graph/fuse_recurrent.h makes): a [B, 1] zero column cut from
// x [T, B, I] plus a zero row [H], so that it depends on x's shape alone (a
// symbolic batch needs no feed, and the fused graph does not keep the unrolled
// input projection alive).
std::string ZeroState(GraphBuilder& b, const RecurrentLayerOptions& o,
                      const std::string& input) {
  std::string corner = b.Op("h0_corner", "Slice", {input})
                           .AttrInts("start", {0, 0})
                           .AttrInts("end", {1, 1})
                           .AttrInts("axes", {0, 2});
  std::string column =
      b.Op("h0_column", "Squeeze", {corner}).AttrInts("axes", {0});
  std::string zero_column = b.Op("h0_zeros", "ZerosLike", {column});
  std::string zero_row = b.Const(
      "h0_row",
      FilledTensor(o.dtype, Shape{o.hidden_size}, [](int64_t) { return 0.0; }));
  // [B, 1] + [H] broadcasts to [B, H].
  return b.Op("h0", "Add", {zero_column, zero_row});
}

// The initial state of the layer's direction `slot` (0, or 1 for a
// bidirectional layer's reverse one): Input nodes, or `zeros` (ZeroState).
State InitialStates(GraphBuilder& b, const RecurrentLayerOptions& o,
                    size_t slot, const std::string& suffix,
                    const std::string& zeros, RecurrentLayer* layer) {
  const bool lstm = o.cell == RecurrentCell::kLstm;
  if (o.initial_state == InitialState::kZeros) {
    return {zeros, lstm ? zeros : ""};
  }
  if (o.initial_state == InitialState::kGiven) {
    const size_t first = slot * (lstm ? 2 : 1);
    return {o.initial_states[first], lstm ? o.initial_states[first + 1] : ""};
  }
  State st;
  st.h = b.Input("h0" + suffix, o.dtype, {-1, o.hidden_size});
  layer->state_inputs.push_back(st.h);
  if (lstm) {
    st.c = b.Input("c0" + suffix, o.dtype, {-1, o.hidden_size});
    layer->state_inputs.push_back(st.c);
  }
  return st;
}

// The per-step 0/1 masks [B, 1] of a variable-length batch: PaddingMask of
// the lengths against a [T] shape, split into its T columns.
std::vector<std::string> StepMasks(GraphBuilder& b,
                                   const RecurrentLayerOptions& o) {
  if (o.sequence_lengths.empty()) return {};
  std::string like =
      b.Const("steps_like", Tensor::Allocate(o.dtype, Shape{o.steps}));
  std::string mask =
      b.Op("step_mask", "PaddingMask", {o.sequence_lengths, like})
          .AttrBool("additive", false);
  return b.Split("step_masks", mask, o.steps, /*axis=*/1);
}

// One direction's steps, forward (t = 0..T-1) or reverse (T-1..0), the
// layer's direction `slot` (0, or 1 for a bidirectional layer's reverse).
struct DirectionResult {
  std::vector<std::string> step_outputs;  // indexed by t
  State final_state;
};

DirectionResult BuildDirection(GraphBuilder& b, const RecurrentLayerOptions& o,
                               const std::string& flat,
                               const std::vector<std::string>& masks,
                               const std::string& zeros, bool reverse,
                               size_t slot, std::mt19937_64& rng,
                               RecurrentLayer* layer) {
  const std::string suffix = reverse ? "_reverse" : "";
  const int64_t gh = GateCount(o.cell) * o.hidden_size;
  Weights wt;
  std::string weight_ih, bias_ih;
  if (o.weights.empty()) {
    weight_ih = AddParameter(b, o, "weight_ih" + suffix, gh, o.input_size, rng);
    wt.weight_hh =
        AddParameter(b, o, "weight_hh" + suffix, gh, o.hidden_size, rng);
    bias_ih = AddParameter(b, o, "bias_ih" + suffix, gh, 0, rng);
    wt.bias_hh = AddParameter(b, o, "bias_hh" + suffix, gh, 0, rng);
  } else {
    weight_ih = o.weights[4 * slot];
    wt.weight_hh = o.weights[4 * slot + 1];
    bias_ih = o.weights[4 * slot + 2];
    wt.bias_hh = o.weights[4 * slot + 3];
  }
  for (const std::string& p : {weight_ih, wt.weight_hh, bias_ih, wt.bias_hh}) {
    layer->parameters.push_back(p);
  }
  if (o.cell == RecurrentCell::kGru) {
    SplitSeedGruWeights(b, suffix, o.hidden_size, &wt);
  }
  // flat [T*B, I] . weight_ih^T + bias_ih: T*B rows in step-major order, so
  // T equal parts are the steps' [B, G*H].
  std::vector<std::string> xp =
      b.Split("x_proj_steps" + suffix,
              b.Linear("x_proj" + suffix, flat, weight_ih, bias_ih), o.steps);
  DirectionResult result;
  result.step_outputs.resize(o.steps);
  State state = InitialStates(b, o, slot, suffix, zeros, layer);
  const GraphBuilder steps = reverse ? b.Scope("reverse") : b;
  for (int64_t k = 0; k < o.steps; ++k) {
    const int64_t t = reverse ? o.steps - 1 - k : k;
    GraphBuilder s = steps.Scope(absl::StrCat("t", t));
    State next = Step(s, o.cell, xp[t], state, wt);
    if (masks.empty()) {
      result.step_outputs[t] = next.h;
      state = next;
      continue;
    }
    // Padded steps (mask 0) keep the state and output zeros.
    result.step_outputs[t] = s.Op("h_out", "Mul", {masks[t], next.h});
    State kept{Blend(s, masks[t], state.h, next.h, "h_kept"), ""};
    if (!next.c.empty()) {
      kept.c = Blend(s, masks[t], state.c, next.c, "c_kept");
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
std::string MergeStep(GraphBuilder& s, const RecurrentLayerOptions& o,
                      const std::string& fwd, const std::string& bwd) {
  if (o.merge == RecurrentMerge::kSum) return s.Op("merged", "Add", {fwd, bwd});
  return s.Op("merged", "Concat", {fwd, bwd}).AttrInt("axis", 1);
}

// Stages one (possibly bidirectional) layer in `b`, whose prefix is the
// layer's; options are checked.
RecurrentLayer BuildLayer(GraphBuilder& b, const std::string& input,
                          const RecurrentLayerOptions& o) {
  RecurrentLayer layer;
  std::mt19937_64 rng(o.seed);
  // x [T, B, I] -> [T*B, I], shared by both directions.
  std::string flat =
      b.Op("x_flat", "Reshape", {input}).AttrInts("shape", {-1, o.input_size});
  std::vector<std::string> masks = StepMasks(b, o);
  const std::string zeros =
      o.initial_state == InitialState::kZeros ? ZeroState(b, o, input) : "";
  DirectionResult fwd =
      BuildDirection(b, o, flat, masks, zeros, o.reverse, 0, rng, &layer);
  layer.final_h = fwd.final_state.h;
  layer.final_c = fwd.final_state.c;
  layer.step_outputs = fwd.step_outputs;
  if (o.bidirectional) {
    DirectionResult bwd =
        BuildDirection(b, o, flat, masks, zeros, true, 1, rng, &layer);
    layer.final_h_reverse = bwd.final_state.h;
    layer.final_c_reverse = bwd.final_state.c;
    for (int64_t t = 0; t < o.steps; ++t) {
      GraphBuilder s = b.Scope(absl::StrCat("t", t));
      layer.step_outputs[t] =
          MergeStep(s, o, fwd.step_outputs[t], bwd.step_outputs[t]);
    }
  }
  // Each step's output as [1, B, F], joined along the steps: a static size
  // of 1 per part lets the Concat gradient split dy back with a symbolic
  // batch.
  std::vector<std::string> parts;
  for (int64_t t = 0; t < o.steps; ++t) {
    parts.push_back(b.Scope(absl::StrCat("t", t))
                        .Op("h_seq", "ExpandDims", {layer.step_outputs[t]})
                        .AttrInt("axis", 0));
  }
  layer.output = b.Op("output", "Concat", parts);
  return layer;
}

}  // namespace

absl::StatusOr<RecurrentLayer> AddRecurrentLayer(const std::string& input,
                                                 const RecurrentLayerOptions& o,
                                                 Graph* graph) {
  RETURN_IF_ERROR(CheckOptions(input, o));
  GraphBuilder b("recurrent layer", o.prefix);
  RecurrentLayer layer = BuildLayer(b, input, o);
  RETURN_IF_ERROR(b.Commit(graph));
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
  if (s.initial_c.empty() !=
      (s.initial_h.empty() || base.cell != RecurrentCell::kLstm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("recurrent stack options: ", base.prefix,
                     ": initial_c goes with initial_h, and only for an LSTM"));
  }
  GraphBuilder b("recurrent layer", base.prefix);
  const int64_t dirs = base.bidirectional ? 2 : 1;
  std::vector<std::string> h0_parts, c0_parts;
  if (!s.initial_h.empty()) {
    h0_parts = b.Split("h0_split", s.initial_h, s.num_layers * dirs);
  }
  if (!s.initial_c.empty()) {
    c0_parts = b.Split("c0_split", s.initial_c, s.num_layers * dirs);
  }
  RecurrentStack stack;
  std::string x = input;
  for (int64_t k = 0; k < s.num_layers; ++k) {
    GraphBuilder lb = b.Scope(absl::StrCat("l", k));
    RecurrentLayerOptions o = base;
    o.prefix = lb.prefix();
    o.seed = base.seed + k;
    if (!h0_parts.empty()) {
      o.initial_state = InitialState::kGiven;
      o.initial_states.clear();
      // PyTorch's order: layer k's forward state is row k*D, its reverse
      // state row k*D + 1.
      for (int64_t d = 0; d < dirs; ++d) {
        const std::string suffix = d ? "_reverse" : "";
        const int64_t row = k * dirs + d;
        o.initial_states.push_back(
            lb.Op("h0" + suffix, "Squeeze", {h0_parts[row]})
                .AttrInts("axes", {0}));
        if (!c0_parts.empty()) {
          o.initial_states.push_back(
              lb.Op("c0" + suffix, "Squeeze", {c0_parts[row]})
                  .AttrInts("axes", {0}));
        }
      }
    }
    if (k > 0) o.input_size = OutputSize(base);
    if (k > 0 && s.dropout > 0) x = lb.Dropout("dropout", x, s.dropout, o.seed);
    RecurrentLayer layer = BuildLayer(lb, x, o);
    x = layer.output;
    stack.layers.push_back(std::move(layer));
  }
  stack.output = x;
  RETURN_IF_ERROR(b.Commit(graph));
  return stack;
}

}  // namespace rill

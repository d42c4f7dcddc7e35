#include "graph/fuse_recurrent.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tensor.h"
#include "core/tensor_proto.h"
#include "graph/recurrent_step.h"
#include "graph/validate.h"
#include "ops/op_def.h"
#include "ops/recurrent_cell.h"

namespace rill {
namespace {

// What a pattern's names stand for in the graph so far: variables
// ("$h") for tensors, pattern ops for nodes, and which node each is.
struct Binding {
  std::map<std::string, TensorRef> vars;
  std::map<std::string, int> ops;
  std::map<int, std::string> op_of_node;  // A node matches one op.
};

bool Less(const TensorRef& a, const TensorRef& b) {
  return std::tie(a.node, a.output) < std::tie(b.node, b.output);
}
struct RefLess {
  bool operator()(const TensorRef& a, const TensorRef& b) const {
    return Less(a, b);
  }
};

// A pattern input "op" or "op:k" split into the op's name and k.
std::pair<std::string, int> PatternRef(const std::string& ref) {
  const size_t colon = ref.find(':');
  if (colon == std::string::npos) return {ref, 0};
  return {ref.substr(0, colon), std::stoi(ref.substr(colon + 1))};
}

// Matches patterns (lists of StepOps, graph/recurrent_step.h) against a
// validated graph: the subgraph whose ops, attributes (defaults included)
// and edges are the pattern's, Add and Mul read in either order.
class Matcher {
 public:
  explicit Matcher(const ValidGraph& g) : g_(g) {
    for (int n = 0; n < g.num_nodes(); ++n) {
      for (const TensorRef& in : g.info(n).inputs) {
        std::vector<int>& readers = consumers_[in];
        if (readers.empty() || readers.back() != n) readers.push_back(n);
      }
    }
  }

  const ValidGraph& graph() const { return g_; }

  const std::vector<int>& Consumers(const TensorRef& t) const {
    static const std::vector<int> kNone;
    auto it = consumers_.find(t);
    return it == consumers_.end() ? kNone : it->second;
  }

  // Extends `b` to every op of `ops`; nullopt when the graph has no match,
  // or none within a budget of node comparisons: backtracking over many
  // near-duplicate nodes (a fuzzed graph) could otherwise take exponential
  // time, and a graph a builder or a person wrote needs a few per op.
  std::optional<Binding> Match(const std::vector<StepOp>& ops, Binding b) {
    budget_ = 64 * static_cast<int64_t>(ops.size());
    std::map<std::string, const StepOp*> by_name;
    for (const StepOp& op : ops) by_name[op.name] = &op;
    return Solve(ops, by_name, std::move(b));
  }

  // Binds ops[k] to `node`, and through its inputs the ops it reads.
  bool MatchAt(const std::vector<StepOp>& ops, size_t k, int node, Binding* b) {
    budget_ = 64 * static_cast<int64_t>(ops.size());
    std::map<std::string, const StepOp*> by_name;
    for (const StepOp& op : ops) by_name[op.name] = &op;
    return Unify(ops[k], node, by_name, b);
  }

 private:
  // Binds pattern op `op` to node `node` (and, through its inputs, the ops
  // and variables it reads).
  bool Unify(const StepOp& op, int node,
             const std::map<std::string, const StepOp*>& by_name, Binding* b) {
    auto bound = b->ops.find(op.name);
    if (bound != b->ops.end()) return bound->second == node;
    if (--budget_ < 0) return false;
    if (b->op_of_node.count(node)) return false;
    const Node& n = g_.node(node);
    const NodeInfo& info = g_.info(node);
    if (n.op() != op.op || info.inputs.size() != op.inputs.size()) {
      return false;
    }
    Node want;
    want.set_op(op.op);
    for (const auto& [key, value] : op.attrs)
      (*want.mutable_attr())[key] = value;
    if (Attrs(n, info.op->attrs()).Fingerprint() !=
        Attrs(want, info.op->attrs()).Fingerprint()) {
      return false;
    }
    b->ops[op.name] = node;
    b->op_of_node[node] = op.name;
    const bool commutes =
        (op.op == "Add" || op.op == "Mul") && op.inputs.size() == 2;
    for (bool swap : {false, true}) {
      if (swap && !commutes) break;
      Binding trial = *b;
      bool ok = true;
      for (size_t k = 0; ok && k < op.inputs.size(); ++k) {
        const TensorRef& in = info.inputs[swap ? 1 - k : k];
        ok = UnifyInput(op.inputs[k], in, by_name, &trial);
      }
      if (ok) {
        *b = std::move(trial);
        return true;
      }
    }
    return false;
  }

  bool UnifyInput(const std::string& ref, const TensorRef& in,
                  const std::map<std::string, const StepOp*>& by_name,
                  Binding* b) {
    if (IsStepVariable(ref)) {
      auto [it, fresh] = b->vars.emplace(ref, in);
      return fresh || it->second == in;
    }
    auto [name, output] = PatternRef(ref);
    auto op = by_name.find(name);
    return op != by_name.end() && in.output == output &&
           Unify(*op->second, in.node, by_name, b);
  }

  // The tensor a pattern input already stands for, if any.
  std::optional<TensorRef> Known(const std::string& ref,
                                 const Binding& b) const {
    if (IsStepVariable(ref)) {
      auto it = b.vars.find(ref);
      if (it == b.vars.end()) return std::nullopt;
      return it->second;
    }
    auto [name, output] = PatternRef(ref);
    auto it = b.ops.find(name);
    if (it == b.ops.end()) return std::nullopt;
    return TensorRef{it->second, output};
  }

  // Matches the first unmatched op that reads a known tensor among that
  // tensor's consumers, backtracking over them; then the rest.
  std::optional<Binding> Solve(
      const std::vector<StepOp>& ops,
      const std::map<std::string, const StepOp*>& by_name, Binding b) {
    for (const StepOp& op : ops) {
      if (b.ops.count(op.name)) continue;
      for (const std::string& in : op.inputs) {
        std::optional<TensorRef> known = Known(in, b);
        if (!known) continue;
        for (int node : Consumers(*known)) {
          Binding trial = b;
          if (!Unify(op, node, by_name, &trial)) continue;
          if (auto done = Solve(ops, by_name, std::move(trial))) return done;
        }
        return std::nullopt;
      }
    }
    for (const StepOp& op : ops) {
      if (!b.ops.count(op.name)) return std::nullopt;  // Not reachable.
    }
    return b;
  }

  const ValidGraph& g_;
  std::map<TensorRef, std::vector<int>, RefLess> consumers_;
  int64_t budget_ = 1 << 16;
};

// One recognised direction of a layer.
struct Direction {
  RecurrentCell cell;
  bool reverse = false;
  TensorRef x, h0, c0, w_ih, w_hh, b_ih, b_hh;  // c0: LSTM only.
  std::vector<TensorRef> steps;                 // h of step t, t = 0..T-1.
  TensorRef final_h, final_c;
  std::string scope;    // Where its fused nodes are named.
  std::set<int> nodes;  // The unrolled nodes it replaces.
};

const Shape& ShapeOf(const ValidGraph& g, const TensorRef& t) {
  return g.info(t.node).shapes[t.output];
}
DType DTypeOf(const ValidGraph& g, const TensorRef& t) {
  return g.info(t.node).dtypes[t.output];
}

// Whether RecurrentLayer takes the direction's tensors as they are: the
// unrolled ops would broadcast shapes that the op refuses, or meet a batch
// that the op would read differently.
bool FitsTheOp(const ValidGraph& g, const Direction& d, int64_t t) {
  const Shape& x = ShapeOf(g, d.x);
  const Shape& w_hh = ShapeOf(g, d.w_hh);
  if (x.rank() != 3 || w_hh.rank() != 2 || x.dim(0) != t) return false;
  const int64_t h = w_hh.dim(1), i = x.dim(2);
  const int64_t gh = GateCount(d.cell) * h;
  if (h < 1 || i < 1) return false;
  const DType dtype = DTypeOf(g, d.x);
  if (dtype != DType::kF32 && dtype != DType::kF64) return false;
  std::vector<std::pair<TensorRef, Shape>> want = {{d.w_ih, Shape{gh, i}},
                                                   {d.w_hh, Shape{gh, h}},
                                                   {d.b_ih, Shape{gh}},
                                                   {d.b_hh, Shape{gh}},
                                                   {d.h0, Shape{x.dim(1), h}}};
  if (d.cell == RecurrentCell::kLstm) {
    want.push_back({d.c0, Shape{x.dim(1), h}});
  }
  for (const auto& [ref, shape] : want) {
    if (ShapeOf(g, ref) != shape || DTypeOf(g, ref) != dtype) return false;
  }
  return true;
}

// The seed GRU's halves of weight_hh (or bias_hh): outputs 0 and 1 of one
// Split with sizes {2H, H} on axis 0. Returns the whole.
std::optional<TensorRef> SplitSource(const ValidGraph& g, const TensorRef& rz,
                                     const TensorRef& n) {
  if (rz.node != n.node || rz.output != 0 || n.output != 1) return std::nullopt;
  const Node& split = g.node(rz.node);
  if (split.op() != "Split") return std::nullopt;
  const TensorRef whole = g.info(rz.node).inputs[0];
  const Shape& s = ShapeOf(g, whole);
  if (s.rank() < 1 || s.dim(0) % 3 != 0) return std::nullopt;
  const int64_t h = s.dim(0) / 3;
  Attrs a(split, g.info(rz.node).op->attrs());
  if (a.GetInt("axis") != 0 || a.GetInt("num_splits") != 2 ||
      a.GetIntList("sizes") != std::vector<int64_t>{2 * h, h}) {
    return std::nullopt;
  }
  return whole;
}

// The input projection ending in Split node `split`: x reshaped to [-1, I],
// times weight_ih^T, plus bias_ih, split into T steps. Fills x, w_ih, b_ih.
std::optional<Binding> MatchProjection(Matcher& m, int split, int64_t t,
                                       Direction* d) {
  const ValidGraph& g = m.graph();
  const std::vector<StepOp> projection = {
      {"x_proj_mm",
       "MatMul",
       {"$flat", "$w_ih"},
       {{"transpose_b", BoolAttr(true)}}},
      {"x_proj", "Add", {"x_proj_mm", "$b_ih"}, {}},
      {"x_proj_steps", "Split", {"x_proj"}, {{"num_splits", IntAttr(t)}}}};
  Binding b;
  if (!m.MatchAt(projection, 2, split, &b)) return std::nullopt;
  const TensorRef flat = b.vars["$flat"];
  const Node& reshape = g.node(flat.node);
  if (reshape.op() != "Reshape" || flat.output != 0) return std::nullopt;
  d->x = g.info(flat.node).inputs[0];
  const Shape& x = ShapeOf(g, d->x);
  Attrs a(reshape, g.info(flat.node).op->attrs());
  if (x.rank() != 3 ||
      a.GetIntList("shape") != std::vector<int64_t>{-1, x.dim(2)}) {
    return std::nullopt;
  }
  d->w_ih = b.vars["$w_ih"];
  d->b_ih = b.vars["$b_ih"];
  d->nodes.insert(flat.node);
  for (const auto& [name, node] : b.ops) d->nodes.insert(node);
  return b;
}

// The T steps of `cell` over the projection's parts, in one direction.
bool MatchSteps(Matcher& m, int split, int64_t t, RecurrentCell cell,
                bool reverse, Direction* d) {
  const std::vector<StepOp>& ops = RecurrentStepOps(cell);
  const bool lstm = cell == RecurrentCell::kLstm;
  Binding carried;  // The weights, then the state, from step to step.
  d->steps.assign(t, TensorRef{});
  for (int64_t k = 0; k < t; ++k) {
    const int64_t step = reverse ? t - 1 - k : k;
    Binding b;
    b.vars = carried.vars;
    b.vars["$xp"] = TensorRef{split, static_cast<int>(step)};
    std::optional<Binding> got = m.Match(ops, std::move(b));
    if (!got) return false;
    if (k == 0) {
      d->h0 = got->vars["$h"];
      if (lstm) d->c0 = got->vars["$c"];
    }
    for (const auto& [name, node] : got->ops) d->nodes.insert(node);
    carried.vars = got->vars;
    carried.vars["$h"] = TensorRef{got->ops["h"], 0};
    if (lstm) carried.vars["$c"] = TensorRef{got->ops["c"], 0};
    d->steps[step] = carried.vars["$h"];
  }
  d->final_h = carried.vars["$h"];
  if (lstm) d->final_c = carried.vars["$c"];
  if (cell == RecurrentCell::kGru) {
    const ValidGraph& g = m.graph();
    auto w = SplitSource(g, carried.vars["$w_hrz"], carried.vars["$w_hn"]);
    auto bias = SplitSource(g, carried.vars["$b_hrz"], carried.vars["$b_hn"]);
    if (!w || !bias) return false;
    d->w_hh = *w;
    d->b_hh = *bias;
  } else {
    d->w_hh = carried.vars["$w_hh"];
    d->b_hh = carried.vars["$b_hh"];
  }
  d->cell = cell;
  d->reverse = reverse;
  return true;
}

// The direction whose input projection ends in `split`, if there is one.
std::optional<Direction> MatchDirection(Matcher& m, int split) {
  const ValidGraph& g = m.graph();
  if (g.node(split).op() != "Split") return std::nullopt;
  Attrs a(g.node(split), g.info(split).op->attrs());
  const int64_t t = a.GetInt("num_splits");
  if (a.GetInt("axis") != 0 || !a.GetIntList("sizes").empty()) {
    return std::nullopt;
  }
  Direction base;
  if (!MatchProjection(m, split, t, &base)) return std::nullopt;
  const std::string& name = g.node(split).name();
  const size_t slash = name.rfind('/');
  base.scope = slash == std::string::npos ? name : name.substr(0, slash);
  for (RecurrentCell cell :
       {RecurrentCell::kLstm, RecurrentCell::kGruPyTorch, RecurrentCell::kGru,
        RecurrentCell::kRnnTanh, RecurrentCell::kRnnRelu}) {
    // With one step, both directions are the same recurrence.
    for (bool reverse : {false, true}) {
      if (reverse && t == 1) continue;
      Direction d = base;
      if (MatchSteps(m, split, t, cell, reverse, &d) && FitsTheOp(g, d, t)) {
        return d;
      }
    }
  }
  return std::nullopt;
}

enum class Merge { kNone, kConcat, kSum };

// One layer: a direction, or two merged per step.
struct Layer {
  std::vector<Direction> directions;
  Merge merge = Merge::kNone;
  std::vector<TensorRef> merged;  // Per step, with two directions.
  std::optional<TensorRef> sequence;
  std::set<int> nodes;
};

// The node merging f and r (in this order), as `merge`, if there is one.
std::optional<int> MergeNode(const Matcher& m, const TensorRef& f,
                             const TensorRef& r, Merge merge) {
  const ValidGraph& g = m.graph();
  for (int n : m.Consumers(f)) {
    const std::vector<TensorRef>& in = g.info(n).inputs;
    if (in.size() != 2) continue;
    const std::string& op = g.node(n).op();
    if (merge == Merge::kConcat && op == "Concat" && in[0] == f && in[1] == r &&
        Attrs(g.node(n), g.info(n).op->attrs()).GetInt("axis") == 1) {
      return n;
    }
    if (merge == Merge::kSum && op == "Add" &&
        ((in[0] == f && in[1] == r) || (in[0] == r && in[1] == f))) {
      return n;
    }
  }
  return std::nullopt;
}

// Pairs `f` with a reverse direction over the same x merged at every step.
bool Pair(const Matcher& m, const Direction& f, const Direction& r,
          Layer* layer) {
  const int64_t t = static_cast<int64_t>(f.steps.size());
  if (f.reverse || !(r.reverse || t == 1) || !(f.x == r.x) ||
      static_cast<int64_t>(r.steps.size()) != t) {
    return false;
  }
  for (Merge merge : {Merge::kConcat, Merge::kSum}) {
    std::vector<TensorRef> merged;
    for (int64_t s = 0; s < t; ++s) {
      std::optional<int> n = MergeNode(m, f.steps[s], r.steps[s], merge);
      if (!n) break;
      merged.push_back(TensorRef{*n, 0});
    }
    if (static_cast<int64_t>(merged.size()) != t) continue;
    layer->merge = merge;
    layer->merged = merged;
    return true;
  }
  return false;
}

// The Concat (axis 0) of every step's output ExpandDims'd on axis 0.
std::optional<TensorRef> Sequence(const Matcher& m,
                                  const std::vector<TensorRef>& steps,
                                  std::set<int>* nodes) {
  const ValidGraph& g = m.graph();
  auto axis = [&](int n) {
    return Attrs(g.node(n), g.info(n).op->attrs()).GetInt("axis");
  };
  auto expanded = [&](int n, const TensorRef& step) {
    return g.node(n).op() == "ExpandDims" && g.info(n).inputs[0] == step &&
           axis(n) == 0;
  };
  for (int e : m.Consumers(steps[0])) {
    if (!expanded(e, steps[0])) continue;
    for (int c : m.Consumers(TensorRef{e, 0})) {
      const std::vector<TensorRef>& in = g.info(c).inputs;
      if (g.node(c).op() != "Concat" || axis(c) != 0 ||
          in.size() != steps.size()) {
        continue;
      }
      bool all = true;
      for (size_t s = 0; all && s < steps.size(); ++s) {
        all = in[s].output == 0 && expanded(in[s].node, steps[s]);
      }
      if (!all) continue;
      for (const TensorRef& part : in) nodes->insert(part.node);
      nodes->insert(c);
      return TensorRef{c, 0};
    }
  }
  return std::nullopt;
}

// Every recognised layer, in the order of their projections.
std::vector<Layer> FindLayers(Matcher& m) {
  const ValidGraph& g = m.graph();
  std::vector<Direction> found;
  for (int n = 0; n < g.num_nodes(); ++n) {
    if (auto d = MatchDirection(m, n)) found.push_back(*std::move(d));
  }
  std::vector<bool> used(found.size(), false);
  std::vector<Layer> layers;
  for (size_t i = 0; i < found.size(); ++i) {
    if (used[i]) continue;
    Layer layer;
    layer.directions.push_back(found[i]);
    for (size_t j = i + 1; j < found.size(); ++j) {
      if (!used[j] && Pair(m, found[i], found[j], &layer)) {
        layer.directions.push_back(found[j]);
        used[j] = true;
        break;
      }
    }
    used[i] = true;
    for (const Direction& d : layer.directions) {
      layer.nodes.insert(d.nodes.begin(), d.nodes.end());
    }
    for (const TensorRef& t : layer.merged) layer.nodes.insert(t.node);
    layer.sequence = Sequence(
        m, layer.merged.empty() ? found[i].steps : layer.merged, &layer.nodes);
    layers.push_back(std::move(layer));
  }
  return layers;
}

// Writes one layer's fused nodes and rewires the readers of its unrolled
// results to them.
class LayerRewriter {
 public:
  // `replaced` collects, across layers, each unrolled tensor's
  // replacement, for the new nodes' own inputs (a layer reading another's
  // output).
  LayerRewriter(const ValidGraph& g, const Matcher& m, const Layer& layer,
                std::set<std::string>* names,
                std::map<std::string, std::string>* replaced, Graph* out)
      : g_(g),
        m_(m),
        layer_(layer),
        names_(names),
        replaced_(replaced),
        out_(out) {}

  // The new nodes (empty when nothing reads the layer's results).
  std::vector<Node> Rewrite() {
    const Direction& f = layer_.directions[0];
    const bool two = layer_.directions.size() == 2;
    std::vector<std::string> fused;
    for (const Direction& d : layer_.directions) {
      fused.push_back(
          FusedNode(d, f.scope + (&d == &f ? "/fused" : "/fused_reverse")));
    }
    std::string sequence = fused[0] + ":0";
    if (two) {
      Node merged;
      merged.set_name(Unique(f.scope + "/fused_merged"));
      merged.set_op(layer_.merge == Merge::kSum ? "Add" : "Concat");
      merged.add_input(fused[0] + ":0");
      merged.add_input(fused[1] + ":0");
      if (layer_.merge == Merge::kConcat) {
        (*merged.mutable_attr())["axis"] = IntAttr(2);
      }
      sequence = merged.name();
      nodes_.push_back(std::move(merged));
    }
    for (size_t k = 0; k < layer_.directions.size(); ++k) {
      const Direction& d = layer_.directions[k];
      Replace(d.final_h, fused[k] + ":1");
      if (d.cell == RecurrentCell::kLstm) Replace(d.final_c, fused[k] + ":2");
    }
    if (layer_.sequence) Replace(*layer_.sequence, sequence);
    const std::vector<TensorRef>& steps = two ? layer_.merged : f.steps;
    for (size_t s = 0; s < steps.size(); ++s) {
      ReplaceStep(steps[s], sequence, f.scope + "/fused_step", s);
    }
    if (two) {
      for (size_t k = 0; k < 2; ++k) {
        const Direction& d = layer_.directions[k];
        for (size_t s = 0; s < d.steps.size(); ++s) {
          ReplaceStep(d.steps[s], fused[k] + ":0", fused[k] + "_step", s);
        }
      }
    }
    if (!rewired_) return {};
    return std::move(nodes_);
  }

 private:
  std::string Unique(const std::string& name) {
    std::string unique = name;
    for (int k = 1; names_->count(unique); ++k) {
      unique = absl::StrCat(name, "_", k);
    }
    names_->insert(unique);
    return unique;
  }

  std::string FusedNode(const Direction& d, const std::string& name) {
    Node n;
    n.set_name(Unique(name));
    n.set_op("RecurrentLayer");
    for (const TensorRef& in : {d.x, d.h0, d.w_ih, d.w_hh, d.b_ih, d.b_hh}) {
      n.add_input(g_.RefName(in));
    }
    if (d.cell == RecurrentCell::kLstm) n.add_input(g_.RefName(d.c0));
    (*n.mutable_attr())["cell"] = StringAttr(RecurrentCellName(d.cell));
    if (d.reverse) (*n.mutable_attr())["reverse"] = BoolAttr(true);
    nodes_.push_back(std::move(n));
    return nodes_.back().name();
  }

  // Whether a node outside the layer, or a graph output, reads `t`.
  bool Read(const TensorRef& t) const {
    for (int n : m_.Consumers(t)) {
      if (!layer_.nodes.count(n)) return true;
    }
    const std::vector<TensorRef>& outputs = g_.outputs();
    return std::find(outputs.begin(), outputs.end(), t) != outputs.end();
  }

  void Replace(const TensorRef& t, const std::string& with) {
    if (!Read(t)) return;
    (*replaced_)[g_.RefName(t)] = with;
    for (int n : m_.Consumers(t)) {
      if (layer_.nodes.count(n)) continue;
      const std::vector<TensorRef>& in = g_.info(n).inputs;
      Node* node = out_->mutable_node(n);
      for (size_t k = 0; k < in.size(); ++k) {
        if (in[k] == t) node->set_input(static_cast<int>(k), with);
      }
    }
    const std::vector<TensorRef>& outputs = g_.outputs();
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (outputs[k] == t) out_->set_output(static_cast<int>(k), with);
    }
    rewired_ = true;
  }

  // Step s's output, if still read, as Gather(sequence, s). The last
  // step of a direction is its final state, already replaced.
  void ReplaceStep(const TensorRef& step, const std::string& sequence,
                   const std::string& name, size_t s) {
    if (!Read(step)) return;
    for (const Direction& d : layer_.directions) {
      if (step == d.final_h) return;
    }
    Tensor index = *Tensor::Allocate(DType::kI64, Shape());
    *index.data<int64_t>() = static_cast<int64_t>(s);
    Node at;
    at.set_name(Unique(absl::StrCat(name, s, "_index")));
    at.set_op("Const");
    *(*at.mutable_attr())["value"].mutable_tensor() = TensorToProto(index);
    Node gather;
    gather.set_name(Unique(absl::StrCat(name, s)));
    gather.set_op("Gather");
    gather.add_input(sequence);
    gather.add_input(at.name());
    const std::string with = gather.name();
    nodes_.push_back(std::move(at));
    nodes_.push_back(std::move(gather));
    Replace(step, with);
  }

  const ValidGraph& g_;
  const Matcher& m_;
  const Layer& layer_;
  std::set<std::string>* names_;
  std::map<std::string, std::string>* replaced_;
  Graph* out_;
  std::vector<Node> nodes_;
  bool rewired_ = false;
};

}  // namespace

absl::StatusOr<int> FuseRecurrentLayers(Graph* graph) {
  absl::StatusOr<ValidGraph> valid = ValidateGraph(LoadedGraph{*graph, {}});
  if (!valid.ok()) return 0;
  const ValidGraph& g = *valid;
  Matcher m(g);
  std::vector<Layer> layers = FindLayers(m);
  if (layers.empty()) return 0;
  std::set<std::string> names;
  for (const Node& n : graph->node()) names.insert(n.name());
  Graph out = *graph;
  // Each layer's fused nodes go right after its last unrolled node, where
  // a builder would have written them.
  std::map<int, std::vector<Node>> after;
  std::map<std::string, std::string> replaced;
  int fused = 0;
  for (const Layer& layer : layers) {
    std::vector<Node> nodes =
        LayerRewriter(g, m, layer, &names, &replaced, &out).Rewrite();
    if (nodes.empty()) continue;
    ++fused;
    std::vector<Node>& at = after[*layer.nodes.rbegin()];
    for (Node& n : nodes) at.push_back(std::move(n));
  }
  if (fused == 0) return 0;
  for (auto& [position, nodes] : after) {
    for (Node& n : nodes) {
      for (std::string& in : *n.mutable_input()) {
        auto it = replaced.find(in);
        if (it != replaced.end()) in = it->second;
      }
    }
  }
  google::protobuf::RepeatedPtrField<Node> ordered;
  for (int n = 0; n < out.node_size(); ++n) {
    *ordered.Add() = std::move(*out.mutable_node(n));
    auto it = after.find(n);
    if (it == after.end()) continue;
    for (Node& node : it->second) *ordered.Add() = std::move(node);
  }
  out.mutable_node()->Swap(&ordered);
  *graph = std::move(out);
  return fused;
}

}  // namespace rill

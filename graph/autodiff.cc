#include "graph/autodiff.h"

#include <deque>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "ops/gradient.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// What validation derives about an emitted node (forward nodes keep theirs
// in the ValidGraph), with inputs numbered in the pass's id space.
struct NodeMeta {
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  const OpDef* op = nullptr;
  std::vector<TensorRef> inputs;  // Forward nodes by index, then emitted.
};

// "h:1" -> "h_1", so that a tensor reference can prefix a node name.
std::string RefAsName(const std::string& ref) {
  return absl::StrReplaceAll(ref, {{":", "_"}});
}

bool IsScalarLike(const Shape& s) {
  return s.IsFullyDefined() && *s.NumElements() == 1;
}

class Pass {
 public:
  // `owned`, when given, is `forward` itself, which the pass may take apart
  // once it is done reading it.
  Pass(const ValidGraph& forward, const GradientRequest& request,
       ValidGraph* owned = nullptr)
      : fwd_(forward), req_(request), owned_(owned) {}

  absl::StatusOr<GradientGraph> Run();

  // Adds a node named `base` (or `base_<k>` when that is taken) and checks
  // it as the validator would; returns its name.
  absl::StatusOr<std::string> EmitNode(
      const std::string& base, const std::string& op,
      const std::vector<std::string>& inputs,
      const std::map<std::string, AttrValue>& attrs);
  // The node that `ref` names (forward nodes first, then emitted ones, by
  // id), its outputs' dtypes and shapes, and the output index.
  struct Found {
    int id;
    const std::vector<DType>* dtypes;
    const std::vector<Shape>* shapes;
    int output;
  };
  absl::StatusOr<Found> Lookup(absl::string_view ref) const;
  const ValidGraph& forward() const { return fwd_; }

 private:
  absl::Status ResolveRequest();
  void MarkPaths();
  bool NeedsGrad(int node, int input) const;
  absl::StatusOr<std::string> SeedFor(const TensorRef& loss);
  // The sum of the gradients that reached output k of `node` ("" if none).
  absl::StatusOr<std::string> Accumulate(int node, int k);
  absl::Status Backprop(int node);
  absl::StatusOr<std::string> GradientOf(const TensorRef& wrt);
  absl::StatusOr<GradientGraph> Finish();

  std::string UniqueName(const std::string& base);
  // The graph's file, for errors that concern no node.
  std::string Where() const {
    return fwd_.source().file().empty() ? "graph" : fwd_.source().file();
  }
  std::string Name(const TensorRef& t) const { return fwd_.RefName(t); }

  const ValidGraph& fwd_;
  const GradientRequest& req_;
  ValidGraph* owned_;
  std::vector<TensorRef> losses_, wrt_;
  std::vector<char> active_, reaches_;
  // Per forward tensor (indexed from first_output_[node]): the gradients
  // that reached it, then (once summed) their sum.
  std::vector<int> first_output_;
  std::vector<std::vector<std::string>> contrib_;
  std::vector<std::optional<std::string>> summed_;

  std::vector<Node> emitted_;
  std::deque<NodeMeta> meta_;                  // Of emitted_, in order.
  absl::flat_hash_map<std::string, int> ids_;  // Emitted names -> id.
  absl::flat_hash_map<std::string, int> next_suffix_;
  GradientGraph result_;
};

// The context one gradient builder runs in.
class NodeGradContext : public GradContext {
 public:
  NodeGradContext(Pass& pass, int node, std::vector<std::string> output_grads,
                  std::vector<bool> needs)
      : pass_(pass),
        node_(pass.forward().node(node)),
        info_(pass.forward().info(node)),
        attrs_(node_, info_.op->attrs()),
        output_grads_(std::move(output_grads)),
        needs_(std::move(needs)),
        input_grads_(node_.input_size()) {}

  const Node& node() const override { return node_; }
  const Attrs& attrs() const override { return attrs_; }
  int num_outputs() const override {
    return static_cast<int>(info_.dtypes.size());
  }
  const std::string& output_grad(int i) const override {
    return output_grads_[i];
  }
  bool needs_input_grad(int i) const override { return needs_[i]; }

  void SetInputGrad(int i, const std::string& grad) override {
    if (!status_.ok()) return;
    auto found = pass_.Lookup(grad);
    if (!found.ok()) return Fail(std::string(found.status().message()));
    DType dtype = (*found->dtypes)[found->output];
    const Shape& shape = (*found->shapes)[found->output];
    const TensorRef& in = info_.inputs[i];
    DType want_dtype = pass_.forward().info(in.node).dtypes[in.output];
    const Shape& want = pass_.forward().info(in.node).shapes[in.output];
    if (dtype != want_dtype || !ShapesCompatible(shape, want)) {
      return Fail(absl::StrCat("the gradient of input ", i, " ('", grad,
                               "') is ", DTypeName(dtype), shape.ToString(),
                               " but the input is ", DTypeName(want_dtype),
                               want.ToString()));
    }
    input_grads_[i] = grad;
  }

  DType dtype_of(const std::string& ref) const override {
    auto found = pass_.Lookup(ref);
    return found.ok() ? (*found->dtypes)[found->output] : DType::kF32;
  }
  const Shape& shape_of(const std::string& ref) const override {
    static const Shape* const kUnknown = new Shape();
    auto found = pass_.Lookup(ref);
    return found.ok() ? (*found->shapes)[found->output] : *kUnknown;
  }

  std::string Emit(const std::string& op,
                   const std::vector<std::string>& inputs,
                   const std::map<std::string, AttrValue>& attrs) override {
    if (!status_.ok()) return "";
    absl::StatusOr<std::string> name = pass_.EmitNode(
        absl::StrCat(node_.name(), "/grad/", op), op, inputs, attrs);
    if (!name.ok()) {
      Fail(std::string(name.status().message()));
      return "";
    }
    return *name;
  }
  void Fail(const std::string& message) override {
    if (status_.ok()) status_ = absl::InternalError(message);
  }

  const absl::Status& status() const { return status_; }
  const std::vector<std::string>& input_grads() const { return input_grads_; }

 private:
  Pass& pass_;
  const Node& node_;
  const NodeInfo& info_;
  Attrs attrs_;
  std::vector<std::string> output_grads_;
  std::vector<bool> needs_;
  std::vector<std::string> input_grads_;
  absl::Status status_;
};

std::string Pass::UniqueName(const std::string& base) {
  auto taken = [&](const std::string& name) {
    return fwd_.FindNode(name) >= 0 || ids_.count(name) != 0;
  };
  if (!taken(base)) return base;
  int& k = next_suffix_[base];
  std::string name;
  do {
    name = absl::StrCat(base, "_", ++k);
  } while (taken(name));
  return name;
}

absl::StatusOr<Pass::Found> Pass::Lookup(absl::string_view ref) const {
  absl::string_view name;
  int k;
  RETURN_IF_ERROR(ParseInputRef(ref, &name, &k));
  Found found{fwd_.FindNode(name), nullptr, nullptr, k};
  if (found.id >= 0) {
    found.dtypes = &fwd_.info(found.id).dtypes;
    found.shapes = &fwd_.info(found.id).shapes;
  } else {
    auto it = ids_.find(name);
    if (it == ids_.end()) {
      return absl::InternalError(absl::StrCat("'", ref, "' names no node"));
    }
    found.id = it->second;
    const NodeMeta& m = meta_[found.id - fwd_.num_nodes()];
    found.dtypes = &m.dtypes;
    found.shapes = &m.shapes;
  }
  if (k >= static_cast<int>(found.dtypes->size())) {
    return absl::InternalError(
        absl::StrCat("'", ref, "': node '", name, "' has no output ", k));
  }
  return found;
}

absl::StatusOr<std::string> Pass::EmitNode(
    const std::string& base, const std::string& op_name,
    const std::vector<std::string>& inputs,
    const std::map<std::string, AttrValue>& attrs) {
  const OpDef* op = GlobalOpRegistry().Find(op_name);
  if (op == nullptr) {
    return absl::InternalError(absl::StrCat("unknown op '", op_name, "'"));
  }
  Node node;
  node.set_name(UniqueName(base));
  node.set_op(op_name);
  NodeMeta meta;
  meta.op = op;
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  for (const std::string& ref : inputs) {
    ASSIGN_OR_RETURN(Found in, Lookup(ref));
    node.add_input(ref);
    dtypes.push_back((*in.dtypes)[in.output]);
    shapes.push_back((*in.shapes)[in.output]);
    meta.inputs.push_back({in.id, in.output});
  }
  for (const auto& [name, value] : attrs) (*node.mutable_attr())[name] = value;
  auto what = [&] {
    return absl::StrCat("emitting ", op_name, " node '", node.name(),
                        "' from inputs ", absl::StrJoin(inputs, ", "));
  };
  if (!op->AcceptsInputCount(node.input_size())) {
    return absl::InternalError(absl::StrCat(what(), ": ", op_name, " takes ",
                                            op->InputCountText(), " inputs"));
  }
  absl::Status s = CheckNodeAttrs(node, *op);
  if (s.ok()) {
    s = InferNode(*op, node, dtypes, shapes, fwd_.memory_budget(), &meta.dtypes,
                  &meta.shapes);
  }
  if (!s.ok()) return Annotate(s, what());
  ids_[node.name()] = fwd_.num_nodes() + static_cast<int>(meta_.size());
  meta_.push_back(std::move(meta));
  emitted_.push_back(std::move(node));
  return emitted_.back().name();
}

absl::Status Pass::ResolveRequest() {
  if (req_.losses.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(), ": no loss given: name the loss tensor"));
  }
  for (const std::string& ref : req_.losses) {
    absl::StatusOr<TensorRef> t = fwd_.Resolve(ref);
    if (!t.ok()) return Annotate(t.status(), absl::StrCat(Where(), ": loss"));
    const NodeInfo& info = fwd_.info(t->node);
    DType dtype = info.dtypes[t->output];
    const Shape& shape = info.shapes[t->output];
    if (!kFloatTypes.Contains(dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat(fwd_.Describe(t->node), ": the loss '", ref, "' is ",
                       DTypeName(dtype), "; only f32 and f64 have gradients"));
    }
    if (!req_.seed_inputs && !IsScalarLike(shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          fwd_.Describe(t->node), ": the loss '", ref, "' has shape ",
          shape.ToString(),
          ", not a single element; reduce it to a scalar (e.g. with "
          "ReduceMean) or feed seed gradients for it (seed_inputs)"));
    }
    losses_.push_back(*t);
  }
  std::vector<std::string> wrt = req_.wrt;
  for (int i = 0; req_.wrt_params && i < fwd_.num_nodes(); ++i) {
    if (fwd_.node_op(i) == "Parameter") wrt.push_back(fwd_.node(i).name());
  }
  if (wrt.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(),
        ": nothing to differentiate with respect to: name tensors (wrt), or "
        "ask for all parameters (wrt_params)"));
  }
  for (const std::string& ref : wrt) {
    absl::StatusOr<TensorRef> t = fwd_.Resolve(ref);
    if (!t.ok()) return Annotate(t.status(), absl::StrCat(Where(), ": wrt"));
    if (std::find(wrt_.begin(), wrt_.end(), *t) != wrt_.end()) continue;
    DType dtype = fwd_.info(t->node).dtypes[t->output];
    if (!kFloatTypes.Contains(dtype)) {
      return absl::InvalidArgumentError(absl::StrCat(
          fwd_.Describe(t->node), ": cannot differentiate with respect to '",
          ref, "': it is ", DTypeName(dtype),
          ", and only f32 and f64 have "
          "gradients"));
    }
    wrt_.push_back(*t);
    result_.wrt.push_back(Name(*t));
  }
  return absl::OkStatus();
}

bool Pass::NeedsGrad(int node, int input) const {
  const TensorRef& in = fwd_.info(node).inputs[input];
  return active_[in.node] &&
         kFloatTypes.Contains(fwd_.info(in.node).dtypes[in.output]);
}

// A node is active when its value depends, through ops that pass gradients,
// on a wrt tensor; it reaches a loss when a loss depends on it that way.
// Only nodes that are both get gradient builders.
void Pass::MarkPaths() {
  int n = fwd_.num_nodes();
  active_.assign(n, 0);
  reaches_.assign(n, 0);
  for (const TensorRef& t : wrt_) active_[t.node] = 1;
  auto passes = [&](int node) {
    return fwd_.info(node).op->gradient_state() !=
           GradientState::kNotDifferentiable;
  };
  for (int i : fwd_.topo_order()) {
    if (active_[i] || !passes(i)) continue;
    for (int k = 0; k < fwd_.node(i).input_size(); ++k) {
      if (NeedsGrad(i, k)) active_[i] = 1;
    }
  }
  for (const TensorRef& t : losses_) reaches_[t.node] = 1;
  const std::vector<int>& order = fwd_.topo_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (!reaches_[*it] || !passes(*it)) continue;
    for (const TensorRef& in : fwd_.info(*it).inputs) reaches_[in.node] = 1;
  }
}

absl::StatusOr<std::string> Pass::SeedFor(const TensorRef& loss) {
  std::string base = absl::StrCat(RefAsName(Name(loss)), "/grad/seed");
  if (!req_.seed_inputs) return EmitNode(base, "OnesLike", {Name(loss)}, {});
  const NodeInfo& info = fwd_.info(loss.node);
  AttrValue shape;
  for (int64_t d : info.shapes[loss.output].dims()) {
    shape.mutable_shape()->add_dim(d);
  }
  ASSIGN_OR_RETURN(
      std::string seed,
      EmitNode(base, "Input", {},
               {{"dtype", TypeAttr(DTypeToProto(info.dtypes[loss.output]))},
                {"shape", shape}}));
  result_.seeds.push_back(seed);
  return seed;
}

absl::StatusOr<std::string> Pass::Accumulate(int node, int k) {
  std::optional<std::string>& sum = summed_[first_output_[node] + k];
  if (sum.has_value()) return *sum;
  std::vector<std::string>& parts = contrib_[first_output_[node] + k];
  if (parts.size() <= 1) {
    sum = parts.empty() ? "" : parts[0];
  } else {
    std::string base = absl::StrCat(fwd_.node(node).name(), "/grad/sum");
    if (k > 0) absl::StrAppend(&base, k);
    ASSIGN_OR_RETURN(sum, EmitNode(base, "AddN", parts, {}));
  }
  parts.clear();
  return *sum;
}

absl::Status Pass::Backprop(int node) {
  const NodeInfo& info = fwd_.info(node);
  std::vector<bool> needs(info.inputs.size());
  bool any = false;
  for (size_t k = 0; k < needs.size(); ++k) {
    needs[k] = NeedsGrad(node, static_cast<int>(k));
    any = any || needs[k];
  }
  if (!any) return absl::OkStatus();  // A wrt tensor's own producer.
  std::vector<std::string> output_grads;
  bool reached = false;
  for (size_t k = 0; k < info.dtypes.size(); ++k) {
    ASSIGN_OR_RETURN(std::string g, Accumulate(node, static_cast<int>(k)));
    reached = reached || !g.empty();
    output_grads.push_back(std::move(g));
  }
  if (!reached) return absl::OkStatus();
  const OpDef& op = *info.op;
  if (op.gradient_state() == GradientState::kMissing) {
    return absl::UnimplementedError(absl::StrCat(
        fwd_.Describe(node), ": op ", op.name(),
        " has no gradient yet, and this node lies on a path from a "
        "differentiated tensor to the loss (wrap its input in StopGradient "
        "if no gradient should flow)"));
  }
  NodeGradContext ctx(*this, node, std::move(output_grads), needs);
  absl::Status s = op.gradient_fn()(ctx);
  if (s.ok()) s = ctx.status();
  for (size_t k = 0; s.ok() && k < needs.size(); ++k) {
    if (needs[k] && ctx.input_grads()[k].empty()) {
      s = absl::InternalError(
          absl::StrCat("the gradient builder gave no gradient for input ", k));
    }
  }
  if (!s.ok()) {
    return Annotate(s, absl::StrCat(fwd_.Describe(node), ": gradient"));
  }
  for (size_t k = 0; k < needs.size(); ++k) {
    if (!needs[k]) continue;
    const TensorRef& in = info.inputs[k];
    contrib_[first_output_[in.node] + in.output].push_back(
        ctx.input_grads()[k]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Pass::GradientOf(const TensorRef& wrt) {
  ASSIGN_OR_RETURN(std::string sum, Accumulate(wrt.node, wrt.output));
  std::string name = Name(wrt);
  if (sum.empty()) {
    std::vector<std::string> losses;
    for (const TensorRef& l : losses_) losses.push_back(Name(l));
    std::string why = absl::StrCat(
        "'", name, "' does not reach the loss '", absl::StrJoin(losses, "', '"),
        "': no path of differentiable ops leads from it there");
    if (!req_.allow_unreached) {
      return absl::InvalidArgumentError(
          absl::StrCat(fwd_.Describe(wrt.node), ": ", why,
                       " (set allow_unreached for a zero gradient instead)"));
    }
    result_.warnings.push_back(
        absl::StrCat("warning: ", why, "; its gradient is zero"));
    ASSIGN_OR_RETURN(sum, EmitNode(absl::StrCat(RefAsName(name), "/grad/zero"),
                                   "ZerosLike", {name}, {}));
  }
  return EmitNode(absl::StrCat(RefAsName(name), "/grad"), "Identity", {sum},
                  {});
}

// Keeps the forward nodes and the emitted nodes that an output needs, and
// assembles them into a ValidGraph (each node was checked when emitted).
absl::StatusOr<GradientGraph> Pass::Finish() {
  int n = fwd_.num_nodes();
  std::vector<char> keep(n + meta_.size(), 0);
  std::vector<int> stack;
  auto want = [&](const std::string& name) {
    int id = ids_.find(name)->second;
    if (!keep[id]) {
      keep[id] = 1;
      stack.push_back(id);
    }
  };
  for (const std::string& g : result_.gradients) want(g);
  for (const std::string& s : result_.seeds) want(s);
  while (!stack.empty()) {
    int id = stack.back();
    stack.pop_back();
    for (const TensorRef& in : meta_[id - n].inputs) {
      if (in.node >= n && !keep[in.node]) {
        keep[in.node] = 1;
        stack.push_back(in.node);
      }
    }
  }
  std::vector<std::string> losses;
  for (const TensorRef& l : losses_) losses.push_back(Name(l));
  int64_t memory_budget = fwd_.memory_budget();
  // The forward graph's parts: taken when the caller gave it up (no copy
  // of a large graph), else copied. fwd_ is not used after this.
  LoadedGraph out;
  std::vector<NodeInfo> info;
  if (owned_ != nullptr) {
    std::tie(out, info) = std::move(*owned_).Release();
  } else {
    out = {fwd_.proto(), fwd_.source()};
    info.reserve(n + meta_.size());
    for (int i = 0; i < n; ++i) info.push_back(fwd_.info(i));
  }
  std::vector<int> new_id(n + meta_.size(), -1);
  for (int i = 0; i < n; ++i) new_id[i] = i;
  for (size_t i = 0; i < emitted_.size(); ++i) {
    if (!keep[n + i]) continue;
    new_id[n + i] = out.graph.node_size();
    *out.graph.add_node() = std::move(emitted_[i]);
    NodeMeta& m = meta_[i];
    NodeInfo node{m.op, std::move(m.inputs), std::move(m.dtypes),
                  std::move(m.shapes)};
    for (TensorRef& in : node.inputs) in.node = new_id[in.node];
    info.push_back(std::move(node));
  }
  auto has_output = [&](const std::string& name) {
    const auto& o = out.graph.output();
    return std::find(o.begin(), o.end(), name) != o.end();
  };
  for (const std::string& l : losses) {
    if (!has_output(l)) out.graph.add_output(l);
  }
  for (const std::string& g : result_.gradients) out.graph.add_output(g);
  ASSIGN_OR_RETURN(
      result_.graph,
      AssembleValidGraph(std::move(out), std::move(info), memory_budget));
  return std::move(result_);
}

absl::StatusOr<GradientGraph> Pass::Run() {
  RETURN_IF_ERROR(ResolveRequest());
  int n = fwd_.num_nodes();
  first_output_.resize(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    first_output_[i + 1] =
        first_output_[i] + static_cast<int>(fwd_.info(i).dtypes.size());
  }
  contrib_.resize(first_output_[n]);
  summed_.resize(first_output_[n]);
  MarkPaths();
  for (const TensorRef& loss : losses_) {
    ASSIGN_OR_RETURN(std::string seed, SeedFor(loss));
    contrib_[first_output_[loss.node] + loss.output].push_back(seed);
  }
  const std::vector<int>& order = fwd_.topo_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (active_[*it] && reaches_[*it]) RETURN_IF_ERROR(Backprop(*it));
  }
  for (const TensorRef& wrt : wrt_) {
    ASSIGN_OR_RETURN(std::string g, GradientOf(wrt));
    result_.gradients.push_back(g);
  }
  return Finish();
}

}  // namespace

absl::StatusOr<GradientGraph> BuildGradientGraph(
    const ValidGraph& forward, const GradientRequest& request) {
  return Pass(forward, request).Run();
}

absl::StatusOr<GradientGraph> BuildGradientGraph(
    ValidGraph&& forward, const GradientRequest& request) {
  return Pass(forward, request, &forward).Run();
}

}  // namespace rill

#include "graph/validate.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <queue>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/quote.h"

namespace rill {
namespace {

absl::Status NodeError(const ValidGraph& g, int node, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(g.Describe(node), ": ", msg));
}

// Orders the nodes so that producers come first; on a cycle, names it.
absl::Status TopologicalOrder(const ValidGraph& g,
                              const std::vector<NodeInfo>& info,
                              std::vector<int>* order) {
  int n = static_cast<int>(info.size());
  // Graphs are usually written producers first (and the autodiff pass
  // appends in that order); then node order is the schedule.
  bool ordered = true;
  for (int i = 0; ordered && i < n; ++i) {
    for (const TensorRef& in : info[i].inputs) ordered = ordered && in.node < i;
  }
  if (ordered) {
    order->resize(n);
    std::iota(order->begin(), order->end(), 0);
    return absl::OkStatus();
  }
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (int i = 0; i < n; ++i) {
    for (const TensorRef& in : info[i].inputs) {
      ++pending[i];
      consumers[in.node].push_back(i);
    }
  }
  // Ready nodes leave in node order: a stable, readable schedule.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order->push_back(i);
    for (int c : consumers[i]) {
      if (--pending[c] == 0) ready.push(c);
    }
  }
  if (static_cast<int>(order->size()) == n) return absl::OkStatus();
  // Every node left has a pending input from another node left: walk
  // backwards through those until a node repeats.
  int start = 0;
  while (pending[start] == 0) ++start;
  std::vector<int> path;
  std::vector<int> seen_at(n, -1);
  int cur = start;
  while (seen_at[cur] < 0) {
    seen_at[cur] = static_cast<int>(path.size());
    path.push_back(cur);
    for (const TensorRef& in : info[cur].inputs) {
      if (pending[in.node] > 0) {
        cur = in.node;
        break;
      }
    }
  }
  std::vector<std::string> names;
  for (size_t k = seen_at[cur]; k < path.size(); ++k) {
    names.push_back(EscapeForMessage(g.node(path[k]).name()));
  }
  names.push_back(EscapeForMessage(g.node(cur).name()));
  std::reverse(names.begin(), names.end());
  return NodeError(
      g, cur,
      absl::StrCat("the graph has a cycle: ", absl::StrJoin(names, " -> ")));
}

}  // namespace

absl::Status CheckNodeAttrs(const Node& node, const OpDef& op) {
  // The common case, checked without allocating: every attr known and
  // well-typed, every required one given.
  bool fine = true;
  for (const auto& [name, value] : node.attr()) {
    const AttrDef* def = op.FindAttr(name);
    fine = fine && def != nullptr && AttrValueHasType(value, def->type);
  }
  for (const AttrDef& def : op.attrs()) {
    fine =
        fine && (def.default_value.has_value() || node.attr().count(def.name));
  }
  if (fine) return absl::OkStatus();
  // Sorted, so that the first error reported does not depend on hashing.
  std::map<std::string, const AttrValue*> given;
  for (const auto& [name, value] : node.attr()) given[name] = &value;
  for (const auto& [name, value] : given) {
    const AttrDef* def = op.FindAttr(name);
    if (def == nullptr) {
      std::vector<std::string> known;
      for (const AttrDef& a : op.attrs()) known.push_back(a.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown attr ", QuoteForMessage(name), "; ", op.name(), " takes ",
          known.empty() ? "no attrs" : absl::StrJoin(known, ", ")));
    }
    if (!AttrValueHasType(*value, def->type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attr ", QuoteForMessage(name), " must be of type ",
                       AttrTypeName(def->type)));
    }
  }
  for (const AttrDef& def : op.attrs()) {
    if (!def.default_value.has_value() && given.count(def.name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing required attr '", def.name, "' (",
                       AttrTypeName(def.type), ")"));
    }
  }
  return absl::OkStatus();
}

bool IsValidNodeName(const std::string& name) {
  if (name.empty()) return false;
  if (!absl::ascii_isalpha(name[0]) && name[0] != '_') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' &&
        c != '/') {
      return false;
    }
  }
  return true;
}

absl::Status ParseInputRef(absl::string_view ref, absl::string_view* name,
                           int* index) {
  size_t colon = ref.rfind(':');
  *name = ref.substr(0, colon);
  *index = 0;
  if (colon == absl::string_view::npos) return absl::OkStatus();
  absl::string_view digits = ref.substr(colon + 1);
  // Nine digits cannot overflow int.
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", QuoteForMessage(ref),
                     " is not of the form \"node\" or \"node:k\""));
  }
  for (char c : digits) *index = *index * 10 + (c - '0');
  return absl::OkStatus();
}

absl::Status ParseInputRef(const std::string& ref, std::string* name,
                           int* index) {
  absl::string_view view;
  RETURN_IF_ERROR(ParseInputRef(absl::string_view(ref), &view, index));
  *name = std::string(view);
  return absl::OkStatus();
}

int ValidGraph::FindNode(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

absl::StatusOr<TensorRef> ValidGraph::Resolve(const std::string& ref) const {
  absl::string_view name;
  int index;
  RETURN_IF_ERROR(ParseInputRef(ref, &name, &index));
  int node = FindNode(name);
  if (node < 0) {
    return absl::NotFoundError(
        absl::StrCat(QuoteForMessage(ref), " names no node"));
  }
  int outputs = static_cast<int>(info_[node].dtypes.size());
  if (index >= outputs) {
    return absl::NotFoundError(
        absl::StrCat(QuoteForMessage(ref), " asks for output ", index,
                     " but node ", QuoteForMessage(name), " (", node_op(node),
                     ") has ", outputs, " output", outputs == 1 ? "" : "s"));
  }
  return TensorRef{node, index};
}

std::string ValidGraph::node_op(int node) const {
  return loaded_.graph.node(node).op();
}

std::string ValidGraph::Describe(int node) const {
  return absl::StrCat(source().Where(node), ": node ",
                      QuoteForMessage(this->node(node).name()), " (",
                      EscapeForMessage(this->node(node).op()), ")");
}

std::pair<LoadedGraph, std::vector<NodeInfo>> ValidGraph::Release() && {
  by_name_.clear();
  topo_order_.clear();
  outputs_.clear();
  input_nodes_.clear();
  return {std::move(loaded_), std::move(info_)};
}

std::string ValidGraph::RefName(const TensorRef& ref) const {
  const std::string& name = node(ref.node).name();
  return ref.output == 0 ? name : absl::StrCat(name, ":", ref.output);
}

absl::Status InferNode(const OpDef& op, const Node& node,
                       const std::vector<DType>& input_dtypes,
                       const std::vector<Shape>& input_shapes,
                       int64_t memory_budget, std::vector<DType>* out_dtypes,
                       std::vector<Shape>* out_shapes) {
  // Type var -> the dtype of its first input (ops have one or two vars).
  std::vector<std::pair<const std::string*, DType>> bound;
  for (size_t i = 0; i < input_dtypes.size(); ++i) {
    const ArgDef& arg = op.InputArg(static_cast<int>(i));
    DTypeSet allowed = op.AllowedTypes(arg.type_var);
    if (!allowed.Contains(input_dtypes[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " ('", arg.name, "', ", EscapeForMessage(node.input(i)),
          ") is ", DTypeName(input_dtypes[i]), " but ", op.name(), " takes ",
          allowed.ToString()));
    }
    auto it = std::find_if(bound.begin(), bound.end(), [&](const auto& b) {
      return *b.first == arg.type_var;
    });
    if (it == bound.end()) {
      bound.push_back({&arg.type_var, input_dtypes[i]});
    } else if (it->second != input_dtypes[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " ('", arg.name, "', ", EscapeForMessage(node.input(i)),
          ") is ", DTypeName(input_dtypes[i]), " but an earlier input of type ",
          arg.type_var, " is ", DTypeName(it->second)));
    }
  }
  Attrs attrs(node, op.attrs());
  InferenceContext ctx(attrs, input_dtypes, input_shapes, memory_budget);
  RETURN_IF_ERROR(op.shape_fn()(ctx));
  ASSIGN_OR_RETURN(int num_outputs, op.NumOutputs(node));
  if (static_cast<int>(ctx.output_shapes().size()) != num_outputs) {
    return absl::InternalError(absl::StrCat("shape function of ", op.name(),
                                            " set ", ctx.output_shapes().size(),
                                            " outputs, not ", num_outputs));
  }
  // Every later byte count (buffer plans, budgets) may then assume it fits.
  for (size_t o = 0; o < ctx.output_shapes().size(); ++o) {
    const Shape& s = ctx.output_shapes()[o];
    RETURN_IF_ERROR(s.Validate(/*allow_symbolic=*/true));
    if (!s.IsFullyDefined()) continue;
    auto output = [o] { return absl::StrCat("output ", o); };
    absl::StatusOr<int64_t> bytes = s.ByteSize(ctx.output_dtypes()[o]);
    if (!bytes.ok()) return Annotate(bytes.status(), output());
    // An op output that alone exceeds the budget could never be allocated
    // (sizes chosen by attributes: Fill, OneHot, random ops, ...). Inputs
    // are checked when fed, values against what is left of the budget.
    if (!op.is_source() && *bytes > memory_budget) {
      return absl::ResourceExhaustedError(absl::StrCat(
          output(), " ", DTypeName(ctx.output_dtypes()[o]), s.ToString(),
          " needs ", *bytes, " bytes, over the memory budget of ",
          memory_budget, " bytes"));
    }
  }
  *out_dtypes = ctx.TakeOutputDTypes();
  *out_shapes = ctx.TakeOutputShapes();
  return absl::OkStatus();
}

absl::StatusOr<ValidGraph> ValidateGraph(LoadedGraph loaded,
                                         const ValidateOptions& options) {
  ValidGraph g;
  g.loaded_ = std::move(loaded);
  g.memory_budget_ = options.memory_budget;
  const Graph& proto = g.proto();
  int n = proto.node_size();
  if (n == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(g.source().file().empty() ? "graph" : g.source().file(),
                     ": the graph has no nodes"));
  }
  g.info_.resize(n);
  // Pass 1: names and ops, so that references can be checked in any order.
  for (int i = 0; i < n; ++i) {
    const Node& node = proto.node(i);
    if (!IsValidNodeName(node.name())) {
      return NodeError(g, i,
                       "a node name must match [A-Za-z_][A-Za-z0-9_.\\-/]*");
    }
    auto [it, fresh] = g.by_name_.emplace(node.name(), i);
    if (!fresh) {
      return NodeError(g, i,
                       absl::StrCat("duplicate node name; first defined at ",
                                    g.source().Where(it->second)));
    }
    g.info_[i].op = options.registry->Find(node.op());
    if (g.info_[i].op == nullptr) {
      return NodeError(g, i,
                       absl::StrCat("unknown op ", QuoteForMessage(node.op())));
    }
    if (g.info_[i].op->name() == "Input") g.input_nodes_.push_back(i);
  }
  // Pass 2: arity and attributes, which fix each node's output count.
  for (int i = 0; i < n; ++i) {
    const Node& node = proto.node(i);
    const OpDef& op = *g.info_[i].op;
    if (!op.AcceptsInputCount(node.input_size())) {
      return NodeError(g, i,
                       absl::StrCat(op.name(), " takes ", op.InputCountText(),
                                    " input(s), got ", node.input_size()));
    }
    absl::Status attrs = CheckNodeAttrs(node, op);
    if (!attrs.ok()) return Annotate(attrs, g.Describe(i));
    // Dtypes are filled in by inference; the count is needed by references.
    absl::StatusOr<int> outputs = op.NumOutputs(node);
    if (!outputs.ok())
      return NodeError(g, i, std::string(outputs.status().message()));
    g.info_[i].dtypes.resize(*outputs);
  }
  // Pass 3: references, now that every node's outputs are known.
  for (int i = 0; i < n; ++i) {
    const Node& node = proto.node(i);
    for (int k = 0; k < node.input_size(); ++k) {
      absl::StatusOr<TensorRef> ref = g.Resolve(node.input(k));
      if (!ref.ok()) {
        return NodeError(
            g, i, absl::StrCat("input ", k, ": ", ref.status().message()));
      }
      g.info_[i].inputs.push_back(*ref);
    }
  }
  RETURN_IF_ERROR(TopologicalOrder(g, g.info_, &g.topo_order_));
  // Pass 4: dtypes and shapes, producers first.
  int64_t value_bytes = 0;
  for (int i : g.topo_order_) {
    NodeInfo& info = g.info_[i];
    std::vector<DType> dtypes;
    std::vector<Shape> shapes;
    for (const TensorRef& in : info.inputs) {
      dtypes.push_back(g.info_[in.node].dtypes[in.output]);
      shapes.push_back(g.info_[in.node].shapes[in.output]);
    }
    absl::Status s = InferNode(*info.op, proto.node(i), dtypes, shapes,
                               options.memory_budget - value_bytes,
                               &info.dtypes, &info.shapes);
    if (!s.ok()) return Annotate(s, g.Describe(i));
    if (info.op->is_source() && info.op->name() != "Input") {
      value_bytes += *info.shapes[0].ByteSize(info.dtypes[0]);
    }
  }
  for (int i = 0; i < proto.output_size(); ++i) {
    absl::StatusOr<TensorRef> ref = g.Resolve(proto.output(i));
    if (!ref.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(g.source().WhereOutput(i),
                       ": graph output: ", ref.status().message()));
    }
    g.outputs_.push_back(*ref);
  }
  return g;
}

absl::StatusOr<ValidGraph> AssembleValidGraph(LoadedGraph graph,
                                              std::vector<NodeInfo> info,
                                              int64_t memory_budget) {
  ValidGraph g;
  g.loaded_ = std::move(graph);
  g.info_ = std::move(info);
  g.memory_budget_ = memory_budget;
  int n = g.num_nodes();
  if (n != g.proto().node_size()) {
    return absl::InternalError("AssembleValidGraph: one NodeInfo per node");
  }
  g.by_name_.reserve(n);
  for (int i = 0; i < n; ++i) {
    const Node& node = g.node(i);
    if (!IsValidNodeName(node.name()) ||
        !g.by_name_.emplace(node.name(), i).second) {
      return absl::InternalError(
          absl::StrCat("AssembleValidGraph: bad or duplicate name ",
                       QuoteForMessage(node.name())));
    }
    if (node.op() == "Input") g.input_nodes_.push_back(i);
  }
  // Files may list nodes in any order, so node order need not be one.
  RETURN_IF_ERROR(TopologicalOrder(g, g.info_, &g.topo_order_));
  for (const std::string& output : g.proto().output()) {
    ASSIGN_OR_RETURN(TensorRef ref, g.Resolve(output));
    g.outputs_.push_back(ref);
  }
  return g;
}

}  // namespace rill

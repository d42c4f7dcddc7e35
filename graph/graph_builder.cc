#include "graph/graph_builder.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor_proto.h"

namespace rill {

using NodeRef = GraphBuilder::NodeRef;

std::string NodeRef::Output(int k) const {
  return absl::StrCat(node_->name(), ":", k);
}

NodeRef& NodeRef::AttrInt(const std::string& key, int64_t value) {
  (*node_->mutable_attr())[key].set_i(value);
  return *this;
}

NodeRef& NodeRef::AttrFloat(const std::string& key, double value) {
  (*node_->mutable_attr())[key].set_f(value);
  return *this;
}

NodeRef& NodeRef::AttrBool(const std::string& key, bool value) {
  (*node_->mutable_attr())[key].set_b(value);
  return *this;
}

NodeRef& NodeRef::AttrString(const std::string& key, const std::string& value) {
  (*node_->mutable_attr())[key].set_s(value);
  return *this;
}

NodeRef& NodeRef::AttrInts(const std::string& key,
                           const std::vector<int64_t>& values) {
  SetInts(node_, key, values);
  return *this;
}

NodeRef& NodeRef::AttrType(const std::string& key, DType dtype) {
  (*node_->mutable_attr())[key].set_type(DTypeToProto(dtype));
  return *this;
}

NodeRef& NodeRef::AttrShape(const std::string& key,
                            const std::vector<int64_t>& dims) {
  ShapeProto* shape = (*node_->mutable_attr())[key].mutable_shape();
  for (int64_t d : dims) shape->add_dim(d);
  return *this;
}

GraphBuilder::GraphBuilder(std::string what, std::string prefix)
    : staged_(std::make_shared<Staged>()), prefix_(std::move(prefix)) {
  staged_->what = std::move(what);
  staged_->prefix = prefix_;
}

GraphBuilder GraphBuilder::Scope(const std::string& name) const {
  return GraphBuilder(
      staged_, prefix_.empty() ? name : absl::StrCat(prefix_, "/", name));
}

NodeRef GraphBuilder::Op(const std::string& name, const std::string& op,
                         const std::vector<std::string>& inputs) {
  return NodeRef(AddNode(
      &staged_->nodes,
      prefix_.empty() ? name : absl::StrCat(prefix_, "/", name), op, inputs));
}

std::string GraphBuilder::Input(const std::string& name, DType dtype,
                                const std::vector<int64_t>& dims) {
  return Op(name, "Input").AttrType("dtype", dtype).AttrShape("shape", dims);
}

std::string GraphBuilder::Value(const std::string& name, const std::string& op,
                                const absl::StatusOr<Tensor>& value) {
  NodeRef node = Op(name, op);
  if (!value.ok()) {
    if (staged_->error.ok()) {
      staged_->error = Annotate(value.status(), node.name());
    }
    return node;
  }
  *(*node.node()->mutable_attr())["value"].mutable_tensor() =
      TensorToProto(*value);
  return node;
}

std::string GraphBuilder::Const(const std::string& name,
                                const absl::StatusOr<Tensor>& value) {
  return Value(name, "Const", value);
}

std::string GraphBuilder::Parameter(const std::string& name,
                                    const absl::StatusOr<Tensor>& value) {
  return Value(name, "Parameter", value);
}

std::string GraphBuilder::Parameter(const std::string& name, DType dtype,
                                    const Shape& shape,
                                    const Initializer& init) {
  NodeRef node = Op(name, "Parameter");
  SetInitializer(init, dtype, shape, node.node());
  return node;
}

std::string GraphBuilder::Scalar(const std::string& name, DType dtype,
                                 double value) {
  return Const(name,
               FilledTensor(dtype, Shape{1}, [&](int64_t) { return value; }));
}

std::string GraphBuilder::Linear(const std::string& name, const std::string& x,
                                 const std::string& weight,
                                 const std::string& bias,
                                 const std::string& product) {
  const std::string mm_name = bias.empty()      ? name
                              : product.empty() ? name + "_mm"
                                                : product;
  std::string mm =
      Op(mm_name, "MatMul", {x, weight}).AttrBool("transpose_b", true);
  if (bias.empty()) return mm;
  return Op(name, "Add", {mm, bias});
}

std::string GraphBuilder::Dropout(const std::string& name, const std::string& x,
                                  double rate, uint64_t seed) {
  return Op(name, "Dropout", {x})
      .AttrFloat("rate", rate)
      .AttrBool("training", true)
      .AttrInt("seed", static_cast<int64_t>(seed))
      .Output(0);
}

std::string GraphBuilder::LayerNorm(const std::string& name,
                                    const std::string& x,
                                    const std::string& weight,
                                    const std::string& bias,
                                    std::optional<double> epsilon) {
  NodeRef node = Op(name, "LayerNorm", {x, weight, bias});
  if (epsilon.has_value()) node.AttrFloat("epsilon", *epsilon);
  return node.Output(0);
}

std::string GraphBuilder::Cast(const std::string& name, const std::string& x,
                               DType dtype) {
  return Op(name, "Cast", {x}).AttrType("dtype", dtype);
}

std::vector<std::string> GraphBuilder::Split(const std::string& name,
                                             const std::string& x,
                                             int64_t parts, int64_t axis) {
  NodeRef split = Op(name, "Split", {x}).AttrInt("num_splits", parts);
  if (axis != 0) split.AttrInt("axis", axis);
  std::vector<std::string> outputs;
  for (int64_t k = 0; k < parts; ++k) outputs.push_back(split.Output(k));
  return outputs;
}

absl::Status GraphBuilder::Commit(Graph* graph) {
  RETURN_IF_ERROR(staged_->error);
  auto clash = [&](absl::StatusCode code, const std::string& name,
                   const char* why) {
    return absl::Status(
        code, absl::StrCat(staged_->what,
                           staged_->prefix.empty()
                               ? ""
                               : absl::StrCat(" '", staged_->prefix, "'"),
                           ": ", why, " '", name, "'"));
  };
  absl::flat_hash_set<std::string> taken;
  for (const Node& n : graph->node()) taken.insert(n.name());
  for (const Node& n : staged_->nodes.node()) {
    if (taken.contains(n.name())) {
      return clash(absl::StatusCode::kAlreadyExists, n.name(),
                   "the graph already has a node");
    }
  }
  taken.clear();
  for (const Node& n : staged_->nodes.node()) {
    if (!taken.insert(n.name()).second) {
      return clash(absl::StatusCode::kInvalidArgument, n.name(),
                   "two of its nodes are named");
    }
  }
  for (Node& n : *staged_->nodes.mutable_node()) {
    *graph->add_node() = std::move(n);
  }
  staged_->nodes.clear_node();
  return absl::OkStatus();
}

Node* AddNode(Graph* graph, const std::string& name, const std::string& op,
              const std::vector<std::string>& inputs) {
  Node* n = graph->add_node();
  n->set_name(name);
  n->set_op(op);
  for (const std::string& in : inputs) n->add_input(in);
  return n;
}

std::string AddInputNode(Graph* graph, const std::string& name, DType dtype,
                         const std::vector<int64_t>& dims) {
  return GraphBuilder::NodeRef(AddNode(graph, name, "Input", {}))
      .AttrType("dtype", dtype)
      .AttrShape("shape", dims);
}

void SetInts(Node* node, const std::string& key,
             const std::vector<int64_t>& values) {
  auto* list = (*node->mutable_attr())[key].mutable_list();
  for (int64_t v : values) list->add_i(v);
}

}  // namespace rill

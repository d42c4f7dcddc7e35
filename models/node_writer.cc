#include "models/node_writer.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/tensor_proto.h"

namespace rill {

std::string NodeWriter::Op(const std::string& name, const std::string& op,
                           const std::vector<std::string>& inputs,
                           Node** node) {
  return OpAt(prefix_, name, op, inputs, node);
}

std::string NodeWriter::OpAt(const std::string& scope, const std::string& name,
                             const std::string& op,
                             const std::vector<std::string>& inputs,
                             Node** node) {
  Node& n = nodes_.emplace_back();
  n.set_name(absl::StrCat(scope, "/", name));
  n.set_op(op);
  for (const std::string& in : inputs) n.add_input(in);
  if (node != nullptr) *node = &n;
  return n.name();
}

std::string NodeWriter::OpI(const std::string& name, const std::string& op,
                            const std::vector<std::string>& inputs,
                            const std::string& key, int64_t value) {
  Node* node;
  std::string out = Op(name, op, inputs, &node);
  (*node->mutable_attr())[key].set_i(value);
  return out;
}

std::string NodeWriter::Value(const std::string& name, const std::string& op,
                              const absl::StatusOr<Tensor>& value) {
  return ValueAt(prefix_, name, op, value);
}

std::string NodeWriter::ValueAt(const std::string& scope,
                                const std::string& name, const std::string& op,
                                const absl::StatusOr<Tensor>& value) {
  Node* node;
  std::string out = OpAt(scope, name, op, {}, &node);
  if (!value.ok()) {
    if (error_.ok()) error_ = Annotate(value.status(), node->name());
    return out;
  }
  *(*node->mutable_attr())["value"].mutable_tensor() = TensorToProto(*value);
  return out;
}

std::string NodeWriter::Scalar(const std::string& name, DType dtype,
                               double value) {
  return Value(name, "Const",
               FilledTensor(dtype, Shape{1}, [&](int64_t) { return value; }));
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
  Node* n = AddNode(graph, name, "Input", {});
  (*n->mutable_attr())["dtype"].set_type(DTypeToProto(dtype));
  ShapeProto* shape = (*n->mutable_attr())["shape"].mutable_shape();
  for (int64_t d : dims) shape->add_dim(d);
  return name;
}

void SetInts(Node* node, const std::string& key,
             const std::vector<int64_t>& values) {
  auto* list = (*node->mutable_attr())[key].mutable_list();
  for (int64_t v : values) list->add_i(v);
}

absl::Status NodeWriter::Commit(Graph* graph) {
  RETURN_IF_ERROR(error_);
  absl::flat_hash_set<std::string> taken;
  for (const Node& n : graph->node()) taken.insert(n.name());
  for (const Node& n : nodes_) {
    if (taken.contains(n.name())) {
      return absl::AlreadyExistsError(
          absl::StrCat(what_, " '", prefix_,
                       "': the graph already has a node '", n.name(), "'"));
    }
  }
  for (Node& n : nodes_) *graph->add_node() = std::move(n);
  nodes_.clear();
  return absl::OkStatus();
}

}  // namespace rill

#ifndef RILL_GRAPH_VALIDATE_H_
#define RILL_GRAPH_VALIDATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "graph/loader.h"
#include "ops/registry.h"

namespace rill {

// One output of one node.
struct TensorRef {
  int node = -1;
  int output = 0;
  bool operator==(const TensorRef& o) const {
    return node == o.node && output == o.output;
  }
};

struct ValidateOptions {
  // Bytes that the graph's constants and parameters may take; checked before
  // anything is allocated.
  int64_t memory_budget = int64_t{8} << 30;
  const OpRegistry* registry = &GlobalOpRegistry();
};

// What validation derived about a node.
struct NodeInfo {
  const OpDef* op = nullptr;
  std::vector<TensorRef> inputs;
  std::vector<DType> dtypes;  // Per output.
  std::vector<Shape> shapes;  // Per output; -1 where symbolic.
};

// A graph that passed every check: names unique and well-formed, ops known,
// arity and attributes right, references resolved, acyclic, dtypes
// consistent, shapes inferred.
class ValidGraph {
 public:
  const Graph& proto() const { return loaded_.graph; }
  const SourceMap& source() const { return loaded_.source; }
  const Node& node(int i) const { return loaded_.graph.node(i); }
  const NodeInfo& info(int i) const { return info_[i]; }
  int num_nodes() const { return static_cast<int>(info_.size()); }
  const std::vector<int>& topo_order() const { return topo_order_; }
  const std::vector<TensorRef>& outputs() const { return outputs_; }
  // Input nodes, in node order.
  const std::vector<int>& input_nodes() const { return input_nodes_; }
  int64_t memory_budget() const { return memory_budget_; }

  // -1 when absent.
  int FindNode(absl::string_view name) const;
  // Resolves "node" or "node:k".
  absl::StatusOr<TensorRef> Resolve(const std::string& ref) const;
  // "file:3:1: node 'h' (Tanh)", for error messages.
  std::string Describe(int node) const;
  // "h:1" (or "h" for output 0).
  std::string RefName(const TensorRef& ref) const;
  // The graph and its per-node facts, for a pass that extends a graph it
  // owns (AssembleValidGraph takes them back); leaves this ValidGraph empty.
  std::pair<LoadedGraph, std::vector<NodeInfo>> Release() &&;
  std::string node_op(int node) const;

 private:
  friend absl::StatusOr<ValidGraph> ValidateGraph(LoadedGraph,
                                                  const ValidateOptions&);
  friend absl::StatusOr<ValidGraph> AssembleValidGraph(LoadedGraph,
                                                       std::vector<NodeInfo>,
                                                       int64_t);
  LoadedGraph loaded_;
  std::vector<NodeInfo> info_;
  absl::flat_hash_map<std::string, int> by_name_;
  std::vector<int> topo_order_;
  std::vector<TensorRef> outputs_;
  std::vector<int> input_nodes_;
  int64_t memory_budget_ = 0;
};

absl::StatusOr<ValidGraph> ValidateGraph(LoadedGraph loaded,
                                         const ValidateOptions& options = {});

// For a pass that builds a graph node by node and checks each node as the
// validator would (CheckNodeAttrs, InferNode) as it goes: the autodiff pass.
// `info` holds every node's inferred NodeInfo, in node order. Checks names,
// the order and the graph outputs, not the nodes again.
absl::StatusOr<ValidGraph> AssembleValidGraph(LoadedGraph graph,
                                              std::vector<NodeInfo> info,
                                              int64_t memory_budget);

// Checks input dtypes against the op's type constraints, then runs its shape
// function. The validator and the executor (with concrete shapes) share it.
absl::Status InferNode(const OpDef& op, const Node& node,
                       const std::vector<DType>& input_dtypes,
                       const std::vector<Shape>& input_shapes,
                       int64_t memory_budget, std::vector<DType>* out_dtypes,
                       std::vector<Shape>* out_shapes);

// Checks a node's attrs against its op: none unknown, each of the declared
// type, every required one present.
absl::Status CheckNodeAttrs(const Node& node, const OpDef& op);

// Splits "node:k" into the name and k (0 when absent).
absl::Status ParseInputRef(const std::string& ref, std::string* name,
                           int* index);
// The same without copying: `name` points into `ref`.
absl::Status ParseInputRef(absl::string_view ref, absl::string_view* name,
                           int* index);
bool IsValidNodeName(const std::string& name);

}  // namespace rill

#endif  // RILL_GRAPH_VALIDATE_H_

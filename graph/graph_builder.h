#ifndef RILL_GRAPH_GRAPH_BUILDER_H_
#define RILL_GRAPH_GRAPH_BUILDER_H_

// How graph builders (models/) write nodes. A GraphBuilder stages its nodes
// and adds them to a graph only in Commit(), once every value could be made
// and no name clashes, so that a failed build leaves the caller's graph
// unchanged. Calls chain: a value that could not be made is kept as the
// first error, which Commit() returns.
//
//   GraphBuilder b("attention", "mha");
//   std::string qk = b.Op("scores_qk", "MatMul", {q, k})
//                        .AttrBool("transpose_b", true);     // mha/scores_qk
//   std::string y = b.Linear("out", qk, weight, bias);      // mha/out
//   RETURN_IF_ERROR(b.Commit(&graph));

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ops/parameter_value.h"
#include "proto/graph.pb.h"

namespace rill {

class GraphBuilder {
 public:
  // A node just staged: its name (it converts to it), and typed setters for
  // its attributes by name. Valid until Commit.
  class NodeRef {
   public:
    explicit NodeRef(Node* node) : node_(node) {}
    const std::string& name() const { return node_->name(); }
    operator std::string() const { return node_->name(); }
    std::string Output(int k) const;  // "name:k"
    Node* node() const { return node_; }

    NodeRef& AttrInt(const std::string& key, int64_t value);
    NodeRef& AttrFloat(const std::string& key, double value);
    NodeRef& AttrBool(const std::string& key, bool value);
    NodeRef& AttrString(const std::string& key, const std::string& value);
    NodeRef& AttrInts(const std::string& key,
                      const std::vector<int64_t>& values);
    NodeRef& AttrType(const std::string& key, DType dtype);
    NodeRef& AttrShape(const std::string& key,
                       const std::vector<int64_t>& dims);  // -1: symbolic

   private:
    Node* node_;
  };

  // Node names are `<prefix>/<name>`, or `<name>` when prefix is empty.
  // `what` names the builder in errors ("attention").
  GraphBuilder(std::string what, std::string prefix);

  const std::string& prefix() const { return prefix_; }

  // A builder for `<prefix>/<name>/...` that stages into this one's nodes:
  // a Commit from either adds them all.
  GraphBuilder Scope(const std::string& name) const;

  // The staged nodes as a graph, for a builder that takes a Graph* (an
  // attention block inside a Transformer layer) to commit into; their
  // names are checked again by this builder's Commit.
  Graph* staging() { return &staged_->nodes; }

  // Node <prefix>/<name> = op(inputs).
  NodeRef Op(const std::string& name, const std::string& op,
             const std::vector<std::string>& inputs = {});
  // An Input node of `dtype` and `dims` (-1: symbolic).
  std::string Input(const std::string& name, DType dtype,
                    const std::vector<int64_t>& dims);
  // A Const or Parameter holding `value`, or, when it could not be made,
  // the node alone and the value's error kept for Commit.
  std::string Const(const std::string& name,
                    const absl::StatusOr<Tensor>& value);
  std::string Parameter(const std::string& name,
                        const absl::StatusOr<Tensor>& value);
  // A Parameter of `dtype` and `shape` whose values `init` draws at load:
  // the graph file stays small however large the tensor.
  std::string Parameter(const std::string& name, DType dtype,
                        const Shape& shape, const Initializer& init);
  // A Const [1] of float `dtype`, to broadcast.
  std::string Scalar(const std::string& name, DType dtype, double value);

  // x . weight^T + bias, nn.Linear with its weight [out, in]: nodes
  // <product> (MatMul; default <name>_mm) and <name> (Add); with no bias,
  // the MatMul <name> alone.
  std::string Linear(const std::string& name, const std::string& x,
                     const std::string& weight, const std::string& bias,
                     const std::string& product = "");
  // Inverted dropout, training on; returns output 0.
  std::string Dropout(const std::string& name, const std::string& x,
                      double rate, uint64_t seed);
  // LayerNorm over the last axis, with `epsilon` (none: the op's default,
  // and no attr); returns output 0.
  std::string LayerNorm(const std::string& name, const std::string& x,
                        const std::string& weight, const std::string& bias,
                        std::optional<double> epsilon = std::nullopt);
  std::string Cast(const std::string& name, const std::string& x, DType dtype);
  // x split along `axis` into `parts` equal parts: "<name>:0", ...; the
  // op's default axis 0 is left unset.
  std::vector<std::string> Split(const std::string& name, const std::string& x,
                                 int64_t parts, int64_t axis = 0);

  // Adds the staged nodes to `graph`, or fails (and adds nothing) with the
  // first value that could not be made, with AlreadyExists naming the first
  // node whose name the graph already has, or with InvalidArgument naming
  // one staged twice (names a spec chose may collide).
  absl::Status Commit(Graph* graph);

 private:
  struct Staged {
    std::string what, prefix;  // Of the builder that began them, for errors.
    Graph nodes;  // A RepeatedPtrField: each staged Node* stays valid.
    absl::Status error;
  };
  GraphBuilder(std::shared_ptr<Staged> staged, std::string prefix)
      : staged_(std::move(staged)), prefix_(std::move(prefix)) {}
  std::string Value(const std::string& name, const std::string& op,
                    const absl::StatusOr<Tensor>& value);

  std::shared_ptr<Staged> staged_;
  std::string prefix_;
};

// A tensor of `shape` and float `dtype` (f32 or f64) whose element i is
// fill(i), computed in double; or the allocation's error (shapes come from
// specs): the values of Const and Parameter nodes.
template <typename Fill>
absl::StatusOr<Tensor> FilledTensor(DType dtype, const Shape& shape,
                                    Fill fill) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (dtype == DType::kF64) {
      t.data<double>()[i] = fill(i);
    } else {
      t.data<float>()[i] = static_cast<float>(fill(i));
    }
  }
  return t;
}

// Elements drawn in order from uniform(-bound, bound) in double, as
// PyTorch's initialisers draw them.
inline absl::StatusOr<Tensor> UniformTensor(DType dtype, const Shape& shape,
                                            double bound,
                                            std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-bound, bound);
  return FilledTensor(dtype, shape, [&](int64_t) { return dist(rng); });
}

// Appends node `name` = op(inputs) to `graph` as it is: for graphs written
// by hand (tests, benchmarks); builders stage through a GraphBuilder.
Node* AddNode(Graph* graph, const std::string& name, const std::string& op,
              const std::vector<std::string>& inputs);
// Appends an Input node of `dtype` and `dims` (-1: symbolic); returns its
// name.
std::string AddInputNode(Graph* graph, const std::string& name, DType dtype,
                         const std::vector<int64_t>& dims);
// Sets the int-list attribute `key` of `node`.
void SetInts(Node* node, const std::string& key,
             const std::vector<int64_t>& values);

}  // namespace rill

#endif  // RILL_GRAPH_GRAPH_BUILDER_H_

#ifndef RILL_MODELS_NODE_WRITER_H_
#define RILL_MODELS_NODE_WRITER_H_

// What every graph builder in models/ writes its nodes through. The nodes
// are collected first and reach the graph only in Commit(), once every
// check has passed and no name clashes, so that a failed build leaves the
// caller's graph unchanged.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"

namespace rill {

class NodeWriter {
 public:
  // Node names are `<prefix>/<name>`. `what` names the builder in errors
  // ("recurrent layer", "attention").
  NodeWriter(std::string what, std::string prefix)
      : what_(std::move(what)), prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }

  // Adds node `<prefix>/<name>` and returns its name; `node`, when given,
  // receives it for attributes (valid until Commit).
  std::string Op(const std::string& name, const std::string& op,
                 const std::vector<std::string>& inputs, Node** node = nullptr);
  // Adds node `<scope>/<name>` for a scope inside the prefix (a recurrent
  // step's `<prefix>/t3`).
  std::string OpAt(const std::string& scope, const std::string& name,
                   const std::string& op,
                   const std::vector<std::string>& inputs,
                   Node** node = nullptr);
  // An op with one int attribute.
  std::string OpI(const std::string& name, const std::string& op,
                  const std::vector<std::string>& inputs,
                  const std::string& key, int64_t value);
  // A Const or Parameter node holding `value`. A value that could not be
  // made (an allocation that failed) is kept as the writer's first error,
  // which Commit() returns, so that builders can chain calls and check once.
  std::string Value(const std::string& name, const std::string& op,
                    const absl::StatusOr<Tensor>& value);
  // The same as node <scope>/<name>.
  std::string ValueAt(const std::string& scope, const std::string& name,
                      const std::string& op,
                      const absl::StatusOr<Tensor>& value);
  // A scalar Const [1] of `dtype` (f32 or f64).
  std::string Scalar(const std::string& name, DType dtype, double value);

  // Adds the nodes to `graph`, or fails with the first value that could not
  // be made, or with AlreadyExists naming the first node whose name the
  // graph already has (and adds nothing).
  absl::Status Commit(Graph* graph);

 private:
  std::string what_;
  std::string prefix_;
  std::deque<Node> nodes_;  // A deque keeps each `Node*` valid.
  absl::Status error_;
};

// Appends node `name` = op(inputs) to `graph` as it is, for the builders
// that assemble a whole graph (model_spec, seq2seq); a NodeWriter is for
// parts that must land all or nothing.
Node* AddNode(Graph* graph, const std::string& name, const std::string& op,
              const std::vector<std::string>& inputs);
// Appends an Input node of `dtype` and `dims` (-1: symbolic); returns its
// name.
std::string AddInputNode(Graph* graph, const std::string& name, DType dtype,
                         const std::vector<int64_t>& dims);
// Sets the int-list attribute `key` of `node`.
void SetInts(Node* node, const std::string& key,
             const std::vector<int64_t>& values);

// A tensor of `shape` and float `dtype` whose element i is fill(i), or
// the allocation's error (shapes come from specs).
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

}  // namespace rill

#endif  // RILL_MODELS_NODE_WRITER_H_

#ifndef RILL_ONNX_IMPORT_CONTEXT_H_
#define RILL_ONNX_IMPORT_CONTEXT_H_

// The importer's state: the rill graph being written, each ONNX value's
// rill tensor (and its value when it is a constant), and the nodes that
// translate one ONNX node. Each rill node's dtypes and shapes are inferred
// as it is emitted, so translators can read static shapes (Shape folding,
// Reshape's 0s) and bad shapes fail at the ONNX node that made them.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"
#include "onnx/onnx.pb.h"
#include "proto/graph.pb.h"

namespace rill {

// One entry of a shape computed from symbolic dims: factor times the
// product of dims (axis `second` of rill tensor `first`) known at run time.
struct SymbolicDim {
  int64_t factor = 1;
  std::vector<std::pair<std::string, int>> dims;
  bool known() const { return dims.empty(); }
};
using SymbolicShape = std::vector<SymbolicDim>;

struct OnnxValue {
  std::string ref;  // The rill tensor; empty for a constant not yet used.
  DType dtype = DType::kF32;
  Shape shape;                     // -1 where symbolic.
  std::optional<Tensor> constant;  // Known at import.
  bool parameter = false;          // A float initialiser: trainable.
  // An i64 scalar or vector of shape arithmetic over symbolic dims (a
  // Shape of a tensor with some): kept at import, never a rill tensor.
  std::optional<SymbolicShape> symbolic;
};

class ImportContext {
 public:
  explicit ImportContext(int64_t memory_budget)
      : memory_budget_(memory_budget) {}

  Graph& graph() { return graph_; }
  int64_t memory_budget() const { return memory_budget_; }

  void Define(const std::string& onnx_name, OnnxValue value);
  const OnnxValue* Find(const std::string& onnx_name) const;
  // The value's rill tensor; a constant becomes a Const (or Parameter) node
  // the first time it is needed.
  absl::StatusOr<std::string> Ref(const std::string& onnx_name);

  // Node `base` (made unique) = op(inputs) with attrs, checked and its
  // shapes inferred; returns its name.
  absl::StatusOr<std::string> Emit(
      const std::string& base, const std::string& op,
      const std::vector<std::string>& inputs,
      const std::map<std::string, AttrValue>& attrs);
  absl::StatusOr<std::string> EmitConst(const std::string& base,
                                        const Tensor& value,
                                        bool parameter = false);
  // Of a rill tensor ref ("node" or "node:k") this context emitted.
  DType dtype(const std::string& ref) const;
  const Shape& shape(const std::string& ref) const;
  // `base` made a valid rill node name not yet taken.
  std::string UniqueName(const std::string& base) {
    return Unique(base, false);
  }
  // The same for a builder's prefix (models/): neither a taken name nor the
  // start of one followed by '/'.
  std::string UniqueScope(const std::string& base) {
    return Unique(base, true);
  }
  // A builder's nodes (models/rnn.h), emitted in order under their own
  // names (Emit's checks and shape inference); a taken name is an error.
  absl::Status EmitNodes(const Graph& nodes);
  // Takes `name` (UniqueName of it) now, for a node emitted last under
  // exactly that name (EmitReserved): the graph outputs keep their names.
  std::string Reserve(const std::string& base) { return UniqueName(base); }
  absl::StatusOr<std::string> EmitReserved(
      const std::string& name, const std::string& op,
      const std::vector<std::string>& inputs);

 private:
  struct Info {
    std::vector<DType> dtypes;
    std::vector<Shape> shapes;
  };
  const Info& InfoOf(const std::string& ref, int* k) const;
  bool Taken(const std::string& name, bool as_scope) const;
  std::string Unique(const std::string& base, bool as_scope);
  absl::StatusOr<std::string> EmitNode(
      const std::string& name, const std::string& op,
      const std::vector<std::string>& inputs,
      const std::map<std::string, AttrValue>& attrs);

  int64_t memory_budget_;
  Graph graph_;
  std::map<std::string, OnnxValue> values_;
  std::map<std::string, Info> info_;  // By rill node name.
  std::set<std::string> names_;
};

// What a translator sees of one ONNX node.
class NodeTranslation {
 public:
  NodeTranslation(const ::onnx::NodeProto& node, int64_t opset,
                  ImportContext* ctx)
      : node_(node), opset_(opset), ctx_(ctx) {}

  const ::onnx::NodeProto& node() const { return node_; }
  int64_t opset() const { return opset_; }
  ImportContext& ctx() { return *ctx_; }

  // Whether input i is given (ONNX leaves optional inputs empty).
  bool has_input(int i) const;
  const OnnxValue& value(int i) const;
  absl::StatusOr<std::string> in(int i);
  DType dtype(int i) const { return value(i).dtype; }
  const Shape& shape(int i) const { return value(i).shape; }
  // Input i's value, which must be known at import ("`what` must be a
  // constant").
  absl::StatusOr<Tensor> Constant(int i, const char* what) const;
  absl::StatusOr<std::vector<int64_t>> ConstantInts(int i,
                                                    const char* what) const;

  bool has_attr(const std::string& name) const;
  int64_t AttrInt(const std::string& name, int64_t def) const;
  float AttrFloat(const std::string& name, float def) const;
  std::string AttrString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> AttrInts(const std::string& name) const;
  const ::onnx::AttributeProto* Attr(const std::string& name) const;

  // A rill node named after this ONNX node.
  absl::StatusOr<std::string> Emit(
      const std::string& op, const std::vector<std::string>& inputs,
      const std::map<std::string, AttrValue>& attrs = {});
  absl::StatusOr<std::string> EmitConst(const Tensor& value);
  // A prefix for a builder's nodes, <this node's name>/<suffix>, made
  // unique (ImportContext::UniqueScope).
  std::string UniqueScope(const std::string& suffix);
  // ImportContext::EmitNodes, its errors naming this node.
  absl::Status EmitNodes(const Graph& nodes);
  // Defines ONNX output k (a no-op when the node leaves it empty).
  absl::Status SetOutput(int k, const std::string& ref);
  absl::Status SetOutputConstant(int k, Tensor value);
  // A constant when every entry is known. `scalar`: rank 0 (one entry).
  absl::Status SetOutputSymbolic(int k, SymbolicShape value, bool scalar);
  bool is_symbolic(int i) const {
    return has_input(i) && value(i).symbolic.has_value();
  }
  bool has_output(int k) const;

  // InvalidArgument (or Unimplemented) "node 'n' (Op): message".
  absl::Status Error(const std::string& message) const;
  absl::Status Unsupported(const std::string& message) const;

  // Normalises an axis against `rank` (negative counts from the end).
  absl::StatusOr<int64_t> Axis(int64_t axis, int64_t rank) const;

 private:
  std::string Describe() const;
  std::string BaseName() const;  // Of the rill nodes this node emits.
  const ::onnx::NodeProto& node_;
  int64_t opset_;
  ImportContext* ctx_;
};

}  // namespace rill

#endif  // RILL_ONNX_IMPORT_CONTEXT_H_

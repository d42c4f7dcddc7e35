#ifndef RILL_MODELS_NODE_WRITER_H_
#define RILL_MODELS_NODE_WRITER_H_

// The older interface of graph/graph_builder.h, kept only while
// models/rnn.cc still writes through it; new code uses GraphBuilder.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/graph_builder.h"

namespace rill {

// Names are `<prefix>/<name>` (Op) or `<scope>/<name>` (OpAt); `node`,
// when given, receives the node for attributes.
class NodeWriter {
 public:
  NodeWriter(const std::string& what, std::string prefix)
      : prefix_(std::move(prefix)),
        b_(absl::StrCat(what, " '", prefix_, "'"), "") {}

  const std::string& prefix() const { return prefix_; }

  std::string Op(const std::string& name, const std::string& op,
                 const std::vector<std::string>& inputs,
                 Node** node = nullptr) {
    return OpAt(prefix_, name, op, inputs, node);
  }
  std::string OpAt(const std::string& scope, const std::string& name,
                   const std::string& op,
                   const std::vector<std::string>& inputs,
                   Node** node = nullptr) {
    GraphBuilder::NodeRef n = b_.Op(At(scope, name), op, inputs);
    if (node != nullptr) *node = n.node();
    return n;
  }
  std::string OpI(const std::string& name, const std::string& op,
                  const std::vector<std::string>& inputs,
                  const std::string& key, int64_t value) {
    return b_.Op(At(prefix_, name), op, inputs).AttrInt(key, value);
  }
  std::string Value(const std::string& name, const std::string& op,
                    const absl::StatusOr<Tensor>& value) {
    return ValueAt(prefix_, name, op, value);
  }
  std::string ValueAt(const std::string& scope, const std::string& name,
                      const std::string& op,
                      const absl::StatusOr<Tensor>& value) {
    return op == "Const" ? b_.Const(At(scope, name), value)
                         : b_.Parameter(At(scope, name), value);
  }
  std::string Scalar(const std::string& name, DType dtype, double value) {
    return b_.Scalar(At(prefix_, name), dtype, value);
  }
  absl::Status Commit(Graph* graph) { return b_.Commit(graph); }

 private:
  static std::string At(const std::string& scope, const std::string& name) {
    return absl::StrCat(scope, "/", name);
  }

  std::string prefix_;
  GraphBuilder b_;  // Prefix "": names arrive whole.
};

}  // namespace rill

#endif  // RILL_MODELS_NODE_WRITER_H_

#include "onnx/fuse_gelu.h"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "onnx/onnx_tensor.h"

namespace rill {
namespace {

class GraphIndex {
 public:
  explicit GraphIndex(const ::onnx::GraphProto& g) : g_(g) {
    for (int i = 0; i < g.node_size(); ++i) {
      for (const auto& out : g.node(i).output()) producer_[out] = i;
      for (const auto& in : g.node(i).input()) ++uses_[in];
    }
    // A graph output is a use that no fusion may take away.
    for (const auto& out : g.output()) ++uses_[out.name()];
  }

  // The default-domain node of type `op` that makes `value`, read by no
  // other node; -1 when there is none.
  int SoleProducer(const std::string& value, const char* op) const {
    auto it = producer_.find(value);
    if (it == producer_.end() || uses_.at(value) != 1) return -1;
    const auto& node = g_.node(it->second);
    const bool default_domain =
        node.domain().empty() || node.domain() == "ai.onnx";
    return default_domain && node.op_type() == op ? it->second : -1;
  }

  // The value of a one-element float Constant node's output.
  std::optional<double> Scalar(const std::string& value) const {
    auto it = producer_.find(value);
    if (it == producer_.end()) return std::nullopt;
    const auto& node = g_.node(it->second);
    if (node.op_type() != "Constant" ||
        !(node.domain().empty() || node.domain() == "ai.onnx")) {
      return std::nullopt;
    }
    for (const auto& a : node.attribute()) {
      if (a.name() == "value_float") return a.f();
      if (a.name() != "value") continue;
      absl::StatusOr<Tensor> t = TensorFromOnnx(a.t(), "", ".", 64);
      if (!t.ok() || t->num_elements() != 1) return std::nullopt;
      if (t->dtype() == DType::kF32) return t->data<float>()[0];
      if (t->dtype() == DType::kF64) return t->data<double>()[0];
    }
    return std::nullopt;
  }

  bool ScalarIs(const std::string& value, double want) const {
    std::optional<double> v = Scalar(value);
    // Within f32 rounding of `want` (sqrt(2) is 1.41421354f).
    return v.has_value() && std::abs(*v - want) <= 1e-6 * std::abs(want);
  }

 private:
  const ::onnx::GraphProto& g_;
  std::map<std::string, int> producer_;
  std::map<std::string, int> uses_;
};

// The other input of a two-input node than the one at `k`.
const std::string& Other(const ::onnx::NodeProto& n, int k) {
  return n.input(1 - k);
}

// Matches y = Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5) ending at node
// `last`, with commuted operands of Add and the Muls; the indices of the
// four earlier nodes and x.
bool MatchGelu(const ::onnx::GraphProto& g, const GraphIndex& index, int last,
               std::vector<int>* nodes, std::string* x) {
  const auto& m2 = g.node(last);
  if (m2.op_type() != "Mul" || m2.input_size() != 2) return false;
  for (int a = 0; a < 2; ++a) {
    if (!index.ScalarIs(Other(m2, a), 0.5)) continue;
    const int m1 = index.SoleProducer(m2.input(a), "Mul");
    if (m1 < 0 || g.node(m1).input_size() != 2) continue;
    for (int b = 0; b < 2; ++b) {
      const int add = index.SoleProducer(g.node(m1).input(b), "Add");
      if (add < 0 || g.node(add).input_size() != 2) continue;
      for (int c = 0; c < 2; ++c) {
        if (!index.ScalarIs(Other(g.node(add), c), 1.0)) continue;
        const int erf = index.SoleProducer(g.node(add).input(c), "Erf");
        if (erf < 0 || g.node(erf).input_size() != 1) continue;
        const int div = index.SoleProducer(g.node(erf).input(0), "Div");
        if (div < 0 || g.node(div).input_size() != 2) continue;
        const std::string& input = g.node(div).input(0);
        if (input != Other(g.node(m1), b) ||
            !index.ScalarIs(g.node(div).input(1), M_SQRT2)) {
          continue;
        }
        *nodes = {div, erf, add, m1};
        *x = input;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

OnnxFusions FindGeluPatterns(const ::onnx::GraphProto& g) {
  GraphIndex index(g);
  OnnxFusions fusions;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& node = g.node(i);
    if (!(node.domain().empty() || node.domain() == "ai.onnx")) continue;
    std::vector<int> nodes;
    std::string x;
    if (!MatchGelu(g, index, i, &nodes, &x)) continue;
    fusions.absorbed.insert(nodes.begin(), nodes.end());
    ::onnx::NodeProto gelu;
    gelu.set_name(node.name());
    gelu.set_op_type("Gelu");
    gelu.set_domain(kFusedOnnxDomain);
    gelu.add_input(x);
    gelu.add_output(node.output(0));
    fusions.fused[i] = std::move(gelu);
  }
  return fusions;
}

}  // namespace rill

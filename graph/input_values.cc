#include "graph/input_values.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rill {
namespace {

int64_t IntAttrOr(const Node& node, const char* key, int64_t fallback) {
  auto it = node.attr().find(key);
  return it == node.attr().end() ? fallback : it->second.i();
}

template <typename T>
int64_t FirstUnindexable(const T* v, int64_t n, const IndexUse& use) {
  for (int64_t k = 0; k < n; ++k) {
    const int64_t x = static_cast<int64_t>(v[k]);
    if ((x < 0 || x >= use.size) && !(use.has_allowed && x == use.allowed)) {
      return k;
    }
  }
  return -1;
}

template <typename T>
int64_t FirstOutside(const T* v, int64_t n, absl::Span<const int64_t> allowed) {
  for (int64_t k = 0; k < n; ++k) {
    if (std::find(allowed.begin(), allowed.end(), static_cast<int64_t>(v[k])) ==
        allowed.end()) {
      return k;
    }
  }
  return -1;
}

}  // namespace

absl::Span<const int64_t> AllowedValues(const Node& input) {
  auto it = input.attr().find("allowed_values");
  if (it == input.attr().end()) return {};
  const auto& list = it->second.list().i();
  return absl::MakeConstSpan(list.data(), list.size());
}

int64_t FirstDisallowedValue(const Tensor& t, int64_t count,
                             absl::Span<const int64_t> allowed) {
  if (allowed.empty()) return -1;
  switch (t.dtype()) {
    case DType::kI64:
      return FirstOutside(t.data<int64_t>(), count, allowed);
    case DType::kI32:
      return FirstOutside(t.data<int32_t>(), count, allowed);
    default:
      return -1;
  }
}

int64_t IntegerElement(const Tensor& t, int64_t k) {
  return t.dtype() == DType::kI64 ? t.data<int64_t>()[k] : t.data<int32_t>()[k];
}

std::string AllowedValuesText(absl::Span<const int64_t> allowed) {
  return absl::StrJoin(allowed, ", ");
}

std::vector<IndexUse> IndexUses(const ValidGraph& graph, int input) {
  std::vector<IndexUse> uses;
  for (int n = 0; n < graph.num_nodes(); ++n) {
    const NodeInfo& info = graph.info(n);
    const std::string op = graph.node_op(n);
    if ((op != "SoftmaxCrossEntropy" && op != "Gather") ||
        info.inputs.size() < 2 || info.inputs[1].node != input) {
      continue;
    }
    const TensorRef& from = info.inputs[0];
    const Shape& shape = graph.info(from.node).shapes[from.output];
    IndexUse use;
    use.consumer = n;
    if (op == "SoftmaxCrossEntropy") {
      if (shape.rank() == 0) continue;
      use.size = shape.dim(shape.rank() - 1);
      use.allowed = IntAttrOr(graph.node(n), "ignore_index", -100);
      use.has_allowed = true;
      use.what = "label";
    } else {
      int64_t axis = IntAttrOr(graph.node(n), "axis", 0);
      if (axis < 0) axis += shape.rank();
      if (axis < 0 || axis >= shape.rank()) continue;
      use.size = shape.dim(axis);
      use.what = "index";
    }
    if (use.size != kSymbolicDim) uses.push_back(use);
  }
  return uses;
}

int64_t FirstOutOfRange(const Tensor& t, int64_t count, const IndexUse& use) {
  switch (t.dtype()) {
    case DType::kI64:
      return FirstUnindexable(t.data<int64_t>(), count, use);
    case DType::kI32:
      return FirstUnindexable(t.data<int32_t>(), count, use);
    default:
      return -1;
  }
}

std::string OutOfRangeText(const ValidGraph& graph, const std::string& input,
                           const IndexUse& use, int64_t value) {
  return absl::StrCat(
      use.what, " ", value, " is outside [0, ", use.size, ")",
      use.has_allowed
          ? absl::StrCat(" (and not ignore_index ", use.allowed, ")")
          : "",
      "; input '", input, "' feeds ", graph.Describe(use.consumer));
}

}  // namespace rill

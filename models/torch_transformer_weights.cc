#include "models/torch_transformer_weights.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// The last part of every Parameter the attention and Transformer builders
// make.
bool IsKnownLeaf(const std::string& leaf) {
  static const auto* leaves = new std::set<std::string>{
      "in_proj_weight", "in_proj_bias",     "q_proj_weight",
      "k_proj_weight",  "v_proj_weight",    "out_proj.weight",
      "out_proj.bias",  "linear1.weight",   "linear1.bias",
      "linear2.weight", "linear2.bias",     "norm.weight",
      "norm.bias",      "norm1.weight",     "norm1.bias",
      "norm2.weight",   "norm2.bias",       "norm3.weight",
      "norm3.bias",     "embedding.weight", "positional.weight",
      "output.weight",  "output.bias"};
  return leaves->count(leaf) > 0;
}

}  // namespace

absl::StatusOr<std::vector<PyTorchWeight>> TransformerWeightNames(
    const Graph& graph) {
  std::vector<PyTorchWeight> out;
  std::string root;
  for (const Node& n : graph.node()) {
    if (n.op() != "Parameter") continue;
    const std::string& name = n.name();
    const size_t first = name.find('/');
    const std::string leaf = name.substr(name.rfind('/') + 1);
    if (first == std::string::npos || !IsKnownLeaf(leaf)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Parameter ", name,
          ": has no PyTorch name (expected <stack>/l<k>/weight_ih, ..., "
          "<head>/weight, or <root>/.../in_proj_weight, linear1.weight, "
          "norm1.weight, ... of an attention or Transformer model)"));
    }
    const std::string this_root = name.substr(0, first);
    if (!root.empty() && this_root != root) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Parameter ", name, ": a second root '", this_root, "' beside '",
          root, "'; PyTorch names cover one module"));
    }
    root = this_root;
    std::string key = name.substr(first + 1);
    std::replace(key.begin(), key.end(), '/', '.');
    out.push_back({name, key});
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("the graph has no Parameter");
  }
  return out;
}

}  // namespace rill

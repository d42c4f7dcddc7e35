#include "models/rnn_weights.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "models/torch_transformer_weights.h"
#include "ops/parameter_value.h"

namespace rill {
namespace {

// Generous: a Parameter's tensor, and an .npy file, are bounded by this.
constexpr int64_t kMaxWeightBytes = int64_t{4} << 30;

struct Split {
  std::string prefix, last;
};

// "a/b/c" -> {"a/b", "c"}; no '/': empty prefix.
Split SplitLast(const std::string& name) {
  size_t slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

bool IsLayerIndex(const std::string& s) {
  if (s.size() < 2 || s[0] != 'l') return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// <prefix>/l<k>/<w>[_reverse] -> <w>_l<k>[_reverse]; empty when not one.
std::string StackKey(const std::string& name, std::string* prefix) {
  Split leaf = SplitLast(name);
  Split layer = SplitLast(leaf.prefix);
  if (layer.prefix.empty() || !IsLayerIndex(layer.last)) return "";
  absl::string_view w = leaf.last;
  const bool reverse = absl::ConsumeSuffix(&w, "_reverse");
  if (w != "weight_ih" && w != "weight_hh" && w != "bias_ih" &&
      w != "bias_hh") {
    return "";
  }
  *prefix = layer.prefix;
  return absl::StrCat(w, "_", layer.last, reverse ? "_reverse" : "");
}

// Records `prefix` as the graph's one stack (or head) prefix.
absl::Status OnePrefix(const std::string& what, const std::string& node,
                       const std::string& prefix, std::string* seen) {
  if (seen->empty() || *seen == prefix) {
    *seen = prefix;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "Parameter ", node, ": a second ", what, " '", prefix, "' beside '",
      *seen, "'; PyTorch names cover one recurrent stack and one head"));
}

// The Parameter's declared dtype and shape, without decoding its data.
absl::Status ParameterType(const Node& n, DType* dtype, Shape* shape) {
  absl::Status s = SourceType(n, kMaxWeightBytes, dtype, shape);
  if (!s.ok()) return Annotate(s, absl::StrCat("Parameter ", n.name()));
  return absl::OkStatus();
}

// `t` (f32 or f64) as `dtype`.
absl::StatusOr<Tensor> Convert(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(dtype, t.shape()));
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const double v = t.ElementAsDouble(i);
    if (dtype == DType::kF32) {
      out.data<float>()[i] = static_cast<float>(v);
    } else {
      out.data<double>()[i] = v;
    }
  }
  return out;
}

// The file's tensor, checked against the Parameter and converted to its
// dtype.
absl::StatusOr<Tensor> ReadWeight(const std::string& path, const Node& n) {
  DType dtype;
  Shape shape;
  RETURN_IF_ERROR(ParameterType(n, &dtype, &shape));
  const std::string where = absl::StrCat(path, " (Parameter ", n.name(), ")");
  // f64 is the widest accepted dtype: a larger file is refused unread.
  absl::StatusOr<Tensor> t =
      ReadNpy(path, *shape.NumElements() * DTypeSize(DType::kF64));
  if (!t.ok()) {
    return absl::Status(
        t.status().code(),
        absl::StrCat(where, ": ", t.status().message(),
                     " (expected f32 or f64 ", shape.ToString(), ")"));
  }
  if (t->dtype() != DType::kF32 && t->dtype() != DType::kF64) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": dtype ", DTypeName(t->dtype()), ", expected f32 or f64"));
  }
  if (!(t->shape() == shape)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape ", t->shape().ToString(), ", expected ",
                     shape.ToString()));
  }
  return Convert(*t, dtype);
}

// The value to export for `n`: values[n] checked, or the graph's.
absl::StatusOr<Tensor> ExportValue(
    const Node& n, const std::map<std::string, Tensor>& values) {
  DType dtype;
  Shape shape;
  RETURN_IF_ERROR(ParameterType(n, &dtype, &shape));
  auto it = values.find(n.name());
  if (it == values.end()) {
    absl::StatusOr<Tensor> t = SourceValue(n, kMaxWeightBytes);
    if (!t.ok())
      return Annotate(t.status(), absl::StrCat("Parameter ", n.name()));
    return t;
  }
  const Tensor& t = it->second;
  if (t.dtype() != dtype || !(t.shape() == shape)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Parameter ", n.name(), ": value is ", DTypeName(t.dtype()),
        t.shape().ToString(), ", the graph declares ", DTypeName(dtype),
        shape.ToString()));
  }
  return t;
}

// Node index by name, for the Parameters of `graph`.
std::map<std::string, int> ParameterIndex(const Graph& graph) {
  std::map<std::string, int> index;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (graph.node(i).op() == "Parameter") index[graph.node(i).name()] = i;
  }
  return index;
}

absl::Status NoParameter(const std::string& node) {
  return absl::InvalidArgumentError(
      absl::StrCat("the graph has no Parameter '", node, "'"));
}

}  // namespace

std::string WeightFilePath(const std::string& dir, const std::string& key) {
  return absl::StrCat(dir, "/", key, ".npy");
}

absl::StatusOr<std::vector<PyTorchWeight>> PyTorchWeightNames(
    const Graph& graph) {
  // A graph with no recurrent-stack Parameter is named as an attention or
  // Transformer model.
  const bool recurrent =
      std::any_of(graph.node().begin(), graph.node().end(), [](const Node& n) {
        std::string prefix;
        return n.op() == "Parameter" && !StackKey(n.name(), &prefix).empty();
      });
  if (!recurrent) return TransformerWeightNames(graph);
  std::vector<PyTorchWeight> out;
  std::string stack, head;
  for (const Node& n : graph.node()) {
    if (n.op() != "Parameter") continue;
    std::string prefix;
    std::string key = StackKey(n.name(), &prefix);
    if (!key.empty()) {
      RETURN_IF_ERROR(OnePrefix("recurrent stack", n.name(), prefix, &stack));
      out.push_back({n.name(), key});
      continue;
    }
    Split leaf = SplitLast(n.name());
    if (!leaf.prefix.empty() &&
        (leaf.last == "weight" || leaf.last == "bias")) {
      RETURN_IF_ERROR(OnePrefix("head", n.name(), leaf.prefix, &head));
      // nn.Module keys use '.' where rill node names use '/'.
      std::string module = leaf.prefix;
      std::replace(module.begin(), module.end(), '/', '.');
      out.push_back({n.name(), absl::StrCat(module, ".", leaf.last)});
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "Parameter ", n.name(),
        ": has no PyTorch name (expected <stack>/l<k>/weight_ih, ... or "
        "<head>/weight, <head>/bias)"));
  }
  return out;
}

absl::Status ImportPyTorchWeights(const std::string& dir, Graph* graph) {
  ASSIGN_OR_RETURN(std::vector<PyTorchWeight> names,
                   PyTorchWeightNames(*graph));
  return ImportWeightFiles(dir, names, graph);
}

absl::Status ImportWeightFiles(const std::string& dir,
                               const std::vector<PyTorchWeight>& names,
                               Graph* graph) {
  std::map<std::string, int> index = ParameterIndex(*graph);
  // Everything is read and checked before the graph changes.
  std::vector<std::pair<int, Tensor>> loaded;
  for (const PyTorchWeight& w : names) {
    auto it = index.find(w.node);
    if (it == index.end()) return NoParameter(w.node);
    const int i = it->second;
    ASSIGN_OR_RETURN(Tensor t,
                     ReadWeight(WeightFilePath(dir, w.key), graph->node(i)));
    loaded.emplace_back(i, std::move(t));
  }
  for (const auto& [i, t] : loaded) {
    SetParameterValue(t, graph->mutable_node(i));
  }
  return absl::OkStatus();
}

absl::Status ExportPyTorchWeights(const Graph& graph,
                                  const std::map<std::string, Tensor>& values,
                                  const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<PyTorchWeight> names, PyTorchWeightNames(graph));
  return ExportWeightFiles(graph, names, values, dir);
}

absl::Status ExportWeightFiles(const Graph& graph,
                               const std::vector<PyTorchWeight>& names,
                               const std::map<std::string, Tensor>& values,
                               const std::string& dir) {
  std::map<std::string, int> index = ParameterIndex(graph);
  std::vector<std::pair<std::string, Tensor>> files;
  for (const PyTorchWeight& w : names) {
    auto it = index.find(w.node);
    if (it == index.end()) return NoParameter(w.node);
    ASSIGN_OR_RETURN(Tensor t, ExportValue(graph.node(it->second), values));
    files.emplace_back(WeightFilePath(dir, w.key), std::move(t));
  }
  for (const auto& [path, t] : files) RETURN_IF_ERROR(WriteNpy(path, t));
  return absl::OkStatus();
}

}  // namespace rill

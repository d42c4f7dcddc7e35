#include "graph/inference_graph.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/fuse_recurrent.h"
#include "graph/validate.h"

namespace rill {
namespace {

// Node indices by name (a valid graph names each node once).
std::map<std::string, int> NodeIndex(const Graph& graph) {
  std::map<std::string, int> index;
  for (int n = 0; n < graph.node_size(); ++n) {
    index.emplace(graph.node(n).name(), n);
  }
  return index;
}

// The node that reference `ref` ("node" or "node:k") reads, or -1.
int NodeOf(const std::map<std::string, int>& index, const std::string& ref) {
  std::string name;
  int k = 0;
  if (!ParseInputRef(ref, &name, &k).ok()) return -1;
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

// Which nodes `ref` needs, itself included.
std::vector<bool> Needed(const Graph& graph,
                         const std::map<std::string, int>& index,
                         const std::vector<std::string>& refs) {
  std::vector<bool> needed(graph.node_size(), false);
  std::vector<int> stack;
  for (const std::string& ref : refs) stack.push_back(NodeOf(index, ref));
  while (!stack.empty()) {
    const int n = stack.back();
    stack.pop_back();
    if (n < 0 || needed[n]) continue;
    needed[n] = true;
    for (const std::string& in : graph.node(n).input()) {
      stack.push_back(NodeOf(index, in));
    }
  }
  return needed;
}

// The Input nodes among `needed`.
std::set<int> InputsAmong(const Graph& graph, const std::vector<bool>& needed) {
  std::set<int> inputs;
  for (int n = 0; n < graph.node_size(); ++n) {
    if (needed[n] && graph.node(n).op() == "Input") inputs.insert(n);
  }
  return inputs;
}

// Output k of reference `ref`; -1 when it is malformed.
int OutputOf(const std::string& ref) {
  std::string name;
  int k = 0;
  return ParseInputRef(ref, &name, &k).ok() ? k : -1;
}

// What `ref` stands for once Dropouts are gone: output 0 of a Dropout is
// what the Dropout reads, through chains of them.
std::string ThroughDropouts(const Graph& graph,
                            const std::map<std::string, int>& index,
                            std::string ref) {
  for (int n = NodeOf(index, ref);
       n >= 0 && graph.node(n).op() == "Dropout" && OutputOf(ref) == 0;
       n = NodeOf(index, ref)) {
    ref = graph.node(n).input(0);
  }
  return ref;
}

}  // namespace

std::vector<std::string> LossInputs(const Graph& graph) {
  const std::map<std::string, int> index = NodeIndex(graph);
  std::set<int> all, common;
  bool first = true;
  for (const std::string& out : graph.output()) {
    std::set<int> inputs = InputsAmong(graph, Needed(graph, index, {out}));
    all.insert(inputs.begin(), inputs.end());
    if (first) {
      common = inputs;
    } else {
      std::set<int> both;
      std::set_intersection(common.begin(), common.end(), inputs.begin(),
                            inputs.end(), std::inserter(both, both.begin()));
      common = std::move(both);
    }
    first = false;
  }
  std::set<int> loss;
  for (int n : all) {
    if (!common.count(n)) loss.insert(n);
  }
  // What a loss op compares its prediction with (its labels, its target).
  for (const Node& node : graph.node()) {
    if (node.op() != "SoftmaxCrossEntropy" && node.op() != "MeanSquaredError") {
      continue;
    }
    std::set<int> prediction =
        InputsAmong(graph, Needed(graph, index, {node.input(0)}));
    for (int n : InputsAmong(graph, Needed(graph, index, {node.input(1)}))) {
      if (!prediction.count(n)) loss.insert(n);
    }
  }
  std::vector<std::string> names;
  for (int n : loss) names.push_back(graph.node(n).name());
  return names;
}

std::vector<std::string> InferenceFetches(const Graph& graph) {
  const std::map<std::string, int> index = NodeIndex(graph);
  std::set<int> loss;
  for (const std::string& name : LossInputs(graph)) loss.insert(index.at(name));
  std::vector<std::string> fetches;
  for (const std::string& out : graph.output()) {
    std::set<int> inputs = InputsAmong(graph, Needed(graph, index, {out}));
    if (std::none_of(inputs.begin(), inputs.end(),
                     [&](int n) { return loss.count(n) > 0; })) {
      fetches.push_back(out);
    }
  }
  return fetches;
}

absl::StatusOr<Graph> InferenceGraph(const Graph& unfused,
                                     const std::vector<std::string>& fetches) {
  // Fused first, as loading the training graph fuses it: cut down to what
  // the fetches need, an unrolled layer loses the steps nobody reads (a
  // reverse direction under a last-step head), the pass no longer matches
  // it, and the model would run it unrolled, slower and not bit for bit.
  Graph graph = unfused;
  RETURN_IF_ERROR(FuseRecurrentLayers(&graph).status());
  const std::map<std::string, int> index = NodeIndex(graph);
  const std::vector<std::string> loss = LossInputs(graph);
  for (const std::string& fetch : fetches) {
    if (NodeOf(index, fetch) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("fetch '", fetch, "' names no node of the graph"));
    }
    const std::vector<bool> needed = Needed(graph, index, {fetch});
    for (const std::string& input : loss) {
      if (!needed[index.at(input)]) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          "fetch '", fetch, "' needs the loss input '", input,
          "', which an inference model does not take (its loss inputs: ",
          absl::StrJoin(loss, ", "),
          "); fetch outputs that need only the model's inputs"));
    }
  }
  std::set<std::string> fetched;
  for (const std::string& fetch : fetches) {
    std::string name;
    int k = 0;
    if (ParseInputRef(fetch, &name, &k).ok()) fetched.insert(name);
  }
  // Dropouts out: consumers rewired, a fetched one made an Identity.
  Graph rewired = graph;
  for (Node& node : *rewired.mutable_node()) {
    for (std::string& in : *node.mutable_input()) {
      in = ThroughDropouts(graph, index, in);
    }
    if (node.op() == "Dropout" && fetched.count(node.name())) {
      node.set_op("Identity");
      node.clear_attr();
    }
  }
  const std::vector<bool> needed = Needed(rewired, index, fetches);
  for (int n = 0; n < rewired.node_size(); ++n) {
    if (!needed[n]) continue;
    for (const std::string& in : rewired.node(n).input()) {
      const int producer = NodeOf(index, in);
      if (producer >= 0 && rewired.node(producer).op() == "Dropout") {
        return absl::InvalidArgumentError(absl::StrCat(
            "node '", rewired.node(n).name(), "' reads the mask of Dropout '",
            graph.node(producer).name(),
            "', which an inference model does not have"));
      }
    }
  }
  Graph out;
  for (int n = 0; n < rewired.node_size(); ++n) {
    if (needed[n]) *out.add_node() = rewired.node(n);
  }
  for (const std::string& fetch : fetches) out.add_output(fetch);
  return out;
}

}  // namespace rill

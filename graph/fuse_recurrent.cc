#include "graph/fuse_recurrent.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace rill {
namespace {

// "node" and "node:0" are one tensor; node names never hold ':'.
std::string Canonical(const std::string& ref) {
  return ref.find(':') == std::string::npos ? ref + ":0" : ref;
}

// What one tagged layer replaces, by canonical reference: its output
// sequence, final h and c (fused outputs 0, 1, 2), and the step outputs
// that are not the final h (Gathers of output 0, made when first read).
struct Tag {
  std::string fused;
  std::map<std::string, std::string> outputs;
  std::map<std::string, int64_t> steps;
};

absl::StatusOr<std::vector<Tag>> ReadTags(const Graph& graph) {
  std::vector<Tag> tags;
  std::map<std::string, std::string> owner;  // Replaced tensor -> tag.
  for (const Node& n : graph.node()) {
    if (n.op() != "RecurrentLayer") continue;
    auto it = n.attr().find("stands_for");
    if (it == n.attr().end() || it->second.list().s_size() == 0) continue;
    const auto& names = it->second.list().s();
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node '", n.name(), "' (RecurrentLayer): attr 'stands_for': ", why));
    };
    if (names.size() < 4) {
      return bad(absl::StrCat("lists ", names.size(),
                              " tensors; expected the output sequence, the "
                              "final h and c, and at least one step"));
    }
    Tag tag;
    tag.fused = n.name();
    auto claim = [&](const std::string& ref) -> absl::Status {
      auto [at, fresh] = owner.emplace(Canonical(ref), n.name());
      if (fresh) return absl::OkStatus();
      return bad(
          absl::StrCat("'", ref, "' is also claimed by '", at->second, "'"));
    };
    for (int k = 0; k < 3; ++k) {
      if (names[k].empty()) continue;  // No cell state.
      RETURN_IF_ERROR(claim(names[k]));
      tag.outputs[Canonical(names[k])] = absl::StrCat(n.name(), ":", k);
    }
    for (int k = 3; k < names.size(); ++k) {
      const std::string ref = Canonical(names[k]);
      if (tag.outputs.count(ref) > 0) continue;  // The last step is hn.
      RETURN_IF_ERROR(claim(names[k]));
      tag.steps[ref] = k - 3;
    }
    tags.push_back(std::move(tag));
  }
  return tags;
}

// Node <fused>/step<t> = Gather(<fused>:0, t) and its index Const.
std::string AddStepGather(Graph* graph, const std::string& fused, int64_t t) {
  const std::string name = absl::StrCat(fused, "/step", t);
  Node* index = graph->add_node();
  index->set_name(name + "_index");
  index->set_op("Const");
  TensorProto* value = (*index->mutable_attr())["value"].mutable_tensor();
  value->set_dtype(DT_INT64);
  value->add_int64_val(t);
  Node* gather = graph->add_node();
  gather->set_name(name);
  gather->set_op("Gather");
  gather->add_input(fused + ":0");
  gather->add_input(index->name());
  return name;
}

}  // namespace

absl::StatusOr<int> FuseRecurrentLayers(Graph* graph) {
  ASSIGN_OR_RETURN(std::vector<Tag> tags, ReadTags(*graph));
  if (tags.empty()) return 0;
  std::map<std::string, std::string> made;  // Step tensor -> its Gather.
  auto replacement = [&](const std::string& ref) -> std::string {
    const std::string canonical = Canonical(ref);
    for (const Tag& tag : tags) {
      auto out = tag.outputs.find(canonical);
      if (out != tag.outputs.end()) return out->second;
      auto step = tag.steps.find(canonical);
      if (step == tag.steps.end()) continue;
      auto it = made.find(canonical);
      if (it == made.end()) {
        it = made.emplace(canonical,
                          AddStepGather(graph, tag.fused, step->second))
                 .first;
      }
      return it->second;
    }
    return ref;
  };
  // Every consumer is rewired, the unrolled layers' own nodes too: those
  // fall out of use anyway, and no rule about names is needed.
  const int original = graph->node_size();
  for (int i = 0; i < original; ++i) {
    Node* n = graph->mutable_node(i);
    for (std::string& in : *n->mutable_input()) in = replacement(in);
  }
  for (std::string& out : *graph->mutable_output()) out = replacement(out);
  return static_cast<int>(tags.size());
}

}  // namespace rill

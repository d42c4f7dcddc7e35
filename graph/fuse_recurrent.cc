#include "graph/fuse_recurrent.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "ops/op_def.h"

namespace rill {
namespace {

// Every tag's stands_for[k] -> replaced_by[k], by canonical reference.
absl::StatusOr<std::map<std::string, std::string>> ReadTags(const Graph& graph,
                                                            int* layers) {
  std::map<std::string, std::string> replacement;
  std::map<std::string, std::string> owner;  // Replaced tensor -> tag.
  *layers = 0;
  for (const Node& n : graph.node()) {
    if (n.op() != "RecurrentLayer") continue;
    auto from = n.attr().find("stands_for");
    if (from == n.attr().end() || from->second.list().s_size() == 0) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", n.name(), "' (RecurrentLayer): ", why));
    };
    auto to = n.attr().find("replaced_by");
    const auto& names = from->second.list().s();
    if (to == n.attr().end() || to->second.list().s_size() != names.size()) {
      return bad(
          absl::StrCat("attr 'stands_for' lists ", names.size(),
                       " tensors but 'replaced_by' ",
                       to == n.attr().end() ? 0 : to->second.list().s_size()));
    }
    for (int k = 0; k < names.size(); ++k) {
      const std::string& with = to->second.list().s(k);
      if (names[k].empty() || with.empty()) {
        return bad(absl::StrCat("attr 'stands_for' or 'replaced_by': entry ", k,
                                " is empty"));
      }
      auto [at, fresh] = owner.emplace(CanonicalTensorRef(names[k]), n.name());
      if (!fresh) {
        return bad(absl::StrCat("attr 'stands_for': '", names[k],
                                "' is also claimed by '", at->second, "'"));
      }
      replacement[CanonicalTensorRef(names[k])] = with;
    }
    ++*layers;
  }
  return replacement;
}

}  // namespace

absl::StatusOr<int> FuseRecurrentLayers(Graph* graph) {
  int layers = 0;
  ASSIGN_OR_RETURN(auto replacement, ReadTags(*graph, &layers));
  auto rewire = [&](std::string& ref) {
    auto it = replacement.find(CanonicalTensorRef(ref));
    if (it != replacement.end()) ref = it->second;
  };
  // Every consumer is rewired, the unrolled layers' own nodes too: those
  // fall out of use anyway, and no rule about names is needed.
  for (Node& n : *graph->mutable_node()) {
    for (std::string& in : *n.mutable_input()) rewire(in);
  }
  for (std::string& out : *graph->mutable_output()) rewire(out);
  return layers;
}

}  // namespace rill

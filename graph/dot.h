#ifndef RILL_GRAPH_DOT_H_
#define RILL_GRAPH_DOT_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "graph/validate.h"

namespace rill {

struct DotOptions {
  // Draw only what these tensors ("node" or "node:k") need, and mark them
  // as the outputs; empty: the whole graph and its declared outputs.
  std::vector<std::string> fetches;
  // Box the nodes of each "/" scope ("layer0/attn/q") in a nested cluster
  // labelled with the scope, so that a large graph reads as its layers.
  bool group_scopes = false;
};

// Graphviz DOT: one box per node (name and op), one edge per input,
// labelled with the tensor's dtype and shape. A fetch that names no tensor
// of the graph is an error.
absl::StatusOr<std::string> ToDot(const ValidGraph& graph,
                                  const DotOptions& options = {});

}  // namespace rill

#endif  // RILL_GRAPH_DOT_H_

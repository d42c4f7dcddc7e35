#ifndef RILL_GRAPH_DOT_H_
#define RILL_GRAPH_DOT_H_

#include <string>

#include "graph/validate.h"

namespace rill {

// Graphviz DOT: one box per node (name and op), one edge per input,
// labelled with the tensor's dtype and shape.
std::string ToDot(const ValidGraph& graph);

}  // namespace rill

#endif  // RILL_GRAPH_DOT_H_

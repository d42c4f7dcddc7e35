#ifndef RILL_GRAPH_AUTODIFF_H_
#define RILL_GRAPH_AUTODIFF_H_

// Reverse-mode autodiff as a graph-to-graph pass (DESIGN.md, decision 4):
// the gradient of a graph is the same graph plus primitive-op nodes that
// compute the gradients, which people can read, dump and run, and which can
// be differentiated again.

#include <string>
#include <vector>

#include "graph/loader.h"
#include "graph/validate.h"

namespace rill {

struct GradientRequest {
  // The tensors whose gradients start the backward pass, "node" or
  // "node:k". Each must have one element unless `seed_inputs` is set.
  std::vector<std::string> losses;
  // Give every loss an Input node `<loss>/grad/seed` of its dtype and
  // shape, fed at run time, as its incoming gradient: then a non-scalar
  // output gives vector-Jacobian products.
  bool seed_inputs = false;
  // The tensors to differentiate with respect to.
  std::vector<std::string> wrt;
  // Also every Parameter node, in node order.
  bool wrt_params = false;
  // A wrt tensor from which no differentiable path leads to a loss is an
  // error; with this set its gradient is zero instead, with a warning.
  bool allow_unreached = false;
};

struct GradientGraph {
  // The forward nodes (same order, same source lines), then the backward
  // nodes, which are named `<forward node>/grad/...`. Outputs: the forward
  // graph's, the losses, then the gradients. Validated: an Executor runs
  // it, and graph.proto() prints as text proto.
  ValidGraph graph;
  // wrt[i] (params expanded) has its gradient in node gradients[i], named
  // `<wrt>/grad`.
  std::vector<std::string> wrt;
  std::vector<std::string> gradients;
  // With seed_inputs: the Input node to feed for each loss.
  std::vector<std::string> seeds;
  std::vector<std::string> warnings;
};

// Errors name the node and op concerned: a loss with more than one element
// and no seeds, a wrt tensor that does not reach a loss, an op on the path
// whose gradient is missing.
absl::StatusOr<GradientGraph> BuildGradientGraph(
    const ValidGraph& forward, const GradientRequest& request);
// The same, taking the forward graph apart instead of copying it (large
// graphs): `forward` is not usable afterwards.
absl::StatusOr<GradientGraph> BuildGradientGraph(
    ValidGraph&& forward, const GradientRequest& request);

}  // namespace rill

#endif  // RILL_GRAPH_AUTODIFF_H_

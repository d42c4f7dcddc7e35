#ifndef RILL_GRAPH_FUSE_RECURRENT_H_
#define RILL_GRAPH_FUSE_RECURRENT_H_

// The fusion pass for recurrent layers (issue 6). models/rnn.h writes each
// unidirectional, fixed-length layer twice: unrolled into primitive ops
// (the semantic truth) and as one RecurrentLayer node, <prefix>/fused,
// whose `stands_for` attr names the unrolled tensors it replaces (the
// output sequence, the final h and c, each step's output). Unfused, nothing
// reads that node and it never runs. The pass rewires every consumer of
// those tensors (and the graph's outputs) to the fused node, so that the
// unrolled nodes fall out of use instead: the layer then runs on oneDNN's
// RNN primitives, and autodiff, run after the pass, differentiates it
// through RecurrentLayerGrad. `--no-fuse` skips the pass.

#include "absl/status/statusor.h"
#include "proto/graph.pb.h"

namespace rill {

// Rewires the consumers of every tagged layer of `graph`; returns how many
// layers were fused. Step t's output becomes a Gather of the fused output
// sequence (node <fused>/step<t>). Fails, changing nothing, when a tag is
// malformed (a `stands_for` that does not list 3 + T tensors, or names a
// tensor twice).
absl::StatusOr<int> FuseRecurrentLayers(Graph* graph);

}  // namespace rill

#endif  // RILL_GRAPH_FUSE_RECURRENT_H_

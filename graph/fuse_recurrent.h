#ifndef RILL_GRAPH_FUSE_RECURRENT_H_
#define RILL_GRAPH_FUSE_RECURRENT_H_

// The fusion pass for recurrent layers (issue 6). models/rnn.h writes each
// fixed-length layer twice: unrolled into primitive ops (the semantic
// truth), and fused: a RecurrentLayer node per direction (the backward one
// with `reverse`), the directions merged, each step's output gathered. The
// forward node, <prefix>/fused, carries the tag: its `stands_for` names the
// unrolled tensors (output sequence, final states, step outputs) and
// `replaced_by` their fused equivalents. Unfused, nothing reads the fused nodes
// and they never run. The pass rewires every consumer of those tensors (and the
// graph's outputs) to their replacements, so that the unrolled nodes fall out
// of use instead: the layer then runs on oneDNN's RNN primitives, and autodiff,
// run after the pass, differentiates it through RecurrentLayerGrad. `--no-fuse`
// skips the pass.

#include "absl/status/statusor.h"
#include "proto/graph.pb.h"

namespace rill {

// Rewires the consumers of every tagged layer of `graph`; returns how many
// layers were fused. Fails, changing nothing, when a tag is malformed:
// `stands_for` and `replaced_by` of different lengths, an empty entry, or a
// tensor that two tags claim.
absl::StatusOr<int> FuseRecurrentLayers(Graph* graph);

}  // namespace rill

#endif  // RILL_GRAPH_FUSE_RECURRENT_H_

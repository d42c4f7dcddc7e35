#ifndef RILL_GRAPH_INFERENCE_GRAPH_H_
#define RILL_GRAPH_INFERENCE_GRAPH_H_

// The graph of an inference model (`rill export`): only what its fetches
// need, without the inputs that only a loss reads, and without Dropout.

#include <string>
#include <vector>

#include "core/status.h"
#include "proto/graph.pb.h"

namespace rill {

// The graph's loss inputs, in node order: the Inputs that some of its
// outputs need and others do not (BERT's masked_lm_*,
// next_sentence_labels), and those that only the labels or target of a
// loss op (SoftmaxCrossEntropy, MeanSquaredError) need. The rest are the
// model's own inputs.
std::vector<std::string> LossInputs(const Graph& graph);

// What `rill export` fetches by default: the graph's outputs that need no
// loss input (for BERT: sequence_output, pooled_output, nsp_logits).
std::vector<std::string> InferenceFetches(const Graph& graph);

// `graph`, its recurrent layers fused (graph/fuse_recurrent.h: the model
// runs as the training graph runs), cut down to the nodes `fetches`
// ("node" or "node:k") need, with
// each Dropout removed (its consumers read its input instead; a fetched
// Dropout becomes an Identity of the same name), and its outputs set to
// `fetches`. Errors: a fetch that names no node, or that needs a loss input
// (naming both), or a node that reads a Dropout's mask.
absl::StatusOr<Graph> InferenceGraph(const Graph& graph,
                                     const std::vector<std::string>& fetches);

}  // namespace rill

#endif  // RILL_GRAPH_INFERENCE_GRAPH_H_

#ifndef RILL_RUNTIME_MODEL_H_
#define RILL_RUNTIME_MODEL_H_

// Inference models: what `rill export` writes and `rill run MODEL`,
// `rill predict` and LoadModel read. A model is a directory:
//
//   manifest.txt   "rill-model 1", then "key: value" lines: graph,
//                  weights, and for text models vocab, lowercase, labels
//   graph.pbtxt    the graph, structure only: what its outputs need, no
//                  loss inputs, no Dropout; every Parameter a zeros
//                  initializer of its dtype and shape
//   weights.rckpt  the parameters' values, a checkpoint (core/checkpoint.h)
//                  of "param/<node>" tensors, read straight into the
//                  executor as `rill run --params` reads one
//   vocab.txt, labels.txt   optional (`rill predict`)
//
// It is written to MODEL.partial and renamed to MODEL once complete, so a
// MODEL directory is never half-written.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "graph/validate.h"
#include "runtime/executor.h"

namespace rill {

inline constexpr char kModelManifestFile[] = "manifest.txt";

// A model's manifest, its file names resolved against the model directory.
struct ModelManifest {
  std::string graph;    // Path of graph.pbtxt.
  std::string weights;  // Path of weights.rckpt.
  std::string vocab;    // Path of the WordPiece vocabulary, or "".
  bool lowercase = false;
  std::string labels;  // Path of the label names, one a line, or "".
};

// Whether `path` is a directory holding a manifest.txt.
bool IsModelDir(const std::string& path);
// Errors name the manifest's file and line.
absl::StatusOr<ModelManifest> ReadModelManifest(const std::string& dir);

struct ExportOptions {
  // What the model computes; empty: InferenceFetches (graph/inference_graph.h).
  std::vector<std::string> fetches;
  // The checkpoint file whose parameters to bake in; "": the graph's own.
  std::string params;
  // Files to bundle for `rill predict`; "": none.
  std::string vocab, labels;
  bool lowercase = false;
  int64_t max_file_bytes = int64_t{1} << 30;
  int64_t memory_budget = kDefaultMemoryBudgetBytes;
};

// What an export wrote.
struct ExportSummary {
  std::vector<std::string> inputs;   // The model's Input nodes.
  std::vector<std::string> outputs;  // Its fetches.
  int kept_nodes = 0, graph_nodes = 0;
  int dropouts_removed = 0;
  int64_t parameters = 0, values = 0;
  int num_labels = 0;  // Lines of the labels file; 0 without one.
};

// Writes the inference model of `graph` to directory `dir`, which must not
// exist. On error nothing is left at `dir` or `dir`.partial.
absl::StatusOr<ExportSummary> ExportModel(const ValidGraph& graph,
                                          const std::string& dir,
                                          const ExportOptions& options);

struct LoadModelOptions {
  ExecutorOptions executor;    // Inference mode unless it asks for training.
  bool fuse_recurrent = true;  // graph/fuse_recurrent.h, as `rill run` does.
  int64_t max_file_bytes = int64_t{1} << 30;
  int64_t memory_budget = kDefaultMemoryBudgetBytes;
};

// The executor of the model in `dir`, its parameters read from the
// weights. Run it with the graph's outputs (executor->graph().proto()
// .output()) as fetches.
absl::StatusOr<std::unique_ptr<Executor>> LoadModel(
    const std::string& dir, const LoadModelOptions& options = {});

}  // namespace rill

#endif  // RILL_RUNTIME_MODEL_H_

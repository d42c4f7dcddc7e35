#ifndef RILL_CONFIG_TRAIN_CONFIG_H_
#define RILL_CONFIG_TRAIN_CONFIG_H_

// `rill train`'s configs: a TrainConfig text proto (proto/train.proto)
// turned into what the in-memory trainer (train/trainer.h) takes: the graph
// (a graph file, or the one a model spec describes), its .npy data, and the
// training options. Relative paths are resolved against the config's
// directory (and may leave it); absolute paths are taken as they are.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "core/limits.h"
#include "core/status.h"
#include "graph/validate.h"
#include "proto/train.pb.h"
#include "train/trainer.h"

namespace rill {

// What a command line adds to a config.
struct TrainSetupOptions {
  // Kernel threads (core/threads.h); -1 takes the config's `threads`.
  int64_t threads = -1;
  // "f32" or "bf16" overrides the config's `precision`; "" keeps it.
  std::string precision;
  // What the graph's values (and a model spec's parameters) may take.
  MemoryBudget memory_budget;
  // Overrides init_from.path (as given: relative to the working directory).
  std::string init_from;
  // The run resumes from a checkpoint, which holds every parameter:
  // init_from is not applied.
  bool resume = false;
};

struct TrainSetup {
  ValidGraph graph;
  TrainData data;
  TrainOptions options;
};

// Reads a TrainConfig text proto (size-capped); errors name the file.
absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path);
// The same parse of a config already read; errors name `name`.
absl::StatusOr<TrainConfig> ParseTrainConfig(absl::string_view text,
                                             const std::string& name);

// Checks the fields the trainer does not see (errors name the field), sets
// the kernels' thread count, and loads the graph and the data from
// `config_dir`. The setup's options are `options` with the config in them.
absl::StatusOr<TrainSetup> LoadTrainSetup(const TrainConfig& config,
                                          const std::string& config_dir,
                                          TrainOptions options,
                                          const TrainSetupOptions& setup = {});

// LoadTrainSetup, then Trainer::Create.
absl::StatusOr<std::unique_ptr<Trainer>> CreateTrainer(
    const TrainConfig& config, const std::string& config_dir,
    TrainOptions options, const TrainSetupOptions& setup = {});

// The same for the config file at `path`, read relative to its directory;
// every error names `path`.
absl::StatusOr<std::unique_ptr<Trainer>> CreateTrainer(
    const std::string& path, TrainOptions options,
    const TrainSetupOptions& setup = {});

}  // namespace rill

#endif  // RILL_CONFIG_TRAIN_CONFIG_H_

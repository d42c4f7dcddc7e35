#ifndef RILL_TRAIN_DATA_H_
#define RILL_TRAIN_DATA_H_

// Training data: named arrays whose first axis indexes examples, cut into
// batches in a seeded order that a checkpoint can restore exactly.

#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

// Arrays bound to graph inputs, all with the same number of examples.
struct Dataset {
  std::vector<std::string> inputs;  // Graph Input names.
  std::vector<Tensor> arrays;       // arrays[i] feeds inputs[i].
  // Where arrays[i] came from (a file name), for error messages; empty for
  // arrays made in memory.
  std::vector<std::string> sources;
  int64_t size() const { return arrays.empty() ? 0 : arrays[0].shape().dim(0); }
  // The first `n` examples, and the rest (copies).
  absl::StatusOr<std::pair<Dataset, Dataset>> SplitAt(int64_t n) const;
};

// Checks that each array feeds its own Input node of `graph`, example by
// example (its dtype, its rank, its dims past the first), and that all hold
// the same number of examples. Errors name `field`[i], as a TrainConfig's
// `data` bindings do.
absl::Status CheckDataset(const ValidGraph& graph, const Dataset& data,
                          const std::string& field);

// The order in which the examples are visited, epoch after epoch: every
// example once per epoch, reshuffled at each epoch's start when `shuffle`.
// Batches have exactly `batch_size` examples; an epoch's remainder (fewer
// than a batch) is skipped, so every step sees the same shapes.
class BatchOrder {
 public:
  BatchOrder(int64_t num_examples, int64_t batch_size, bool shuffle,
             uint64_t seed);
  int64_t batches_per_epoch() const { return num_examples_ / batch_size_; }
  // The example indices of the next batch.
  const int64_t* Next();

  // The position, as bytes: the RNG state at the current epoch's start,
  // the epoch and the batch within it. Restore() puts it back exactly.
  std::string Save() const;
  absl::Status Restore(const std::string& bytes);

 private:
  void StartEpoch();
  int64_t num_examples_, batch_size_;
  bool shuffle_;
  SplitMix64 rng_;
  uint64_t epoch_start_state_ = 0;
  int64_t epoch_ = -1, batch_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace rill

#endif  // RILL_TRAIN_DATA_H_

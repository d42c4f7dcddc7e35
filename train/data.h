#ifndef RILL_TRAIN_DATA_H_
#define RILL_TRAIN_DATA_H_

// Training data: named arrays whose first axis indexes examples, cut into
// batches in a seeded order that a checkpoint can restore exactly. An array
// is a tensor in memory, or .npy shards on disk whose rows are read as the
// batches need them, so that a data set larger than memory trains in flat
// memory (the page cache, not the process, holds the files).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

// The examples of one input: a tensor, or shards streamed from disk.
class DataArray {
 public:
  DataArray() = default;
  // In memory. Implicit: a Tensor is an array.
  DataArray(Tensor tensor);  // NOLINT(runtime/explicit)

  // .npy files concatenated on axis 0, in the order given. Only their
  // headers are read here; every shard must have the first one's dtype and
  // dims past the first (errors name the file).
  static absl::StatusOr<DataArray> OpenShards(
      const std::vector<std::string>& paths);

  DType dtype() const { return dtype_; }
  // [examples, ...].
  const Shape& shape() const { return shape_; }
  bool streamed() const { return shards_ != nullptr; }
  int64_t num_shards() const;

  // Copies rows rows[0..n) into the first n rows of `to` (of this dtype,
  // dims past the first alike, at least n rows). From shards, each shard
  // is opened once per call and the rows are read with pread; a file that
  // changed since OpenShards, or a bool that is not 0 or 1, is an error
  // naming the file and row. Not thread-safe (a scratch buffer is reused
  // so that a training step allocates nothing).
  absl::Status Gather(const int64_t* rows, int64_t n, Tensor& to) const;

  // Rows [begin, end): a copy in memory, a view of the same files on disk.
  absl::StatusOr<DataArray> Slice(int64_t begin, int64_t end) const;

  // Where row `row` lies: its shard's path and the row in that file; for
  // an array in memory, "" and `row`.
  std::pair<std::string, int64_t> Locate(int64_t row) const;

 private:
  struct Shard {
    std::string path;
    int64_t first_row = 0;  // Of the concatenation.
    int64_t rows = 0;
    int64_t data_offset = 0;
  };
  absl::Status GatherFromShards(const int64_t* rows, int64_t n,
                                Tensor& to) const;

  DType dtype_ = DType::kF32;
  Shape shape_;
  Tensor tensor_;  // In memory.
  // On disk: the shards, shared by slices; this array's row r is the
  // concatenation's row first_row_ + r.
  std::shared_ptr<const std::vector<Shard>> shards_;
  int64_t first_row_ = 0;
  int64_t row_bytes_ = 0;
  // (shard, k) for the rows of one Gather, sorted by shard.
  mutable std::vector<std::pair<int64_t, int64_t>> by_shard_;
};

// Arrays bound to graph inputs, all with the same number of examples.
struct Dataset {
  std::vector<std::string> inputs;  // Graph Input names.
  std::vector<DataArray> arrays;    // arrays[i] feeds inputs[i].
  // Where arrays[i] came from (a file name), for error messages; empty for
  // arrays made in memory.
  std::vector<std::string> sources;
  int64_t size() const { return arrays.empty() ? 0 : arrays[0].shape().dim(0); }
  // The first `n` examples, and the rest (copies of arrays in memory,
  // views of streamed ones).
  absl::StatusOr<std::pair<Dataset, Dataset>> SplitAt(int64_t n) const;
};

// Checks that each array feeds its own Input node of `graph`, example by
// example (its dtype, its rank, its dims past the first), and that all hold
// the same number of examples. Errors name `field`[i], as a TrainConfig's
// `data` bindings do.
absl::Status CheckDataset(const ValidGraph& graph, const Dataset& data,
                          const std::string& field);

// Checks the values of the integer arrays that feed, directly, the labels
// of a SoftmaxCrossEntropy (in [0, classes), or its ignore_index) or the
// indices of a Gather (in [0, the gathered axis)), where the graph fixes
// that bound; shards are read in blocks of about 1 MiB. Errors name
// `field`[i], the file (a shard, or sources[i]) and the row in it, the
// value, and the consuming node, so that a bad label is found at load and
// not when a batch reaches it.
absl::Status CheckIndexRanges(const ValidGraph& graph, const Dataset& data,
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

#ifndef RILL_TRAIN_DISTRIBUTED_H_
#define RILL_TRAIN_DISTRIBUTED_H_

// Data-parallel training over a Communicator, as PyTorch's
// DistributedDataParallel does it:
// - TrainConfig.batch_size is the global batch; each of the N ranks
//   computes batch_size / N of its examples (an error when N does not
//   divide it), so that a config means the same update at any N and a
//   checkpoint resumes at another N.
// - The examples: every rank draws the same shuffled order (same seed and
//   epoch, the single-process BatchOrder over global batches), and rank r
//   takes positions r, r+N, r+2N, ... of it, as DistributedSampler's
//   indices[rank::N]. The union of the ranks' batches is exactly the
//   global batch one process would draw. DistributedSampler pads the
//   order to a multiple of N; rill skips an epoch's last incomplete global
//   batch instead (as it does in one process), so padding never shows.
// - Gradients (summed over accumulation steps, as in one process) are
//   packed into buckets of about 25 MB in reverse parameter order (DDP's
//   default) and averaged with one allreduce per bucket; the loss too.
//   Every rank then applies the same update to the same parameters.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"
#include "proto/train.pb.h"
#include "train/communicator.h"

namespace rill {

// DDP's bucket_cap_mb default.
constexpr int64_t kDefaultBucketBytes = 25 << 20;

// Rows r, r+N, ... of each global batch.
class RankShard {
 public:
  RankShard(int64_t global_batch, int rank, int size);
  int64_t local_batch() const { return static_cast<int64_t>(rows_.size()); }
  // This rank's rows of a global batch of `global_batch` rows; the pointer
  // stays valid until the next call.
  const int64_t* Take(const int64_t* global_rows);

 private:
  int rank_, size_;
  std::vector<int64_t> rows_;
};

// Averages f32 or f64 gradients across ranks in place, in buckets (f64 as
// MPI_DOUBLE: no rounding to f32 on the way).
class GradientAverager {
 public:
  GradientAverager(Communicator& communicator, int64_t bucket_bytes);
  // Buckets are planned on the first call from the gradients' sizes; later
  // calls must pass gradients of the same sizes.
  absl::Status Average(const std::vector<Tensor*>& grads);
  // Bucket plan: parameter indices per bucket (for tests and the README).
  const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }

 private:
  void Plan(const std::vector<Tensor*>& grads);
  template <typename T>
  absl::Status AverageBucket(const std::vector<Tensor*>& grads,
                             const std::vector<size_t>& bucket);
  Communicator& communicator_;
  int64_t bucket_bytes_;
  std::vector<std::vector<size_t>> buckets_;
  std::vector<double> buffer_;  // Of the largest bucket, f32 or f64.
};

// 64-bit FNV-1a: a hash that is the same in every process (absl::Hash is
// seeded per process).
uint64_t StableHash(const void* data, size_t bytes, uint64_t seed = 0);
// Of the parameters' bytes, in order.
uint64_t ParameterHash(const std::vector<Tensor*>& params);

// The trainer's data-parallel hooks: null (one process) unless a
// communicator of more than one rank is given.
class DataParallel {
 public:
  // Checks that `config`'s batch_size divides among the ranks and that
  // every rank has the same config, graph and number of training examples.
  static absl::StatusOr<std::unique_ptr<DataParallel>> Create(
      Communicator* communicator, const TrainConfig& config, const Graph& graph,
      int64_t train_examples);

  int rank() const { return communicator_.rank(); }
  int size() const { return communicator_.size(); }
  int64_t local_batch() const { return shard_.local_batch(); }
  const int64_t* Shard(const int64_t* global_rows) {
    return shard_.Take(global_rows);
  }
  // After a step's gradients are summed over its accumulation steps:
  // averages them and `loss` over the ranks, and agrees on whether any
  // rank was asked to stop (SIGINT), which stop_requested() then says.
  absl::Status AverageStep(const std::vector<const Tensor*>& grads,
                           double* loss, bool stop);
  bool stop_requested() const { return stop_requested_; }
  // Sums `values` over the ranks in place (an evaluation's loss and metric
  // counts, each rank's over its share of the validation set).
  absl::Status SumAcrossRanks(std::vector<double>& values) {
    return communicator_.AllreduceSum(values.data(),
                                      static_cast<int64_t>(values.size()));
  }
  // Wall time spent in AverageStep's collectives so far (waiting for the
  // slowest rank included).
  double allreduce_seconds() const { return allreduce_seconds_; }
  // That every rank holds the same parameters (a hash); an error on every
  // rank when they diverged.
  absl::Status CheckParameters(const std::vector<Tensor*>& params,
                               int64_t step);

 private:
  DataParallel(Communicator& communicator, int64_t global_batch)
      : communicator_(communicator),
        shard_(global_batch, communicator.rank(), communicator.size()),
        averager_(communicator, kDefaultBucketBytes) {}
  Communicator& communicator_;
  RankShard shard_;
  GradientAverager averager_;
  std::vector<Tensor*> grads_;
  bool stop_requested_ = false;
  double allreduce_seconds_ = 0;
};

}  // namespace rill

#endif  // RILL_TRAIN_DISTRIBUTED_H_

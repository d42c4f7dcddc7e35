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
//   packed into buckets (bucket_cap_mb, 25 MB by default: DDP's) in the
//   order the backward pass finishes them, and averaged with one allreduce
//   per bucket; the loss too. A bucket's allreduce starts as soon as its
//   last gradient is final, while the backward pass computes the rest
//   (DDP's overlap). Every rank then applies the same update to the same
//   parameters.

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

// DDP's bucket_cap_mb default (TrainConfig.bucket_cap_mb 0).
constexpr double kDefaultBucketCapMb = 25;

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

// Averages f32 or f64 gradients across ranks in place, in buckets, each
// with a buffer of its gradients' dtype (f64 goes as MPI_DOUBLE: no
// rounding to f32 on the way). A bucket's allreduce starts once all of its
// gradients are ready, so that it runs while the caller computes the rest.
class GradientAverager {
 public:
  GradientAverager(Communicator& communicator, int64_t bucket_bytes);
  // Plans the buckets of `grads`, whose buffers every later call reads and
  // writes: filled in `ready_order` (the order the gradients become final;
  // empty: reverse parameter order, DDP's default) up to bucket_bytes each,
  // a gradient larger than that alone, and a new bucket where the dtype
  // changes (one MPI datatype per allreduce).
  absl::Status Plan(const std::vector<Tensor*>& grads,
                    const std::vector<size_t>& ready_order = {});
  // Gradient p is final: copies it into its bucket, then starts the
  // allreduce of each next bucket whose gradients are all in, in bucket
  // order, so that every rank starts the same allreduces in the same order
  // whatever order its gradients come in; or lets the started ones advance.
  absl::Status Ready(size_t p);
  // Copies in the gradients not reported ready, starts the buckets not
  // started, waits for all, and writes each average over the ranks back
  // into its gradients. Alone, it is the blocking average of them all.
  absl::Status Finish();
  // Gradient indices per bucket, in the order they are sent.
  const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }
  // Allreduces started so far, over every step.
  int64_t buckets_started() const { return started_total_; }

 private:
  template <typename T>
  void Unpack(const std::vector<size_t>& bucket, const Tensor& buffer);
  Communicator& communicator_;
  int64_t bucket_bytes_;
  std::vector<Tensor*> grads_;
  std::vector<std::vector<size_t>> buckets_;
  std::vector<Tensor> buffers_;  // Per bucket, of its gradients' dtype.
  // Per gradient: its bucket and its first element there.
  std::vector<size_t> bucket_of_;
  std::vector<int64_t> offset_of_;
  // This step: per gradient whether it is in its bucket, per bucket how
  // many are missing, and the next bucket to start.
  std::vector<bool> packed_;
  std::vector<size_t> missing_;
  size_t next_ = 0;
  int64_t started_total_ = 0;
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
  // Before the first step: the gradients each step averages (their buffers
  // are kept), and when each becomes final: after kernel final_kernel[p]
  // of the backward pass's num_kernels (PreparedRun::fetch_final_kernels).
  // Buckets are filled in that order, as DDP rebuilds them after its first
  // backward pass, so that each goes as soon as its last gradient is out.
  absl::Status PlanBuckets(const std::vector<const Tensor*>& grads,
                           const std::vector<int>& final_kernel,
                           int num_kernels);
  // Within a step's last backward pass: gradient p is final (summed over
  // the accumulation steps); its bucket may start.
  absl::Status GradientReady(size_t p);
  // After it: averages every gradient (sending what GradientReady did not)
  // and `loss` over the ranks, and agrees on whether any rank was asked to
  // stop (SIGINT), which stop_requested() then says.
  absl::Status FinishStep(double* loss, bool stop);
  bool stop_requested() const { return stop_requested_; }
  // Sums `values` over the ranks in place (an evaluation's loss and metric
  // counts, each rank's over its share of the validation set).
  absl::Status SumAcrossRanks(std::vector<double>& values) {
    return communicator_.AllreduceSum(values.data(),
                                      static_cast<int64_t>(values.size()));
  }
  // Wall time spent in the gradient collectives so far (packing, starting,
  // waiting for the slowest rank), and the part of it after the backward
  // passes (FinishStep): the communication that nothing overlapped.
  double allreduce_seconds() const { return allreduce_seconds_; }
  double finish_seconds() const { return finish_seconds_; }
  const GradientAverager& averager() const { return averager_; }
  // Buckets whose allreduce started while kernels of the backward pass were
  // still to run, summed over the steps.
  int64_t buckets_started_early() const { return started_early_; }
  // That every rank holds the same parameters (a hash); an error on every
  // rank when they diverged.
  absl::Status CheckParameters(const std::vector<Tensor*>& params,
                               int64_t step);

 private:
  DataParallel(Communicator& communicator, int64_t global_batch,
               int64_t bucket_bytes)
      : communicator_(communicator),
        shard_(global_batch, communicator.rank(), communicator.size()),
        averager_(communicator, bucket_bytes) {}
  Communicator& communicator_;
  RankShard shard_;
  GradientAverager averager_;
  std::vector<bool> final_before_end_;  // Per gradient.
  bool stop_requested_ = false;
  int64_t started_early_ = 0;
  double allreduce_seconds_ = 0, finish_seconds_ = 0;
};

}  // namespace rill

#endif  // RILL_TRAIN_DISTRIBUTED_H_

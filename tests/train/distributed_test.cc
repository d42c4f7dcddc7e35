// The data-parallel pieces without MPI: rank shards follow
// DistributedSampler's indices[rank::N], gradient buckets are planned in
// reverse parameter order and averaged, hashes are stable.

#include "train/distributed.h"

#include <functional>
#include <numeric>

#include "gtest/gtest.h"

namespace rill {
namespace {

// Rank 0 of `size`, whose peers all hold `peer` in every element. A
// started allreduce completes at WaitAll only, so that a result read
// before then is still this rank's own values.
class FakeCommunicator : public Communicator {
 public:
  FakeCommunicator(int size, float peer) : size_(size), peer_(peer) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(float* values, int64_t n) override {
    calls.push_back(n);
    Add(values, n);
    return absl::OkStatus();
  }
  absl::Status AllreduceSum(double* values, int64_t n) override {
    double_calls.push_back(n);
    Add(values, n);
    return absl::OkStatus();
  }
  absl::Status StartAllreduceSum(float* values, int64_t n) override {
    calls.push_back(n);
    started.push_back([=] { Add(values, n); });
    return absl::OkStatus();
  }
  absl::Status StartAllreduceSum(double* values, int64_t n) override {
    double_calls.push_back(n);
    started.push_back([=] { Add(values, n); });
    return absl::OkStatus();
  }
  absl::Status Progress() override {
    ++progress_calls;
    return absl::OkStatus();
  }
  absl::Status WaitAll() override {
    for (const auto& finish : started) finish();
    started.clear();
    return absl::OkStatus();
  }
  absl::Status Broadcast(void*, int64_t, int) override {
    return absl::OkStatus();
  }
  void Abort(int) override {}
  std::vector<int64_t> calls, double_calls;
  std::vector<std::function<void()>> started;  // Until WaitAll.
  int progress_calls = 0;

 private:
  template <typename T>
  void Add(T* values, int64_t n) const {
    for (int64_t k = 0; k < n; ++k) values[k] += peer_ * (size_ - 1);
  }
  int size_;
  float peer_;
};

TEST(RankShard, TakesEveryNthRowFromItsRank) {
  // DistributedSampler: indices[rank:total_size:num_replicas].
  std::vector<int64_t> order(12);
  std::iota(order.begin(), order.end(), 100);
  for (int rank = 0; rank < 3; ++rank) {
    RankShard shard(12, rank, 3);
    ASSERT_EQ(shard.local_batch(), 4);
    const int64_t* rows = shard.Take(order.data());
    for (int j = 0; j < 4; ++j) EXPECT_EQ(rows[j], 100 + rank + 3 * j);
  }
}

Tensor Filled(int64_t n, float value) {
  Tensor t = *Tensor::Allocate(DType::kF32, Shape{n});
  for (int64_t k = 0; k < n; ++k) t.data<float>()[k] = value + k;
  return t;
}

std::vector<Tensor*> Pointers(std::vector<Tensor>& tensors) {
  std::vector<Tensor*> pointers;
  for (Tensor& t : tensors) pointers.push_back(&t);
  return pointers;
}

TEST(GradientAverager, BucketsInReverseOrderAndAverages) {
  FakeCommunicator world(4, 2.0f);
  // 40-byte buckets: 10 floats each.
  GradientAverager averager(world, 40);
  std::vector<Tensor> grads;
  for (int64_t n : {3, 4, 5, 12}) grads.push_back(Filled(n, 6));
  ASSERT_TRUE(averager.Plan(Pointers(grads)).ok());
  ASSERT_TRUE(averager.Finish().ok());  // Blocking: nothing reported.
  // Last first; a parameter larger than a bucket gets one of its own.
  EXPECT_EQ(averager.buckets(),
            (std::vector<std::vector<size_t>>{{3}, {2, 1}, {0}}));
  EXPECT_EQ(world.calls, (std::vector<int64_t>{12, 9, 3}));
  auto expect_averaged = [&](int times) {
    for (const Tensor& g : grads) {
      for (int64_t k = 0; k < g.num_elements(); ++k) {
        float want = 6 + k;
        for (int t = 0; t < times; ++t) want = (want + 3 * 2.0f) / 4;
        EXPECT_FLOAT_EQ(g.data<float>()[k], want);  // (own + 3 peers') / 4.
      }
    }
  };
  expect_averaged(1);
  ASSERT_TRUE(averager.Finish().ok());  // The same plan, the next step.
  expect_averaged(2);
}

// Gradients reported as they become final: each bucket's allreduce starts
// when its last gradient is in, in bucket order whatever the order of the
// reports, and nothing is written back before Finish.
TEST(GradientAverager, StartsEachBucketWhenItsLastGradientIsReady) {
  FakeCommunicator world(2, 1.0f);
  GradientAverager averager(world, 40);
  std::vector<Tensor> grads;
  for (int64_t n : {6, 4, 5, 5, 3}) grads.push_back(Filled(n, 10));
  // The order a backward pass finished them in: buckets {1, 3}, {4, 0},
  // {2} (9, 9 and 5 floats).
  ASSERT_TRUE(averager.Plan(Pointers(grads), {1, 3, 4, 0, 2}).ok());
  EXPECT_EQ(averager.buckets(),
            (std::vector<std::vector<size_t>>{{1, 3}, {4, 0}, {2}}));
  auto started = [&] { return averager.buckets_started(); };
  ASSERT_TRUE(averager.Ready(3).ok());
  EXPECT_EQ(started(), 0);
  ASSERT_TRUE(averager.Ready(0).ok());  // Bucket 1 waits for gradient 4.
  ASSERT_TRUE(averager.Ready(2).ok());  // Bucket 2 waits for buckets 0, 1.
  EXPECT_EQ(started(), 0);
  EXPECT_EQ(world.progress_calls, 0);  // Nothing started to progress.
  ASSERT_TRUE(averager.Ready(1).ok());
  EXPECT_EQ(started(), 1);
  EXPECT_EQ(world.calls, (std::vector<int64_t>{9}));
  ASSERT_TRUE(averager.Ready(4).ok());  // Completes buckets 1, then 2.
  EXPECT_EQ(started(), 3);
  EXPECT_EQ(world.calls, (std::vector<int64_t>{9, 9, 5}));
  EXPECT_EQ(grads[0].data<float>()[0], 10);  // Not written back yet.
  ASSERT_TRUE(averager.Finish().ok());
  for (const Tensor& g : grads) {
    for (int64_t k = 0; k < g.num_elements(); ++k) {
      EXPECT_EQ(g.data<float>()[k], (10 + k + 1.0f) / 2);
    }
  }
  // The next step starts afresh; reports in between advance what started.
  ASSERT_TRUE(averager.Ready(1).ok());
  ASSERT_TRUE(averager.Ready(3).ok());
  ASSERT_TRUE(averager.Ready(4).ok());
  EXPECT_EQ(started(), 4);
  EXPECT_EQ(world.progress_calls, 1);
  ASSERT_TRUE(averager.Finish().ok());
  EXPECT_EQ(started(), 6);
}

// f64 gradients go as f64 (MPI_DOUBLE), never rounded to f32 on the way,
// and a bucket holds one dtype, in a buffer of that dtype.
TEST(GradientAverager, F64GradientsStayF64InBucketsOfTheirOwn) {
  FakeCommunicator world(4, 2.0f);
  GradientAverager averager(world, 1 << 20);
  Tensor narrow = Filled(3, 6);
  Tensor wide = *Tensor::Allocate(DType::kF64, Shape{5});
  for (int64_t k = 0; k < 5; ++k) wide.data<double>()[k] = 0.1 + 1e-12 * k;
  Tensor wide2 = *Tensor::Allocate(DType::kF64, Shape{2});
  for (int64_t k = 0; k < 2; ++k) wide2.data<double>()[k] = 1.0 / 3;
  ASSERT_TRUE(averager.Plan({&wide2, &wide, &narrow}).ok());
  ASSERT_TRUE(averager.Finish().ok());
  EXPECT_EQ(averager.buckets(),
            (std::vector<std::vector<size_t>>{{2}, {1, 0}}));
  EXPECT_EQ(world.calls, (std::vector<int64_t>{3}));
  EXPECT_EQ(world.double_calls, (std::vector<int64_t>{7}));
  for (int64_t k = 0; k < 5; ++k) {
    EXPECT_EQ(wide.data<double>()[k], (0.1 + 1e-12 * k + 3 * 2.0) / 4);
  }
  EXPECT_EQ(wide2.data<double>()[0], (1.0 / 3 + 3 * 2.0) / 4);
}

TEST(GradientAverager, RefusesGradientsOtherThanF32AndF64) {
  FakeCommunicator world(2, 0);
  GradientAverager averager(world, 1 << 20);
  Tensor ints = *Tensor::Allocate(DType::kI32, Shape{4});
  const absl::Status s = averager.Plan({&ints});
  EXPECT_EQ(s.message(),
            "gradient averaging: a gradient of type i32 (f32 or f64 only)");
}

// One process: every collective is a no-op, so the average of one rank is
// its own gradient, bit for bit.
TEST(GradientAverager, LocalCommunicatorKeepsTheGradients) {
  LocalCommunicator local;
  GradientAverager averager(local, 16);
  std::vector<Tensor> grads;
  for (int64_t n : {3, 7}) grads.push_back(Filled(n, 0.1f));
  ASSERT_TRUE(averager.Plan(Pointers(grads)).ok());
  for (size_t p : {1, 0}) ASSERT_TRUE(averager.Ready(p).ok());
  EXPECT_EQ(averager.buckets_started(), 2);  // {1} and {0}: 28 + 12 > 16.
  ASSERT_TRUE(averager.Finish().ok());
  for (const Tensor& g : grads) {
    const Tensor want = Filled(g.num_elements(), 0.1f);
    EXPECT_TRUE(g.BitwiseEquals(want));
  }
}

// DataParallel fills buckets in the order the backward pass finishes the
// gradients (ties in reverse parameter order) and counts the buckets that
// started while kernels were still to run.
TEST(DataParallel, BucketsFollowTheBackwardPassAndCountEarlyStarts) {
  TrainConfig config;
  config.set_batch_size(4);
  config.set_bucket_cap_mb(40.0 / (1 << 20));  // 40 bytes.
  // Peers of 0: the start-up check agrees, and no peer asks to stop.
  FakeCommunicator world(2, 0.0f);
  auto parallel = DataParallel::Create(&world, config, Graph(), 100);
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  std::vector<Tensor> grads;
  for (int64_t n : {6, 4, 5, 5}) grads.push_back(Filled(n, 3));
  std::vector<const Tensor*> pointers;
  for (const Tensor& g : grads) pointers.push_back(&g);
  // Final after kernels 7, 2, 9 (the last of 10), 2.
  ASSERT_TRUE((*parallel)->PlanBuckets(pointers, {7, 2, 9, 2}, 10).ok());
  EXPECT_EQ((*parallel)->averager().buckets(),
            (std::vector<std::vector<size_t>>{{3, 1}, {0}, {2}}));
  for (size_t p : {3, 1, 0, 2}) {
    ASSERT_TRUE((*parallel)->GradientReady(p).ok());
  }
  double loss = 0.5;
  ASSERT_TRUE((*parallel)->FinishStep(&loss, false).ok());
  EXPECT_EQ((*parallel)->buckets_started_early(), 2);
  EXPECT_EQ(loss, 0.5 / 2);
  EXPECT_FALSE((*parallel)->stop_requested());
  EXPECT_EQ(grads[2].data<float>()[4], (3 + 4) / 2.0f);
}

TEST(DataParallel, OneProcessNeedsNoCommunicator) {
  TrainConfig config;
  config.set_batch_size(7);
  LocalCommunicator local;
  for (Communicator* c : {static_cast<Communicator*>(nullptr),
                          static_cast<Communicator*>(&local)}) {
    auto parallel = DataParallel::Create(c, config, Graph(), 100);
    ASSERT_TRUE(parallel.ok());
    EXPECT_EQ(*parallel, nullptr);
  }
}

TEST(DataParallel, TheBatchMustDivideAmongTheRanks) {
  TrainConfig config;
  config.set_batch_size(10);
  FakeCommunicator world(4, 0);
  auto parallel = DataParallel::Create(&world, config, Graph(), 100);
  ASSERT_FALSE(parallel.ok());
  EXPECT_EQ(parallel.status().message(),
            "batch_size: 10 is not a multiple of the 4 ranks: batch_size is "
            "the global batch, split evenly (batch_size / ranks examples per "
            "rank); choose a multiple of 4 or another number of ranks");
}

TEST(StableHash, IsFnv1a) {
  // FNV-1a 64 test vectors (Fowler, Noll, Vo): "" and "a".
  EXPECT_EQ(StableHash("", 0), 0xcbf29ce484222325ULL);
  EXPECT_EQ(StableHash("a", 1), 0xaf63dc4c8601ec8cULL);
}

}  // namespace
}  // namespace rill

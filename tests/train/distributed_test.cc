// The data-parallel pieces without MPI: rank shards follow
// DistributedSampler's indices[rank::N], gradient buckets are planned in
// reverse parameter order and averaged, hashes are stable.

#include "train/distributed.h"

#include <numeric>

#include "gtest/gtest.h"

namespace rill {
namespace {

// Rank 0 of `size`, whose peers all hold `peer` in every element.
class FakeCommunicator : public Communicator {
 public:
  FakeCommunicator(int size, float peer) : size_(size), peer_(peer) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(float* values, int64_t n) override {
    calls.push_back(n);
    for (int64_t k = 0; k < n; ++k) values[k] += peer_ * (size_ - 1);
    return absl::OkStatus();
  }
  absl::Status AllreduceSum(double* values, int64_t n) override {
    double_calls.push_back(n);
    for (int64_t k = 0; k < n; ++k) values[k] += peer_ * (size_ - 1);
    return absl::OkStatus();
  }
  absl::Status Broadcast(void*, int64_t, int) override {
    return absl::OkStatus();
  }
  void Abort(int) override {}
  std::vector<int64_t> calls, double_calls;

 private:
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

TEST(GradientAverager, BucketsInReverseOrderAndAverages) {
  FakeCommunicator world(4, 2.0f);
  // 40-byte buckets: 10 floats each.
  GradientAverager averager(world, 40);
  std::vector<Tensor> grads;
  for (int64_t n : {3, 4, 5, 12}) grads.push_back(Filled(n, 6));
  std::vector<Tensor*> pointers;
  for (Tensor& g : grads) pointers.push_back(&g);
  ASSERT_TRUE(averager.Average(pointers).ok());
  // Last first; a parameter larger than a bucket gets one of its own.
  EXPECT_EQ(averager.buckets(),
            (std::vector<std::vector<size_t>>{{3}, {2, 1}, {0}}));
  EXPECT_EQ(world.calls, (std::vector<int64_t>{12, 9, 3}));
  for (const Tensor& g : grads) {
    for (int64_t k = 0; k < g.num_elements(); ++k) {
      // (own + 3 peers' 2) / 4.
      EXPECT_FLOAT_EQ(g.data<float>()[k], (6 + k + 3 * 2.0f) / 4);
    }
  }
}

// f64 gradients go as f64 (MPI_DOUBLE), never rounded to f32 on the way,
// and a bucket holds one dtype.
TEST(GradientAverager, F64GradientsStayF64InBucketsOfTheirOwn) {
  FakeCommunicator world(4, 2.0f);
  GradientAverager averager(world, 1 << 20);
  Tensor narrow = Filled(3, 6);
  Tensor wide = *Tensor::Allocate(DType::kF64, Shape{5});
  for (int64_t k = 0; k < 5; ++k) wide.data<double>()[k] = 0.1 + 1e-12 * k;
  Tensor wide2 = *Tensor::Allocate(DType::kF64, Shape{2});
  for (int64_t k = 0; k < 2; ++k) wide2.data<double>()[k] = 1.0 / 3;
  ASSERT_TRUE(averager.Average({&wide2, &wide, &narrow}).ok());
  EXPECT_EQ(averager.buckets(),
            (std::vector<std::vector<size_t>>{{2}, {1, 0}}));
  EXPECT_EQ(world.calls, (std::vector<int64_t>{3}));
  EXPECT_EQ(world.double_calls, (std::vector<int64_t>{7}));
  for (int64_t k = 0; k < 5; ++k) {
    EXPECT_EQ(wide.data<double>()[k], (0.1 + 1e-12 * k + 3 * 2.0) / 4);
  }
  EXPECT_EQ(wide2.data<double>()[0], (1.0 / 3 + 3 * 2.0) / 4);
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

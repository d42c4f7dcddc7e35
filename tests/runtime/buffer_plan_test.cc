#include "runtime/buffer_plan.h"

#include "gtest/gtest.h"

namespace rill {
namespace {

bool Overlap(const BufferRequest& a, int64_t oa, const BufferRequest& b,
             int64_t ob) {
  bool live_together = a.first_use <= b.last_use && b.first_use <= a.last_use;
  bool bytes_shared = oa < ob + b.bytes && ob < oa + a.bytes;
  return live_together && bytes_shared;
}

TEST(BufferPlan, ChainReusesTwoBuffers) {
  // x0 -> x1 -> ... -> x9: each buffer lives from its step to the next.
  std::vector<BufferRequest> chain;
  for (int i = 0; i < 10; ++i) chain.push_back({1000, i, i + 1});
  BufferPlan plan = PlanBuffers(chain);
  EXPECT_EQ(plan.peak_bytes, 2 * 1024);  // Two 64-byte-aligned 1000-byte slots.
}

TEST(BufferPlan, LiveBuffersNeverShareBytes) {
  std::vector<BufferRequest> requests;
  uint32_t s = 12345;
  for (int i = 0; i < 200; ++i) {
    s = s * 1103515245 +
        12345;  // A fixed pseudo-random mix of sizes and lifetimes.
    int first = static_cast<int>(s % 50);
    int length = static_cast<int>((s >> 8) % 10);
    requests.push_back(
        {static_cast<int64_t>((s >> 16) % 5000), first, first + length});
  }
  BufferPlan plan = PlanBuffers(requests);
  int64_t unshared = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0);
    EXPECT_LE(plan.offsets[i] + requests[i].bytes, plan.peak_bytes);
    unshared += requests[i].bytes;
    for (size_t j = 0; j < i; ++j) {
      ASSERT_FALSE(
          Overlap(requests[i], plan.offsets[i], requests[j], plan.offsets[j]))
          << i << " and " << j;
    }
  }
  EXPECT_LT(plan.peak_bytes, unshared);
}

TEST(BufferPlan, Empty) {
  BufferPlan plan = PlanBuffers({});
  EXPECT_EQ(plan.peak_bytes, 0);
  EXPECT_TRUE(plan.offsets.empty());
}

}  // namespace
}  // namespace rill

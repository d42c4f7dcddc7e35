// The kernels' thread count: the CPUs a process may use (affinity and
// cgroup quota), and the range a flag or config field may set.

#include "core/threads.h"

#include <sched.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(Threads, CgroupQuotasRoundUpToWholeCpus) {
  EXPECT_EQ(CpusFromQuota("150000 100000\n"), 2);  // v2 cpu.max, 1.5 CPUs.
  EXPECT_EQ(CpusFromQuota("100000 100000"), 1);
  EXPECT_EQ(CpusFromQuota("50000 100000"), 1);  // Half a CPU: still one.
  EXPECT_EQ(CpusFromQuota("400000\n", "100000\n"), 4);  // v1 files.
  EXPECT_EQ(CpusFromQuota("max 100000\n"), std::nullopt);
  EXPECT_EQ(CpusFromQuota("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(CpusFromQuota(""), std::nullopt);
  EXPECT_EQ(CpusFromQuota("lots of cpus"), std::nullopt);
}

TEST(Threads, TheDefaultIsTheCpusThisProcessMayUse) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_GE(AvailableCpus(), 1);
  EXPECT_LE(AvailableCpus(), CPU_COUNT(&set));
  ASSERT_TRUE(SetThreads(0, "threads").ok());
  EXPECT_EQ(CurrentThreads(), AvailableCpus());
  ASSERT_TRUE(SetThreads(3, "threads").ok());
  EXPECT_EQ(CurrentThreads(), 3);
}

TEST(Threads, CountsOutOfRangeNameTheFieldAndChangeNothing) {
  ASSERT_TRUE(SetThreads(1, "threads").ok());
  absl::Status s = SetThreads(50000, "threads");
  EXPECT_THAT(s.message(), HasSubstr("threads: 50000: must be in [0, 1024]"));
  s = SetThreads(-2, "--threads");
  EXPECT_THAT(s.message(), HasSubstr("--threads: -2: must be in [0, 1024]"));
  EXPECT_EQ(CurrentThreads(), 1);
}

}  // namespace
}  // namespace rill

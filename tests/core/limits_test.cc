// core/limits.h and core/quote.h: the arithmetic and checks every size
// limit goes through, and how untrusted text appears in messages.

#include "core/limits.h"

#include <limits>
#include <string>

#include "core/quote.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(Limits, SaturatingArithmeticPinsOverflowAtTheMaximum) {
  EXPECT_EQ(SaturatingMul(3, 4), 12);
  EXPECT_EQ(SaturatingMul(int64_t{1} << 40, int64_t{1} << 40), kMax);
  EXPECT_EQ(SaturatingMul(-1, 4), kMax);  // Never a negative estimate.
  EXPECT_EQ(SaturatingAdd(kMax, 1), kMax);
  EXPECT_EQ(SaturatingAdd(2, 3), 5);
}

TEST(Limits, CheckedArithmeticNamesWhatOverflowed) {
  EXPECT_EQ(*CheckedMul(6, 7), 42);
  EXPECT_EQ(CheckedMul(kMax, 2, "size").status().message(),
            "size 9223372036854775807 x 2 overflows int64");
  EXPECT_EQ(CheckedAdd(kMax, 1, "bytes").status().message(),
            "bytes 9223372036854775807 + 1 overflows int64");
}

TEST(Limits, BudgetErrorNamesFieldValueEstimateAndBudget) {
  MemoryBudget budget;
  budget.bytes = int64_t{4096} << 20;
  EXPECT_TRUE(CheckFitsBudget("f", 1, "x", budget.bytes, budget).ok());
  absl::Status s = CheckFitsBudget("recurrent.hidden_size", 1000000000,
                                   "parameters", int64_t{8053063680}, budget);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "recurrent.hidden_size: 1000000000 needs about 7.5 GiB of "
            "parameters, over the memory budget of 4096 MiB "
            "(--memory_budget_mb)");
  EXPECT_EQ(CheckFitsBudget("f", 9, "x", kMax, budget).message(),
            "f: 9 needs more than 8 EiB of x, over the memory budget of 4096 "
            "MiB (--memory_budget_mb)");
}

TEST(Limits, MaximaAndMinima) {
  EXPECT_TRUE(CheckAtMost("--beam", 1024, 1024, "beams").ok());
  EXPECT_EQ(CheckAtMost("--beam", 1025, 1024, "beams").message(),
            "--beam: 1025 is over the limit of 1024 (beams)");
  EXPECT_EQ(CheckAtLeast("--steps", 0, 1).message(),
            "--steps: 0: must be >= 1");
}

TEST(Limits, MiBFlagsRefuseNegativeAndWrappingValues) {
  EXPECT_EQ(*MiBFlagToBytes("--memory_budget_mb", 0), 0);
  EXPECT_EQ(*MiBFlagToBytes("--memory_budget_mb", 3), 3 << 20);
  EXPECT_EQ(MiBFlagToBytes("--max_file_mb", -1).status().message(),
            "--max_file_mb=-1: must be >= 0");
  // 2^44 MiB = 2^64 bytes used to wrap to 0 (no limit at all).
  EXPECT_FALSE(MiBFlagToBytes("--memory_budget_mb", int64_t{1} << 44).ok());
  EXPECT_EQ(*MiBFlagToBytes("--m", kMax >> 20), (kMax >> 20) << 20);
}

TEST(Limits, HumanBytes) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(3584), "3.5 KiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 40), "3.0 TiB");
}

TEST(Quote, EscapesControlBytesQuotesAndBackslashes) {
  EXPECT_EQ(QuoteForMessage("layer1/w"), "'layer1/w'");
  EXPECT_EQ(QuoteForMessage("a\x1b[2J'\\"), "'a\\x1b[2J\\x27\\x5c'");
  EXPECT_EQ(QuoteForMessage(std::string("\0\xff", 2), 10, '"'),
            "\"\\x00\\xff\"");
  EXPECT_EQ(EscapeForMessage("Tan\x07h"), "Tan\\x07h");
}

TEST(Quote, TruncatesAndSaysSo) {
  const std::string name(300000, 'n');
  const std::string q = QuoteForMessage(name);
  EXPECT_EQ(q, "'" + std::string(200, 'n') + "...' (300000 bytes, truncated)");
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "'abc...' (6 bytes, truncated)");
  EXPECT_EQ(QuoteForMessage("abc", 3), "'abc'");
}

}  // namespace
}  // namespace rill

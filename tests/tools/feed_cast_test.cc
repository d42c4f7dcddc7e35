// CastFeed (`rill run --cast_feeds`): exact conversions pass, rounding only
// on request, and never overflow, fractions, NaN or out-of-range integers.
// One row per case.

#include "tools/feed_cast.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

template <typename T>
Tensor Make(DType dtype, std::vector<T> values) {
  Tensor t = *Tensor::Allocate(dtype, Shape{int64_t(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

struct Case {
  const char* name;
  Tensor feed;
  DType to;
  FeedCast cast;
  // Empty: converts, to `want` (as doubles); else a substring of the error.
  std::string error;
  std::vector<double> want;
};

TEST(FeedCast, Table) {
  const double two_53 = 9007199254740992.0;  // 2^53 + 1 rounds to it.
  const Case cases[] = {
      {"f64 to f32 exact",
       Make<double>(DType::kF64, {0.5, -2, 0.25}),
       DType::kF32,
       FeedCast::kExact,
       "",
       {0.5, -2, 0.25}},
      {"f64 to f32 inexact refused",
       Make<double>(DType::kF64, {0.5, 0.1}),
       DType::kF32,
       FeedCast::kExact,
       "element 1 (0.10000000000000001, f64) is not exactly f32; "
       "--cast_feeds=lossy rounds it",
       {}},
      {"f64 to f32 lossy rounds",
       Make<double>(DType::kF64, {0.1}),
       DType::kF32,
       FeedCast::kLossy,
       "",
       {double(0.1f)}},
      {"f64 to f32 overflow refused even lossy",
       Make<double>(DType::kF64, {1e300}),
       DType::kF32,
       FeedCast::kLossy,
       "overflows to infinity",
       {}},
      {"f64 infinity to f32",
       Make<double>(DType::kF64, {INFINITY}),
       DType::kF32,
       FeedCast::kExact,
       "",
       {INFINITY}},
      {"i64 to i32 in range",
       Make<int64_t>(DType::kI64, {-5, 2147483647}),
       DType::kI32,
       FeedCast::kExact,
       "",
       {-5, 2147483647}},
      {"i64 to i32 out of range",
       Make<int64_t>(DType::kI64, {2147483648}),
       DType::kI32,
       FeedCast::kLossy,
       "element 0 (2147483648, i64)",
       {}},
      {"i64 to f64 above 2^53 exact refused",
       Make<int64_t>(DType::kI64, {int64_t{9007199254740993}}),
       DType::kF64,
       FeedCast::kExact,
       "(9007199254740993, i64) is not exactly f64",
       {}},
      {"i64 to f64 above 2^53 lossy",
       Make<int64_t>(DType::kI64, {int64_t{9007199254740993}}),
       DType::kF64,
       FeedCast::kLossy,
       "",
       {two_53}},
      {"f32 to i64 integral",
       Make<float>(DType::kF32, {3, -7}),
       DType::kI64,
       FeedCast::kExact,
       "",
       {3, -7}},
      {"f32 fraction to i32 refused even lossy",
       Make<float>(DType::kF32, {1.5}),
       DType::kI32,
       FeedCast::kLossy,
       "no --cast_feeds converts it",
       {}},
      {"f64 NaN to i64 refused",
       Make<double>(DType::kF64, {std::nan("")}),
       DType::kI64,
       FeedCast::kLossy,
       "not exactly i64",
       {}},
      {"f64 to i64 at 2^63 refused",
       Make<double>(DType::kF64, {9.3e18}),
       DType::kI64,
       FeedCast::kExact,
       "not exactly i64",
       {}},
      {"i32 0/1 to bool",
       Make<int32_t>(DType::kI32, {0, 1}),
       DType::kBool,
       FeedCast::kExact,
       "",
       {0, 1}},
      {"i32 2 to bool refused",
       Make<int32_t>(DType::kI32, {2}),
       DType::kBool,
       FeedCast::kLossy,
       "not exactly bool",
       {}},
      {"mismatch without a cast says how to convert",
       Make<double>(DType::kF64, {1}),
       DType::kF32,
       FeedCast::kNone,
       "feed 'x' is f64 but the input is declared f32; convert the file "
       "(numpy: np.save(path, np.load(path).astype(np.float32))) or pass "
       "--cast_feeds=exact",
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Tensor> got = CastFeed(c.feed, c.to, c.cast, "feed 'x'");
    if (!c.error.empty()) {
      ASSERT_FALSE(got.ok());
      EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.error));
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->dtype(), c.to);
    ASSERT_EQ(got->num_elements(), int64_t(c.want.size()));
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(got->ElementAsDouble(i), c.want[i]) << i;
    }
  }
}

TEST(FeedCast, SameDTypeIsUnchanged) {
  Tensor t = Make<float>(DType::kF32, {0.1f});
  absl::StatusOr<Tensor> got = CastFeed(t, DType::kF32, FeedCast::kNone, "x");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->BitwiseEquals(t));
}

}  // namespace
}  // namespace rill

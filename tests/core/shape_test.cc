#include "core/shape.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace rill {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

bool Mentions(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(ShapeTest, ScalarHasOneElement) {
  Shape s;
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.NumElements().value(), 1);
  EXPECT_EQ(s.ByteSize(DType::kF64).value(), 8);
  EXPECT_EQ(s.ToString(), "[]");
  EXPECT_TRUE(s.IsFullyDefined());
}

TEST(ShapeTest, NumElementsAndByteSize) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.NumElements().value(), 24);
  EXPECT_EQ(s.ByteSize(DType::kF32).value(), 96);
  EXPECT_EQ(s.ByteSize(DType::kF64).value(), 192);
  EXPECT_EQ(s.ByteSize(DType::kI32).value(), 96);
  EXPECT_EQ(s.ByteSize(DType::kI64).value(), 192);
  EXPECT_EQ(s.ByteSize(DType::kBool).value(), 24);
  EXPECT_EQ(Shape({5, 0, 7}).NumElements().value(), 0);
  EXPECT_EQ(Shape({5, 0, 7}).ByteSize(DType::kF64).value(), 0);
}

TEST(ShapeTest, LargestCountsThatFit) {
  EXPECT_EQ(Shape({kMax}).NumElements().value(), kMax);
  EXPECT_EQ(Shape({1, kMax, 1}).NumElements().value(), kMax);
  EXPECT_EQ(Shape({kMax}).ByteSize(DType::kBool).value(), kMax);
  // (2^61 - 1) * 4 = 2^63 - 4 still fits.
  int64_t n = (int64_t{1} << 61) - 1;
  EXPECT_EQ(Shape({n}).ByteSize(DType::kF32).value(), n * 4);
}

TEST(ShapeTest, ElementCountOverflowInEveryOrder) {
  const Shape overflowing[] = {
      {kMax / 2, 3},
      {3, kMax / 2},
      {int64_t{1} << 40, int64_t{1} << 40},
      {int64_t{1} << 21, int64_t{1} << 21, int64_t{1} << 21},  // exactly 2^63
      {2, int64_t{1} << 62},
      {int64_t{1} << 62, 2},
      {kMax, kMax},
  };
  for (const Shape& s : overflowing) {
    SCOPED_TRACE(s.ToString());
    for (bool allow_symbolic : {false, true}) {
      absl::Status v = s.Validate(allow_symbolic);
      EXPECT_EQ(v.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(Mentions(v, "more elements than int64")) << v;
    }
    EXPECT_EQ(s.NumElements().status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.ByteSize(DType::kBool).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ShapeTest, OverflowWithAZeroDimensionIsOrderIndependent) {
  // Like numpy ("array is too big"), the non-zero dimensions must fit even
  // when another is 0, so that reordering never changes validity.
  const Shape shapes[] = {
      {0, kMax, 2}, {kMax, 0, 2}, {kMax, 2, 0}, {2, kMax, 0}};
  for (const Shape& s : shapes) {
    EXPECT_EQ(s.Validate(false).code(), absl::StatusCode::kInvalidArgument)
        << s.ToString();
    EXPECT_FALSE(s.NumElements().ok()) << s.ToString();
  }
  EXPECT_EQ(Shape({0, kMax}).NumElements().value(), 0);
  EXPECT_EQ(Shape({kMax, 0}).NumElements().value(), 0);
}

TEST(ShapeTest, ByteSizeOverflowAfterElementCountFits) {
  for (DType dtype : {DType::kF32, DType::kI32, DType::kF64, DType::kI64}) {
    absl::StatusOr<int64_t> bytes = Shape({kMax / 2}).ByteSize(dtype);
    EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Mentions(bytes.status(), "overflows int64")) << bytes.status();
    EXPECT_TRUE(Mentions(bytes.status(), DTypeName(dtype)));
  }
  EXPECT_FALSE(Shape({int64_t{1} << 61}).ByteSize(DType::kF32).ok());
  EXPECT_FALSE(Shape({int64_t{1} << 60, 8}).ByteSize(DType::kF64).ok());
}

TEST(ShapeTest, NegativeDimensions) {
  for (const Shape& s : {Shape{2, -2}, Shape{-5}, Shape{3, 4, -100}}) {
    absl::Status v = s.Validate(/*allow_symbolic=*/true);
    EXPECT_EQ(v.code(), absl::StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_TRUE(Mentions(v, "only -1 (symbolic) or >= 0")) << v;
    EXPECT_FALSE(s.Validate(false).ok());
    EXPECT_FALSE(s.NumElements().ok());
    EXPECT_FALSE(s.IsFullyDefined());
  }
  absl::Status v = Shape({2, -2}).Validate(false);
  EXPECT_TRUE(Mentions(v, "dimension 1 of shape [2, -2] is -2")) << v;
  EXPECT_FALSE(
      Shape({std::numeric_limits<int64_t>::min()}).Validate(true).ok());
}

TEST(ShapeTest, SymbolicDimensions) {
  Shape s{kSymbolicDim, 3};
  EXPECT_EQ(s.ToString(), "[?, 3]");
  EXPECT_FALSE(s.IsFullyDefined());
  EXPECT_TRUE(s.Validate(/*allow_symbolic=*/true).ok());
  absl::Status v = s.Validate(/*allow_symbolic=*/false);
  EXPECT_EQ(v.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(v, "must be >= 0")) << v;
  EXPECT_FALSE(s.NumElements().ok());
  EXPECT_FALSE(s.ByteSize(DType::kF32).ok());
  // Known dimensions that overflow are an error even beside a symbolic one.
  EXPECT_FALSE(Shape({kSymbolicDim, kMax, 2}).Validate(true).ok());
  EXPECT_FALSE(Shape({kMax, kSymbolicDim, 2}).Validate(true).ok());
  EXPECT_TRUE(Shape({kSymbolicDim, kMax}).Validate(true).ok());
}

TEST(ShapeTest, EqualityAndMutation) {
  Shape a{2, 3};
  Shape b(std::vector<int64_t>{2, 3});
  EXPECT_EQ(a, b);
  b.mutable_dims().push_back(1);
  EXPECT_NE(a, b);
  EXPECT_EQ(b.rank(), 3);
  EXPECT_EQ(b.dim(2), 1);
  EXPECT_NE(Shape{}, Shape{1});
}

TEST(CheckedMulTest, DetectsOverflowAndNegatives) {
  EXPECT_EQ(CheckedMul(6, 7).value(), 42);
  EXPECT_EQ(CheckedMul(kMax, 1).value(), kMax);
  EXPECT_EQ(CheckedMul(0, kMax).value(), 0);
  EXPECT_FALSE(CheckedMul(kMax, 2).ok());
  EXPECT_FALSE(CheckedMul(2, kMax).ok());
  EXPECT_FALSE(CheckedMul(int64_t{1} << 32, int64_t{1} << 31).ok());
  EXPECT_FALSE(CheckedMul(-1, 5).ok());
  EXPECT_FALSE(CheckedMul(5, -1).ok());
}

}  // namespace
}  // namespace rill

#include "core/tensor.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace rill {
namespace {

bool IsAligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kTensorAlignment == 0;
}

TEST(TensorTest, AllocateIsAlignedAndZeroFilled) {
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{1}, Shape{3, 5},
                               Shape{64}, Shape{7, 0, 2}, Shape{1000}}) {
      SCOPED_TRACE(std::string(DTypeName(dtype)) + shape.ToString());
      absl::StatusOr<Tensor> t = Tensor::Allocate(dtype, shape);
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_TRUE(t->valid());
      EXPECT_TRUE(t->owns_memory());
      EXPECT_NE(t->raw_data(), nullptr);
      EXPECT_TRUE(IsAligned(t->raw_data()));
      EXPECT_EQ(t->dtype(), dtype);
      EXPECT_EQ(t->shape(), shape);
      EXPECT_EQ(t->num_elements(), shape.NumElements().value());
      EXPECT_EQ(t->byte_size(), shape.ByteSize(dtype).value());
      const auto* bytes = static_cast<const unsigned char*>(t->raw_data());
      for (int64_t i = 0; i < t->byte_size(); ++i) ASSERT_EQ(bytes[i], 0);
    }
  }
}

TEST(TensorTest, DefaultConstructedIsNotValid) {
  Tensor t;
  EXPECT_FALSE(t.valid());
  EXPECT_FALSE(t.owns_memory());
  EXPECT_EQ(t.raw_data(), nullptr);
  EXPECT_EQ(t.byte_size(), 0);
}

TEST(TensorTest, AllocateRejectsBadShapes) {
  EXPECT_EQ(Tensor::Allocate(DType::kF32, Shape{-1, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tensor::Allocate(DType::kF32, Shape{2, -3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Tensor::Allocate(DType::kF64, Shape{int64_t{1} << 61}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Tensor::Allocate(DType::kBool, Shape{int64_t{1} << 32, int64_t{1} << 32})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(TensorTest, AllocateOfInt64MaxBytesFailsWithoutOverflow) {
  // The byte size fits int64, but rounding it up to the alignment does not:
  // this must be an error, not signed overflow (UBSan checks under asan).
  absl::StatusOr<Tensor> t = Tensor::Allocate(
      DType::kBool, Shape{std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kResourceExhausted)
      << t.status();
}

TEST(TensorTest, CopiesShareTheBuffer) {
  Tensor a = Tensor::Allocate(DType::kI32, Shape{4}).value();
  Tensor b = a;
  b.data<int32_t>()[2] = 7;
  EXPECT_EQ(a.data<int32_t>()[2], 7);
  EXPECT_EQ(a.raw_data(), b.raw_data());
}

TEST(TensorTest, ViewDoesNotOwnAndAliases) {
  alignas(64) double buf[6] = {1, 2, 3, 4, 5, 6};
  absl::StatusOr<Tensor> v = Tensor::View(DType::kF64, Shape{2, 3}, buf);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->owns_memory());
  EXPECT_TRUE(v->valid());
  EXPECT_EQ(v->raw_data(), buf);
  EXPECT_EQ(v->num_elements(), 6);
  buf[4] = 50;
  EXPECT_EQ(v->data<double>()[4], 50);
  v->data<double>()[0] = -1;
  EXPECT_EQ(buf[0], -1);
}

TEST(TensorTest, ViewChecksShapeAndNull) {
  float x = 0;
  EXPECT_EQ(Tensor::View(DType::kF32, Shape{-2}, &x).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tensor::View(DType::kF32, Shape{1}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // An empty view needs no memory.
  absl::StatusOr<Tensor> empty =
      Tensor::View(DType::kF32, Shape{0, 3}, nullptr);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->valid());
  EXPECT_EQ(empty->byte_size(), 0);
}

TEST(TensorTest, CloneIsDeepAndOwned) {
  int64_t buf[3] = {10, 20, 30};
  Tensor view = Tensor::View(DType::kI64, Shape{3}, buf).value();
  absl::StatusOr<Tensor> clone = view.Clone();
  ASSERT_TRUE(clone.ok()) << clone.status();
  EXPECT_TRUE(clone->owns_memory());
  EXPECT_NE(clone->raw_data(), view.raw_data());
  EXPECT_TRUE(IsAligned(clone->raw_data()));
  EXPECT_TRUE(clone->BitwiseEquals(view));
  buf[1] = 99;
  EXPECT_EQ(clone->data<int64_t>()[1], 20);
  EXPECT_FALSE(clone->BitwiseEquals(view));

  Tensor owned = Tensor::Allocate(DType::kBool, Shape{2}).value();
  Tensor copy = owned.Clone().value();
  copy.data<bool>()[0] = true;
  EXPECT_FALSE(owned.data<bool>()[0]);
}

TEST(TensorTest, BitwiseEqualsComparesDtypeShapeAndBytes) {
  Tensor a = Tensor::Allocate(DType::kI32, Shape{2, 2}).value();
  Tensor b = Tensor::Allocate(DType::kI32, Shape{2, 2}).value();
  EXPECT_TRUE(a.BitwiseEquals(b));
  b.data<int32_t>()[3] = 1;
  EXPECT_FALSE(a.BitwiseEquals(b));
  EXPECT_FALSE(
      a.BitwiseEquals(Tensor::Allocate(DType::kI32, Shape{4}).value()));
  EXPECT_FALSE(
      a.BitwiseEquals(Tensor::Allocate(DType::kF32, Shape{2, 2}).value()));
  // NaNs with the same bits are equal, unlike with ==.
  Tensor n1 = Tensor::Allocate(DType::kF64, Shape{}).value();
  Tensor n2 = Tensor::Allocate(DType::kF64, Shape{}).value();
  n1.data<double>()[0] = n2.data<double>()[0] =
      std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(n1.BitwiseEquals(n2));
  // Empty tensors of the same shape are equal whatever their pointers.
  EXPECT_TRUE(
      Tensor::Allocate(DType::kF32, Shape{0})
          .value()
          .BitwiseEquals(Tensor::View(DType::kF32, Shape{0}, nullptr).value()));
}

}  // namespace
}  // namespace rill

#include "core/tensor_proto.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rill {
namespace {

constexpr int64_t kBudget = 1 << 20;

TensorProto Proto(DataType dtype, std::vector<int64_t> dims) {
  TensorProto p;
  p.set_dtype(dtype);
  for (int64_t d : dims) p.add_dims(d);
  return p;
}

void ExpectError(const absl::StatusOr<Tensor>& t, absl::StatusCode code,
                 const std::string& text) {
  EXPECT_EQ(t.status().code(), code) << t.status();
  EXPECT_NE(std::string(t.status().message()).find(text), std::string::npos)
      << "missing \"" << text << "\" in: " << t.status();
}

TEST(TensorProtoTest, RoundTripsEveryDtype) {
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{2, 3}}) {
      SCOPED_TRACE(std::string(DTypeName(dtype)) + shape.ToString());
      Tensor t = Tensor::Allocate(dtype, shape).value();
      auto* bytes = static_cast<uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < t.byte_size(); ++i) {
        bytes[i] = dtype == DType::kBool ? i % 2 : (i * 29 + 3) & 0x7F;
      }
      TensorProto p = TensorToProto(t);
      EXPECT_EQ(p.dtype(), DTypeToProto(dtype));
      EXPECT_TRUE(p.raw_data().empty());
      absl::StatusOr<Tensor> back = TensorFromProto(p, kBudget);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(back->BitwiseEquals(t));
    }
  }
}

TEST(TensorProtoTest, DecodesTypedAndRawData) {
  TensorProto typed = Proto(DT_INT64, {2});
  typed.add_int64_val(-5);
  typed.add_int64_val(int64_t{1} << 40);
  Tensor t = TensorFromProto(typed, kBudget).value();
  EXPECT_EQ(t.data<int64_t>()[0], -5);
  EXPECT_EQ(t.data<int64_t>()[1], int64_t{1} << 40);

  TensorProto raw = Proto(DT_FLOAT, {2});
  float values[2] = {1.5f, -2.0f};  // little-endian on every rill host
  raw.set_raw_data(std::string(reinterpret_cast<char*>(values), 8));
  Tensor r = TensorFromProto(raw, kBudget).value();
  EXPECT_EQ(r.data<float>()[0], 1.5f);
  EXPECT_EQ(r.data<float>()[1], -2.0f);
}

TEST(TensorProtoTest, DataLengthMismatch) {
  TensorProto few = Proto(DT_FLOAT, {2, 3});
  for (int i = 0; i < 5; ++i) few.add_float_val(i);
  ExpectError(TensorFromProto(few, kBudget), absl::StatusCode::kInvalidArgument,
              "needs 6 values (24 bytes) but has 5 in float_val");
  few.add_float_val(5);
  few.add_float_val(6);
  ExpectError(TensorFromProto(few, kBudget), absl::StatusCode::kInvalidArgument,
              "has 7 in float_val");
  TensorProto raw = Proto(DT_INT32, {3});
  raw.set_raw_data(std::string(11, '\0'));
  ExpectError(TensorFromProto(raw, kBudget), absl::StatusCode::kInvalidArgument,
              "has 11 bytes of raw_data");
  // No data at all for a non-empty tensor.
  ExpectError(TensorFromProto(Proto(DT_DOUBLE, {}), kBudget),
              absl::StatusCode::kInvalidArgument, "but has 0 in double_val");
}

TEST(TensorProtoTest, WrongTypedField) {
  TensorProto p = Proto(DT_FLOAT, {1});
  p.add_int_val(1);
  ExpectError(TensorFromProto(p, kBudget), absl::StatusCode::kInvalidArgument,
              "dtype f32 has data in int_val; use float_val");
  TensorProto b = Proto(DT_BOOL, {1});
  b.add_bool_val(true);
  b.add_double_val(1);
  ExpectError(TensorFromProto(b, kBudget), absl::StatusCode::kInvalidArgument,
              "has data in double_val");
}

TEST(TensorProtoTest, BothTypedAndRaw) {
  TensorProto p = Proto(DT_INT32, {1});
  p.add_int_val(1);
  p.set_raw_data(std::string(4, '\0'));
  ExpectError(TensorFromProto(p, kBudget), absl::StatusCode::kInvalidArgument,
              "both int_val and raw_data");
}

TEST(TensorProtoTest, BudgetExceeded) {
  TensorProto p = Proto(DT_DOUBLE, {4});
  p.set_raw_data(std::string(32, '\0'));
  ExpectError(
      TensorFromProto(p, 31), absl::StatusCode::kResourceExhausted,
      "tensor of 32 bytes exceeds the 31 bytes left of the memory budget");
  EXPECT_TRUE(TensorFromProto(p, 32).ok());
  // A huge claimed shape without its data is refused without allocating.
  ExpectError(TensorFromProto(Proto(DT_FLOAT, {int64_t{1} << 40}), kBudget),
              absl::StatusCode::kInvalidArgument, "needs 1099511627776 values");
}

TEST(TensorProtoTest, RawBoolBytes) {
  TensorProto ok = Proto(DT_BOOL, {3});
  ok.set_raw_data(std::string("\1\0\1", 3));
  Tensor t = TensorFromProto(ok, kBudget).value();
  EXPECT_TRUE(t.data<bool>()[0]);
  EXPECT_FALSE(t.data<bool>()[1]);
  EXPECT_TRUE(t.data<bool>()[2]);
  for (char bad : {'\2', '\xFF', '1'}) {
    TensorProto p = Proto(DT_BOOL, {2});
    p.set_raw_data(std::string(1, '\0') + bad);
    ExpectError(TensorFromProto(p, kBudget), absl::StatusCode::kInvalidArgument,
                "byte other than 0 or 1");
  }
}

TEST(TensorProtoTest, UnsupportedDtype) {
  TensorProto p = Proto(DT_INVALID, {1});
  p.add_float_val(1);
  ExpectError(TensorFromProto(p, kBudget), absl::StatusCode::kInvalidArgument,
              "unsupported dtype DT_INVALID");
  p.set_dtype(static_cast<DataType>(99));
  ExpectError(TensorFromProto(p, kBudget), absl::StatusCode::kInvalidArgument,
              "unsupported dtype 99");
}

TEST(TensorProtoTest, NegativeAndOverflowingDims) {
  ExpectError(TensorFromProto(Proto(DT_FLOAT, {2, -1}), kBudget),
              absl::StatusCode::kInvalidArgument, "dimension 1");
  ExpectError(
      TensorFromProto(Proto(DT_FLOAT, {int64_t{1} << 40, int64_t{1} << 40}),
                      kBudget),
      absl::StatusCode::kInvalidArgument, "more elements than int64");
  ExpectError(TensorFromProto(Proto(DT_INT64, {int64_t{1} << 61}), kBudget),
              absl::StatusCode::kInvalidArgument, "overflows int64");
}

TEST(TensorProtoTest, ShapeFromProtoKeepsSymbolicDims) {
  ShapeProto s;
  s.add_dim(kSymbolicDim);
  s.add_dim(4);
  EXPECT_EQ(ShapeFromProto(s), (Shape{kSymbolicDim, 4}));
  EXPECT_EQ(ShapeFromProto(ShapeProto()), Shape{});
}

}  // namespace
}  // namespace rill

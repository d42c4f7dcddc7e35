#ifndef RILL_CORE_DTYPE_H_
#define RILL_CORE_DTYPE_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/status.h"
#include "proto/graph.pb.h"

namespace rill {

enum class DType : uint8_t { kF32, kF64, kI32, kI64, kBool };

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF64, DType::kI32,
                                       DType::kI64, DType::kBool};

// A set of dtypes, for op type constraints.
class DTypeSet {
 public:
  constexpr DTypeSet() = default;
  constexpr DTypeSet(std::initializer_list<DType> types) {
    for (DType t : types) bits_ |= Bit(t);
  }
  constexpr bool Contains(DType t) const { return bits_ & Bit(t); }
  std::string ToString() const;  // "{f32, f64}"

 private:
  static constexpr uint32_t Bit(DType t) { return 1u << static_cast<int>(t); }
  uint32_t bits_ = 0;
};

inline constexpr DTypeSet kFloatTypes{DType::kF32, DType::kF64};
inline constexpr DTypeSet kIndexTypes{DType::kI32, DType::kI64};
inline constexpr DTypeSet kAnyType{DType::kF32, DType::kF64, DType::kI32,
                                   DType::kI64, DType::kBool};

// How f32 matrix products run: as written, or on bf16 copies of their
// operands with f32 accumulation and f32 results (mixed precision). An
// execution choice: the graph, its dtypes and everything else stay f32.
enum class Precision : uint8_t { kF32, kBf16 };
// "f32" or "bf16"; anything else is InvalidArgument naming the choices.
absl::StatusOr<Precision> ParsePrecision(const std::string& name);
const char* PrecisionName(Precision p);

// Bytes per element.
int64_t DTypeSize(DType t);
// "f32", "f64", "i32", "i64", "bool".
const char* DTypeName(DType t);

absl::StatusOr<DType> DTypeFromProto(DataType t);
DataType DTypeToProto(DType t);

// Maps a C++ element type to its DType.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kF64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kI32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kI64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};

}  // namespace rill

#endif  // RILL_CORE_DTYPE_H_

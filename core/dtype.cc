#include "core/dtype.h"

#include "absl/strings/str_cat.h"

namespace rill {

std::string DTypeSet::ToString() const {
  std::string out = "{";
  for (DType t : kAllDTypes) {
    if (!Contains(t)) continue;
    if (out.size() > 1) out += ", ";
    out += DTypeName(t);
  }
  return out + "}";
}

int64_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

absl::StatusOr<DType> DTypeFromProto(DataType t) {
  switch (t) {
    case DT_FLOAT:
      return DType::kF32;
    case DT_DOUBLE:
      return DType::kF64;
    case DT_INT32:
      return DType::kI32;
    case DT_INT64:
      return DType::kI64;
    case DT_BOOL:
      return DType::kBool;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "unsupported dtype ", DataType_Name(t).empty()
                                    ? absl::StrCat(static_cast<int>(t))
                                    : DataType_Name(t)));
  }
}

DataType DTypeToProto(DType t) {
  switch (t) {
    case DType::kF32:
      return DT_FLOAT;
    case DType::kF64:
      return DT_DOUBLE;
    case DType::kI32:
      return DT_INT32;
    case DType::kI64:
      return DT_INT64;
    case DType::kBool:
      return DT_BOOL;
  }
  return DT_INVALID;
}

absl::StatusOr<Precision> ParsePrecision(const std::string& name) {
  if (name == "f32") return Precision::kF32;
  if (name == "bf16") return Precision::kBf16;
  return absl::InvalidArgumentError(
      absl::StrCat("precision '", name, "': choose f32 or bf16"));
}

const char* PrecisionName(Precision p) {
  return p == Precision::kBf16 ? "bf16" : "f32";
}

}  // namespace rill

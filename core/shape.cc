#include "core/shape.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rill {

bool Shape::IsFullyDefined() const {
  for (int64_t d : dims_) {
    if (d < 0) return false;
  }
  return true;
}

absl::Status Shape::Validate(bool allow_symbolic) const {
  for (int i = 0; i < rank(); ++i) {
    int64_t d = dims_[i];
    if (d >= 0 || (allow_symbolic && d == kSymbolicDim)) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("dimension ", i, " of shape ", ToString(), " is ", d,
                     allow_symbolic ? "; only -1 (symbolic) or >= 0 allowed"
                                    : "; dimensions must be >= 0"));
  }
  // Overflow of the known dimensions is an error even when others are
  // symbolic: any binding would overflow too (unless it is 0). Zeros are
  // skipped too, as numpy does, so the order of the dimensions never matters.
  int64_t product = 1;
  for (int64_t d : dims_) {
    if (d <= 0) continue;
    if (__builtin_mul_overflow(product, d, &product)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ToString(), " has more elements than int64 can count"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Shape::NumElements() const {
  RETURN_IF_ERROR(Validate(/*allow_symbolic=*/false));
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;  // Validate() proved this cannot overflow.
  return n;
}

absl::StatusOr<int64_t> Shape::ByteSize(DType dtype) const {
  ASSIGN_OR_RETURN(int64_t n, NumElements());
  absl::StatusOr<int64_t> bytes = CheckedMul(n, DTypeSize(dtype));
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("byte size of ", DTypeName(dtype), " shape ", ToString(),
                     " overflows int64"));
  }
  return bytes;
}

std::string Shape::ToString() const {
  return absl::StrCat(
      "[",
      absl::StrJoin(dims_, ", ",
                    [](std::string* out, int64_t d) {
                      absl::StrAppend(out, d == kSymbolicDim ? std::string("?")
                                                             : absl::StrCat(d));
                    }),
      "]");
}

}  // namespace rill

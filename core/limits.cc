#include "core/limits.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {

namespace {

// a * b and a + b for the non-negative operands sizes are made of; false on
// overflow or a negative operand.
bool MulFits(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out);
}
bool AddFits(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_add_overflow(a, b, out);
}

absl::Status OverflowError(absl::string_view what, int64_t a,
                           absl::string_view op, int64_t b) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", a, op, b, " overflows int64"));
}

}  // namespace

int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t out;
  return MulFits(a, b, &out) ? out : std::numeric_limits<int64_t>::max();
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  return AddFits(a, b, &out) ? out : std::numeric_limits<int64_t>::max();
}

absl::StatusOr<int64_t> CheckedMul(int64_t a, int64_t b,
                                   absl::string_view what) {
  int64_t out;
  if (MulFits(a, b, &out)) return out;
  return OverflowError(what, a, " x ", b);
}

absl::StatusOr<int64_t> CheckedAdd(int64_t a, int64_t b,
                                   absl::string_view what) {
  int64_t out;
  if (AddFits(a, b, &out)) return out;
  return OverflowError(what, a, " + ", b);
}

std::string HumanBytes(int64_t bytes) {
  if (bytes == std::numeric_limits<int64_t>::max()) {
    return "more than 8 EiB";  // A saturated estimate.
  }
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = bytes / 1024.0;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.1f %s", v, units[u]);
}

absl::Status CheckFitsBudget(absl::string_view field, int64_t value,
                             absl::string_view what, int64_t bytes,
                             const MemoryBudget& budget) {
  if (bytes <= budget.bytes) return absl::OkStatus();
  const bool saturated = bytes == std::numeric_limits<int64_t>::max();
  return absl::ResourceExhaustedError(absl::StrCat(
      field, ": ", value, " needs ", saturated ? "" : "about ",
      HumanBytes(bytes), " of ", what, ", over the memory budget of ",
      budget.bytes >> 20, " MiB (", budget.setting, ")"));
}

absl::Status CheckAtMost(absl::string_view field, int64_t value, int64_t max,
                         absl::string_view what) {
  if (value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": ", value, " is over the limit of ", max, " (", what, ")"));
}

absl::Status CheckAtLeast(absl::string_view field, int64_t value, int64_t min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", value, ": must be >= ", min));
}

absl::StatusOr<int64_t> MiBFlagToBytes(absl::string_view flag, int64_t mib) {
  if (mib < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "=", mib, ": must be >= 0"));
  }
  constexpr int64_t kMaxMiB = std::numeric_limits<int64_t>::max() >> 20;
  if (mib > kMaxMiB) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "=", mib, ": over the largest size of ", kMaxMiB,
                     " MiB (the byte count would overflow int64)"));
  }
  return mib << 20;
}

}  // namespace rill

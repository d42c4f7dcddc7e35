#ifndef RILL_CORE_LIMITS_H_
#define RILL_CORE_LIMITS_H_

// The one place where sizes that come from users (spec fields, config
// fields, flags) are checked before they size an allocation or a loop.
// Callers estimate what a value will cost with the saturating helpers (an
// overflowing estimate becomes INT64_MAX, which is over every budget), then
// check the estimate here; the error names the field, its value and the
// limit, so the user knows what to change.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

// The default of --memory_budget_mb, in bytes.
inline constexpr int64_t kDefaultMemoryBudgetBytes = int64_t{8192} << 20;

// What work may take, and what to call the limit in a message.
struct MemoryBudget {
  int64_t bytes = kDefaultMemoryBudgetBytes;
  // How the user sets it: "--memory_budget_mb".
  std::string setting = "--memory_budget_mb";
};

// a * b and a + b, or INT64_MAX when the result overflows (operands must be
// >= 0). For estimates, where too big is simply too big.
int64_t SaturatingMul(int64_t a, int64_t b);
int64_t SaturatingAdd(int64_t a, int64_t b);

// Overflow-checked a * b and a + b for non-negative operands; the error
// names `what` ("size", "--steps x 8 bytes").
absl::StatusOr<int64_t> CheckedMul(int64_t a, int64_t b,
                                   absl::string_view what = "size");
absl::StatusOr<int64_t> CheckedAdd(int64_t a, int64_t b,
                                   absl::string_view what = "size");

// "512 B", "3.5 KiB", "7.5 GiB".
std::string HumanBytes(int64_t bytes);

// OK when `bytes`, what `field` = `value` needs for `what` ("parameters"),
// fits the budget; otherwise ResourceExhausted:
//   "recurrent.hidden_size: 1000000000 needs about 7.5 GiB of parameters,
//    over the memory budget of 4096 MiB (--memory_budget_mb)"
absl::Status CheckFitsBudget(absl::string_view field, int64_t value,
                             absl::string_view what, int64_t bytes,
                             const MemoryBudget& budget);

// OK when `value` <= `max`; otherwise InvalidArgument:
//   "--beam: 1000000000 is over the limit of 1024 (beams per sentence)"
absl::Status CheckAtMost(absl::string_view field, int64_t value, int64_t max,
                         absl::string_view what);

// OK when `value` >= `min`: "--steps: 0: must be >= 1".
absl::Status CheckAtLeast(absl::string_view field, int64_t value, int64_t min);

// A size flag given in MiB, in bytes. Refuses a negative value, and one
// whose byte count overflows int64 (2^44 MiB must not wrap to 0).
absl::StatusOr<int64_t> MiBFlagToBytes(absl::string_view flag, int64_t mib);

}  // namespace rill

#endif  // RILL_CORE_LIMITS_H_

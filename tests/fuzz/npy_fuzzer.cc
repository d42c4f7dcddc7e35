// libFuzzer target for the .npy reader: any input must parse cleanly or fail
// with a status, and whatever parses must survive SerializeNpy unchanged.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/npy.h"

namespace {

constexpr int64_t kBudget = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rill::Tensor> t = rill::ParseNpy(bytes, "fuzz.npy", kBudget);
  if (!t.ok()) return 0;
  std::string npy = rill::SerializeNpy(*t);
  absl::StatusOr<rill::Tensor> back = rill::ParseNpy(npy, "fuzz.npy", kBudget);
  if (!back.ok() || !back->BitwiseEquals(*t)) __builtin_trap();
  // Our output is canonical: writing what we read back gives the same bytes.
  if (rill::SerializeNpy(*back) != npy) __builtin_trap();
  return 0;
}

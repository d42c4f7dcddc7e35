#include "graph/input_values.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace rill {
namespace {

template <typename T>
int64_t FirstOutside(const T* v, int64_t n, absl::Span<const int64_t> allowed) {
  for (int64_t k = 0; k < n; ++k) {
    if (std::find(allowed.begin(), allowed.end(), static_cast<int64_t>(v[k])) ==
        allowed.end()) {
      return k;
    }
  }
  return -1;
}

}  // namespace

absl::Span<const int64_t> AllowedValues(const Node& input) {
  auto it = input.attr().find("allowed_values");
  if (it == input.attr().end()) return {};
  const auto& list = it->second.list().i();
  return absl::MakeConstSpan(list.data(), list.size());
}

int64_t FirstDisallowedValue(const Tensor& t, int64_t count,
                             absl::Span<const int64_t> allowed) {
  if (allowed.empty()) return -1;
  switch (t.dtype()) {
    case DType::kI64:
      return FirstOutside(t.data<int64_t>(), count, allowed);
    case DType::kI32:
      return FirstOutside(t.data<int32_t>(), count, allowed);
    default:
      return -1;
  }
}

int64_t IntegerElement(const Tensor& t, int64_t k) {
  return t.dtype() == DType::kI64 ? t.data<int64_t>()[k] : t.data<int32_t>()[k];
}

std::string AllowedValuesText(absl::Span<const int64_t> allowed) {
  return absl::StrJoin(allowed, ", ");
}

}  // namespace rill

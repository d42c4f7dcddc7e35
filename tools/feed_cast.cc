#include "tools/feed_cast.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {
namespace {

// Every f64 and every i64 is exactly a long double (x86's 64-bit
// significand), so a value can be read once and checked against each
// target exactly.
static_assert(std::numeric_limits<long double>::digits >= 64,
              "CastFeed needs a long double that holds every int64 exactly");

long double Element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32:
      return t.data<float>()[i];
    case DType::kF64:
      return t.data<double>()[i];
    case DType::kI32:
      return t.data<int32_t>()[i];
    case DType::kI64:
      return t.data<int64_t>()[i];
    case DType::kBool:
      return t.data<bool>()[i];
  }
  return 0;
}

const char* NumpyName(DType t) {
  switch (t) {
    case DType::kF32:
      return "np.float32";
    case DType::kF64:
      return "np.float64";
    case DType::kI32:
      return "np.int32";
    case DType::kI64:
      return "np.int64";
    case DType::kBool:
      return "np.bool_";
  }
  return "?";
}

// Stores v as element i of `out` (of a float dtype), rounding; returns
// whether that was exact.
template <typename T>
bool StoreFloat(long double v, Tensor& out, int64_t i) {
  if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<T>::max()) {
    out.data<T>()[i] = std::copysign(std::numeric_limits<T>::infinity(),
                                     static_cast<T>(v < 0 ? -1 : 1));
    return false;
  }
  const T f = static_cast<T>(v);
  out.data<T>()[i] = f;
  return std::isnan(v) || static_cast<long double>(f) == v;
}

// Stores v as element i of `out` (of an integer dtype) when it is an
// integer in range; returns whether it was.
template <typename T>
bool StoreInteger(long double v, Tensor& out, int64_t i) {
  // The bounds are powers of two, exact as long doubles.
  const long double lo = std::numeric_limits<T>::min();
  const long double hi = -lo;  // One past the largest.
  if (!(v >= lo && v < hi) || std::trunc(v) != v) return false;
  out.data<T>()[i] = static_cast<T>(v);
  return true;
}

}  // namespace

absl::StatusOr<Tensor> CastFeed(const Tensor& feed, DType to, FeedCast cast,
                                const std::string& what) {
  if (feed.dtype() == to) return feed;
  const std::string from_name = DTypeName(feed.dtype());
  if (cast == FeedCast::kNone) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is ", from_name, " but the input is declared ", DTypeName(to),
        "; convert the file (numpy: np.save(path, np.load(path).astype(",
        NumpyName(to),
        "))) or pass --cast_feeds=exact (or =lossy to allow "
        "rounding to ",
        DTypeName(to), ")"));
  }
  ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(to, feed.shape()));
  const bool to_float = to == DType::kF32 || to == DType::kF64;
  for (int64_t i = 0; i < feed.num_elements(); ++i) {
    const long double v = Element(feed, i);
    bool exact = false, representable = true;
    switch (to) {
      case DType::kF32:
        exact = StoreFloat<float>(v, out, i);
        break;
      case DType::kF64:
        exact = StoreFloat<double>(v, out, i);
        break;
      case DType::kI32:
        exact = StoreInteger<int32_t>(v, out, i);
        break;
      case DType::kI64:
        exact = StoreInteger<int64_t>(v, out, i);
        break;
      case DType::kBool:
        exact = v == 0 || v == 1;
        if (exact) out.data<bool>()[i] = v == 1;
        break;
    }
    if (to_float) {
      // Rounding is allowed on request; overflowing to infinity is not.
      representable =
          !std::isfinite(v) || std::isfinite(out.ElementAsDouble(i));
    }
    if (exact) continue;
    const bool allowed = cast == FeedCast::kLossy && to_float && representable;
    if (allowed) continue;
    const std::string value =
        feed.dtype() == DType::kI64
            ? absl::StrCat(feed.data<int64_t>()[i])
            : absl::StrFormat("%.17g", static_cast<double>(v));
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": element ", i, " (", value, ", ", from_name,
        ") is not exactly ", DTypeName(to),
        !representable ? " (it overflows to infinity)"
        : to_float && cast == FeedCast::kExact
            ? "; --cast_feeds=lossy rounds it"
        : to_float ? ""
                   : "; no --cast_feeds converts it (values must be "
                     "integers in range, or 0/1 for bool)"));
  }
  return out;
}

}  // namespace rill

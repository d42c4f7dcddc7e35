#ifndef RILL_TOOLS_FEED_CAST_H_
#define RILL_TOOLS_FEED_CAST_H_

// `rill run --cast_feeds`: a feed converted to its input's declared dtype,
// only as far as the user allowed.

#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace rill {

// How far a feed may be converted.
enum class FeedCast {
  kNone,   // Not at all: a dtype mismatch is an error saying how to convert.
  kExact,  // When every value converts exactly (0.5 f64 -> f32, 3 i64 ->
           // i32, 1.0 f32 -> i64, 0/1 -> bool).
  kLossy,  // Also rounding to the nearest float (0.1 f64 -> f32, 2^53 + 1
           // i64 -> f64). Never overflow to infinity, a fraction or a NaN
           // into an integer, an out-of-range integer, or a bool other than
           // 0/1.
};

// `feed` as `to`. `what` names it in errors ("feed 'x' (x.npy)"), which
// give the first value that will not convert and, for kNone, the numpy
// line that converts the file and the --cast_feeds that would convert it.
absl::StatusOr<Tensor> CastFeed(const Tensor& feed, DType to, FeedCast cast,
                                const std::string& what);

}  // namespace rill

#endif  // RILL_TOOLS_FEED_CAST_H_

#ifndef RILL_CORE_INITIALIZER_H_
#define RILL_CORE_INITIALIZER_H_

// The distributions a Parameter's initial values are drawn from (the
// graph's `init` attrs, ops/parameter_value.h, resolve into one of these).
//
// Element i of a tensor draws from its own SplitMix64 stream, which starts
// i * 2^32 steps after the seed's, so the values depend on the seed and the
// shape alone: never on the thread count or on how the work is split.
// Normal values come in Box-Muller pairs: elements 2j and 2j+1 share
// stream 2j (a truncated normal redraws, so it takes one value per stream).

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"

namespace rill {

struct Distribution {
  enum class Kind { kConstant, kUniform, kNormal, kTruncatedNormal };
  Kind kind = Kind::kConstant;
  double value = 0;          // kConstant.
  double mean = 0, std = 1;  // kNormal, kTruncatedNormal.
  double low = 0, high = 1;  // kUniform; kTruncatedNormal's cut-offs.
  uint64_t seed = 0;
};

// A truncated normal whose interval holds less than 1e-4 of the mass is
// refused: rejection would take ~10^4 draws an element.
absl::Status CheckTruncation(const Distribution& d);

// Fills every element of `t` (f32 or f64; a constant also fills i32, i64
// and bool tensors), on `threads` threads; other dtypes, and what
// CheckTruncation refuses, are errors.
absl::Status FillFromDistribution(const Distribution& d, int threads,
                                  Tensor* t);

}  // namespace rill

#endif  // RILL_CORE_INITIALIZER_H_

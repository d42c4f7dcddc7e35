#include "core/initializer.h"

#include <cmath>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/random.h"

namespace rill {
namespace {

using Kind = Distribution::Kind;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
// Steps between two elements' streams: far more than any element draws.
constexpr uint64_t kStreamStride = uint64_t{1} << 32;
// Below this many elements one thread fills the tensor.
constexpr int64_t kParallelMinElements = int64_t{1} << 16;

SplitMix64 StreamOf(uint64_t seed, int64_t element) {
  return SplitMix64(seed +
                    static_cast<uint64_t>(element) * kStreamStride * kGolden);
}

// Two independent standard normals (Box-Muller); 1 - Uniform() is in
// (0, 1], so the log is finite.
void StandardNormalPair(SplitMix64& rng, double* z0, double* z1) {
  const double radius = std::sqrt(-2 * std::log(1 - rng.Uniform()));
  const double angle = 2 * M_PI * rng.Uniform();
  *z0 = radius * std::cos(angle);
  *z1 = radius * std::sin(angle);
}

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Elements [begin, end) of `out`; `begin` is even for normals.
template <typename T>
void FillRange(const Distribution& d, int64_t begin, int64_t end, T* out) {
  if (d.kind == Kind::kConstant) {
    for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(d.value);
    return;
  }
  if (d.kind == Kind::kNormal) {
    for (int64_t i = begin; i < end; i += 2) {
      SplitMix64 rng = StreamOf(d.seed, i);
      double z0, z1;
      StandardNormalPair(rng, &z0, &z1);
      out[i] = static_cast<T>(d.mean + d.std * z0);
      if (i + 1 < end) out[i + 1] = static_cast<T>(d.mean + d.std * z1);
    }
    return;
  }
  for (int64_t i = begin; i < end; ++i) {
    SplitMix64 rng = StreamOf(d.seed, i);
    if (d.kind == Kind::kUniform) {
      out[i] = static_cast<T>(d.low + (d.high - d.low) * rng.Uniform());
      continue;
    }
    double x, spare;
    do {
      StandardNormalPair(rng, &x, &spare);
      x = d.mean + d.std * x;
    } while (x < d.low || x > d.high);
    out[i] = static_cast<T>(x);
  }
}

template <typename T>
void FillParallel(const Distribution& d, int threads, Tensor* t) {
  const int64_t n = t->num_elements();
  T* out = t->data<T>();
  if (threads <= 1 || n < kParallelMinElements) {
    FillRange(d, 0, n, out);
    return;
  }
  // Even chunk bounds keep each Box-Muller pair in one chunk.
  const int64_t chunk = ((n + threads - 1) / threads + 1) / 2 * 2;
  std::vector<std::thread> workers;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    workers.emplace_back(
        [&d, begin, end, out] { FillRange(d, begin, end, out); });
  }
  for (std::thread& w : workers) w.join();
}

}  // namespace

absl::Status CheckTruncation(const Distribution& d) {
  const double mass = NormalCdf((d.high - d.mean) / d.std) -
                      NormalCdf((d.low - d.mean) / d.std);
  if (mass >= 1e-4) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the truncation interval [", d.low, ", ", d.high, "] holds ",
                   mass, " of normal(", d.mean, ", ", d.std,
                   ")'s mass (at least 1e-4 is needed)"));
}

absl::Status FillFromDistribution(const Distribution& d, int threads,
                                  Tensor* t) {
  if (d.kind == Kind::kTruncatedNormal) RETURN_IF_ERROR(CheckTruncation(d));
  switch (t->dtype()) {
    case DType::kF32:
      FillParallel<float>(d, threads, t);
      return absl::OkStatus();
    case DType::kF64:
      FillParallel<double>(d, threads, t);
      return absl::OkStatus();
    default:
      break;
  }
  if (d.kind != Kind::kConstant) {
    return absl::InvalidArgumentError(
        absl::StrCat("random values need a float dtype (f32 or f64), not ",
                     DTypeName(t->dtype())));
  }
  switch (t->dtype()) {
    case DType::kI32:
      FillRange(d, 0, t->num_elements(), t->data<int32_t>());
      break;
    case DType::kI64:
      FillRange(d, 0, t->num_elements(), t->data<int64_t>());
      break;
    default:
      FillRange(d, 0, t->num_elements(), t->data<bool>());
  }
  return absl::OkStatus();
}

}  // namespace rill

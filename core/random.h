#ifndef RILL_CORE_RANDOM_H_
#define RILL_CORE_RANDOM_H_

// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a 64-bit generator whose
// whole state is one counter, so that a seed gives the same sequence on any
// machine and with any standard library (std::uniform_int_distribution and
// friends are implementation-defined).

#include <cstdint>
#include <limits>
#include <utility>

namespace rill {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) for n >= 1, without modulo bias: draws past the
  // largest multiple of n are redrawn.
  uint64_t Below(uint64_t n) {
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t limit = max - max % n;
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % n;
  }
  // Uniform in [lo, hi], both included (Python's random.randint).
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // The whole state, one word, for checkpoints.
  uint64_t state() const { return state_; }
  void set_state(uint64_t state) { state_ = state; }

 private:
  uint64_t state_;
};

// Fisher-Yates, as Python's random.shuffle walks it (from the back).
template <typename Vector>
void Shuffle(Vector& v, SplitMix64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[rng.Below(i)]);
  }
}

}  // namespace rill

#endif  // RILL_CORE_RANDOM_H_

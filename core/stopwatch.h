#ifndef RILL_CORE_STOPWATCH_H_
#define RILL_CORE_STOPWATCH_H_

// Wall-clock seconds for progress lines and timing summaries, on the
// monotonic clock (a system clock change must not make a run look faster).

#include <chrono>

namespace rill {

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace rill

#endif  // RILL_CORE_STOPWATCH_H_

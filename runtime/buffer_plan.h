#ifndef RILL_RUNTIME_BUFFER_PLAN_H_
#define RILL_RUNTIME_BUFFER_PLAN_H_

#include <cstdint>
#include <vector>

namespace rill {

// A buffer needed from step `first_use` to step `last_use`, inclusive.
struct BufferRequest {
  int64_t bytes = 0;
  int first_use = 0;
  int last_use = 0;
};

struct BufferPlan {
  std::vector<int64_t> offsets;  // Per request, 64-byte aligned.
  int64_t peak_bytes = 0;        // Arena size.
};

// Places buffers in one arena so that two buffers share bytes only when
// their lifetimes are disjoint. It replays the schedule as an allocator
// would: at each step it frees the buffers used for the last time before
// it, then gives each new buffer the smallest free block that fits (best
// fit, neighbouring free blocks merged), or grows the arena. O(n log n), so
// that gradient graphs of 100k nodes plan in milliseconds; the earlier
// greedy-by-size placement compared every pair of buffers.
BufferPlan PlanBuffers(const std::vector<BufferRequest>& requests);

}  // namespace rill

#endif  // RILL_RUNTIME_BUFFER_PLAN_H_

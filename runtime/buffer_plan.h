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
// their lifetimes are disjoint. Greedy by size: the largest buffers are
// placed first, each at the lowest offset that fits.
BufferPlan PlanBuffers(const std::vector<BufferRequest>& requests);

}  // namespace rill

#endif  // RILL_RUNTIME_BUFFER_PLAN_H_

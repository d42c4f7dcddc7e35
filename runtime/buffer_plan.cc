#include "runtime/buffer_plan.h"

#include <algorithm>
#include <numeric>

#include "core/tensor.h"

namespace rill {

BufferPlan PlanBuffers(const std::vector<BufferRequest>& requests) {
  int n = static_cast<int>(requests.size());
  std::vector<int64_t> sizes(n);
  for (int i = 0; i < n; ++i) {
    sizes[i] = AlignedBytes(requests[i].bytes);
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return sizes[a] > sizes[b]; });
  BufferPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<int> placed;
  for (int i : order) {
    // Intervals [offset, end) of placed buffers alive at the same time.
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (int j : placed) {
      if (requests[j].first_use <= requests[i].last_use &&
          requests[i].first_use <= requests[j].last_use) {
        taken.push_back({plan.offsets[j], plan.offsets[j] + sizes[j]});
      }
    }
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + sizes[i] <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offsets[i] = offset;
    plan.peak_bytes = std::max(plan.peak_bytes, offset + sizes[i]);
    placed.push_back(i);
  }
  return plan;
}

}  // namespace rill

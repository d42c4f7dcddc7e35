#include "runtime/buffer_plan.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <queue>
#include <set>

#include "core/tensor.h"

namespace rill {
namespace {

// The arena's free space as blocks, found by size (best fit) and by offset
// (to merge neighbours). Space above `end` is free too, so a block that
// reaches `end` is given back to it.
class Arena {
 public:
  int64_t Allocate(int64_t size) {
    auto fit = by_size_.lower_bound({size, 0});
    if (fit == by_size_.end()) {
      int64_t offset = end_;
      end_ += size;
      peak_ = std::max(peak_, end_);
      return offset;
    }
    auto [block, offset] = *fit;
    by_size_.erase(fit);
    by_offset_.erase(offset);
    if (block > size) Insert(offset + size, block - size);
    return offset;
  }

  void Release(int64_t offset, int64_t size) {
    auto next = by_offset_.find(offset + size);
    if (next != by_offset_.end()) {
      size += next->second;
      Erase(next);
    }
    auto after = by_offset_.lower_bound(offset);
    if (after != by_offset_.begin()) {
      auto prev = std::prev(after);
      if (prev->first + prev->second == offset) {
        offset = prev->first;
        size += prev->second;
        Erase(prev);
      }
    }
    if (offset + size == end_) {
      end_ = offset;
    } else {
      Insert(offset, size);
    }
  }

  int64_t peak() const { return peak_; }

 private:
  void Insert(int64_t offset, int64_t size) {
    by_offset_[offset] = size;
    by_size_.insert({size, offset});
  }
  void Erase(std::map<int64_t, int64_t>::iterator it) {
    by_size_.erase({it->second, it->first});
    by_offset_.erase(it);
  }

  std::map<int64_t, int64_t> by_offset_;           // offset -> size
  std::set<std::pair<int64_t, int64_t>> by_size_;  // (size, offset)
  int64_t end_ = 0;
  int64_t peak_ = 0;
};

}  // namespace

BufferPlan PlanBuffers(const std::vector<BufferRequest>& requests) {
  int n = static_cast<int>(requests.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return requests[a].first_use < requests[b].first_use;
  });
  // Live buffers, the one whose lifetime ends first on top.
  using Live = std::pair<int, int>;  // (last_use, request)
  std::priority_queue<Live, std::vector<Live>, std::greater<Live>> live;
  BufferPlan plan;
  plan.offsets.assign(n, 0);
  Arena arena;
  for (int i : order) {
    while (!live.empty() && live.top().first < requests[i].first_use) {
      int done = live.top().second;
      live.pop();
      arena.Release(plan.offsets[done], AlignedBytes(requests[done].bytes));
    }
    int64_t size = AlignedBytes(requests[i].bytes);
    if (size == 0) continue;
    plan.offsets[i] = arena.Allocate(size);
    live.push({requests[i].last_use, i});
  }
  plan.peak_bytes = arena.peak();
  return plan;
}

}  // namespace rill

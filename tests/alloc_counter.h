#ifndef RILL_TESTS_ALLOC_COUNTER_H_
#define RILL_TESTS_ALLOC_COUNTER_H_

// Counts heap allocations, for tests that promise none: linking this
// library into a test binary replaces the global operator new. Allocations
// made by code inside oneDNN's library are counted apart (dladdr of the
// caller): oneDNN's C API builds an argument map on every primitive
// execution, which rill cannot avoid.

#include <cstdint>

namespace rill {

struct AllocationCounts {
  int64_t rill = 0;    // Everything outside libdnnl.
  int64_t onednn = 0;  // Made by code in libdnnl.
};

// False in ASan builds: ASan supplies operator new itself, and replacing it
// there mixes its allocations with ours. Tests skip (visibly) then; the
// regular build counts.
bool AllocationCountingWorks();

// Counts the allocations `f` makes, on any thread.
template <typename F>
AllocationCounts CountAllocations(F&& f);

void StartCountingAllocations();
AllocationCounts StopCountingAllocations();

template <typename F>
AllocationCounts CountAllocations(F&& f) {
  StartCountingAllocations();
  f();
  return StopCountingAllocations();
}

}  // namespace rill

#endif  // RILL_TESTS_ALLOC_COUNTER_H_

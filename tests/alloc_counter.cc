#include "tests/alloc_counter.h"

#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tests/sanitizers.h"

#define RILL_COUNT_ALLOCATIONS (!RILL_UNDER_ASAN)

namespace {

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_rill{0}, g_onednn{0};

#if RILL_COUNT_ALLOCATIONS
bool CalledFromOneDnn(void* caller) {
  Dl_info info;
  return dladdr(caller, &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libdnnl") != nullptr;
}

void* Allocate(size_t n, size_t alignment, void* caller) {
  // dladdr must not count itself; per thread, as oneDNN's threads allocate
  // too.
  thread_local bool in_hook = false;
  if (g_counting && !in_hook) {
    in_hook = true;
    ++(CalledFromOneDnn(caller) ? g_onednn : g_rill);
    in_hook = false;
  }
  n = n == 0 ? 1 : n;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(
                      alignment, (n + alignment - 1) / alignment * alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

#endif

}  // namespace

#if RILL_COUNT_ALLOCATIONS
void* operator new(size_t n) {
  return Allocate(n, 0, __builtin_return_address(0));
}
void* operator new[](size_t n) {
  return Allocate(n, 0, __builtin_return_address(0));
}
void* operator new(size_t n, std::align_val_t a) {
  return Allocate(n, static_cast<size_t>(a), __builtin_return_address(0));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
#endif

namespace rill {

bool AllocationCountingWorks() { return RILL_COUNT_ALLOCATIONS; }

void StartCountingAllocations() {
  g_rill = 0;
  g_onednn = 0;
  g_counting = true;
}

AllocationCounts StopCountingAllocations() {
  g_counting = false;
  return {g_rill.load(), g_onednn.load()};
}

}  // namespace rill

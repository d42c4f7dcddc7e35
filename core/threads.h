#ifndef RILL_CORE_THREADS_H_
#define RILL_CORE_THREADS_H_

// How many threads kernels use. oneDNN runs its primitives on OpenMP's
// threads, so the count is OpenMP's; rill's own loops are single-threaded.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

// Above this, libgomp fails to start the threads and aborts.
inline constexpr int kMaxThreads = 1024;

// The CPUs this process may run on: its affinity mask, capped by its
// cgroup's CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over
// cpu.cfs_period_us) rounded up; at least 1. A container allowed 1.5 CPUs
// of a 64-core host gets 2, not 64.
int AvailableCpus();

// The quota part of AvailableCpus, from a cgroup file's text: "max 100000"
// or "150000 100000" (v2 cpu.max), or the v1 quota and period ("-1" is no
// limit). nullopt when there is no limit or the text is not understood.
std::optional<int> CpusFromQuota(absl::string_view quota_text,
                                 absl::string_view period_text = "");

// Sets the kernels' thread count: `threads` > 0 as given; 0 for
// OMP_NUM_THREADS when the environment sets it, else AvailableCpus().
// Outside [0, kMaxThreads] it is an error naming `field`
// (a flag or config field) and changes nothing.
absl::Status SetThreads(int64_t threads, absl::string_view field);

// The count kernels now use.
int CurrentThreads();

// While it lives, kernels run on one thread (when `active`): a kernel too
// small to gain from a second thread still pays for opening a parallel
// region, and far more when another process holds one of the cores.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(bool active);
  ~SingleThreadScope();
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int saved_ = 0;  // 0: inactive.
};

// For a program's main(), before anything else: unless the environment
// already chooses an OpenMP wait policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT),
// sets OMP_WAIT_POLICY=PASSIVE and executes the program again with `argv`.
//
// Why: libgomp's default lets idle threads spin, and a spinning thread that
// shares its core with another busy process is treated by the scheduler as
// a CPU hog, so every parallel region waits for it for up to a time slice
// and a training step slows many-fold (README, "Threads"). Passive threads
// sleep, and get their core at once when woken. libgomp reads the policy
// once, when it loads, hence the new execution. If that fails the program
// runs on with the default policy.
void PreferPassiveOpenMpThreads(char** argv);

}  // namespace rill

#endif  // RILL_CORE_THREADS_H_

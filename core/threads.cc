#include "core/threads.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rill {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cgroup (v2) directory of this process, from "0::/path" in
// /proc/self/cgroup; the root when it is not listed.
std::string OwnCgroupV2() {
  for (absl::string_view line :
       absl::StrSplit(ReadSmallFile("/proc/self/cgroup"), '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) {
      return absl::StrCat("/sys/fs/cgroup", line == "/" ? "" : line);
    }
  }
  return "/sys/fs/cgroup";
}

// OMP_NUM_THREADS when the user set it (its first entry, as OpenMP reads
// it), else AvailableCpus().
int64_t DefaultThreads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env != nullptr) {
    absl::string_view text(env);
    int64_t threads = 0;
    if (absl::SimpleAtoi(text.substr(0, text.find(',')), &threads) &&
        threads >= 1 && threads <= kMaxThreads) {
      return threads;
    }
  }
  return AvailableCpus();
}

}  // namespace

std::optional<int> CpusFromQuota(absl::string_view quota_text,
                                 absl::string_view period_text) {
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::StripAsciiWhitespace(quota_text), ' ', absl::SkipEmpty());
  if (fields.size() == 1) {  // v1: the period is in its own file.
    fields.push_back(absl::StripAsciiWhitespace(period_text));
  }
  int64_t quota = 0, period = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &quota) ||
      !absl::SimpleAtoi(fields[1], &period) || quota <= 0 || period <= 0) {
    return std::nullopt;  // "max", "-1", or nothing readable.
  }
  int64_t cpus = (quota + period - 1) / period;
  return static_cast<int>(std::clamp<int64_t>(cpus, 1, kMaxThreads));
}

int AvailableCpus() {
  int cpus = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    cpus = std::max(1, CPU_COUNT(&set));
  }
  std::optional<int> quota =
      CpusFromQuota(ReadSmallFile(OwnCgroupV2() + "/cpu.max"));
  if (!quota.has_value()) {
    quota =
        CpusFromQuota(ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                      ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  }
  return quota.has_value() ? std::min(cpus, *quota) : cpus;
}

absl::Status SetThreads(int64_t threads, absl::string_view field) {
  if (threads < 0 || threads > kMaxThreads) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", threads, ": must be in [0, ", kMaxThreads,
                     "] (0: the CPUs this process may use)"));
  }
  if (threads == 0) threads = DefaultThreads();
  omp_set_num_threads(static_cast<int>(threads));
  return absl::OkStatus();
}

int CurrentThreads() { return omp_get_max_threads(); }

SingleThreadScope::SingleThreadScope(bool active) {
  if (!active) return;
  saved_ = omp_get_max_threads();
  if (saved_ > 1) omp_set_num_threads(1);
}

SingleThreadScope::~SingleThreadScope() {
  if (saved_ > 1) omp_set_num_threads(saved_);
}

void PreferPassiveOpenMpThreads(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr ||
      std::getenv("GOMP_SPINCOUNT") != nullptr) {
    return;
  }
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace rill

#ifndef RILL_BENCH_BENCH_UTIL_H_
#define RILL_BENCH_BENCH_UTIL_H_

// What the training-step benchmarks (transformer_bench, rnn_bench) share:
// timing by median, random fills, and the per-kernel breakdown of a graph.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

struct Timing {
  double median_ms = 0, min_ms = 0;
};

// Runs `body` `warmup` times untimed, then `repeats` times timed, each run
// on its own; the median and the fastest.
absl::StatusOr<Timing> Time(int warmup, int repeats,
                            const std::function<absl::Status()>& body);

// Runs the bodies in turns, one run of each per round: `warmup` rounds
// untimed, then `repeats` timed; each body's median and fastest, in order.
// A change of load then hits every body alike, so the ratios between them
// survive a noisy machine.
absl::StatusOr<std::vector<Timing>> TimeInTurns(
    int warmup, int repeats,
    const std::vector<std::function<absl::Status()>>& bodies);

// Fills an f32 tensor with uniform(-1, 1) values from `seed`.
void FillUniform(Tensor& t, uint32_t seed);

// A dim x dim x dim matmul through oneDNN directly, on f32 operands or on
// bf16 ones (f32 result): the machine's practical matmul peak. 2 warm-up
// runs, then `repeats` timed ones.
absl::StatusOr<Timing> TimeOneDnnMatMul(int64_t dim, int repeats,
                                        Precision precision);

inline double GFlops(double flops, double ms) { return flops / (ms * 1e6); }

// Times every kernel that the fetches of `g` need, each alone: the node is
// run by itself in a graph of Inputs of its input shapes (uniform(-1, 1)
// f32 values), so fused MatMul -> Add [-> activation] chains are timed
// unfused; the median of 20 runs. Nodes of one configuration (op, attrs,
// input dtypes and shapes) are timed once and counted that many times.
// Prints the sums by op type, then the costliest configurations. The sum
// differs from `step_ms` by what isolation changes (caches, fusion, the
// executor's dispatch), but shows where the time goes.
absl::Status PrintBreakdown(const ValidGraph& g,
                            const std::vector<std::string>& fetches,
                            double step_ms);

}  // namespace rill

#endif  // RILL_BENCH_BENCH_UTIL_H_

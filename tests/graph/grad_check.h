#ifndef RILL_TESTS_GRAPH_GRAD_CHECK_H_
#define RILL_TESTS_GRAPH_GRAD_CHECK_H_

// Gradient checking: the gradients that BuildGradientGraph's graph computes
// against numerical derivatives of the forward graph.

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "proto/graph.pb.h"
#include "runtime/executor.h"

namespace rill {

// Runs the gradient graph of `forward` (loss `loss`, differentiated with
// respect to the Input nodes `wrt`) on `backend`, and returns the gradients
// in wrt's order.
absl::StatusOr<std::vector<Tensor>> AnalyticGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds, Backend backend);

// The loss's derivative with respect to each element of each wrt feed, by
// the five-point central difference (f(x-2h) - 8f(x-h) + 8f(x+h) -
// f(x+2h)) / 12h, whose error is O(h^4). Each evaluation runs a fresh
// executor, so that random ops (Dropout) draw the same numbers every time.
// The feeds must be f64.
absl::StatusOr<std::vector<Tensor>> NumericGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds, double h = 1e-3);

struct GradCheck {
  double max_error = 0;  // Over every element of every gradient.
  std::string worst;     // "in1[4]: analytic 0.5, numeric 0.51"
};
// The largest |analytic - numeric| / max(|analytic|, |numeric|, floor).
// The floor keeps elements whose true gradient is about 0 from dividing by
// noise.
absl::StatusOr<GradCheck> CompareGradients(const std::vector<Tensor>& analytic,
                                           const std::vector<Tensor>& numeric,
                                           const std::vector<std::string>& wrt,
                                           double floor = 1e-3);

// Both of the above, in f64 on the reference backend.
absl::StatusOr<GradCheck> CheckGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds);

// A copy of `t` converted to `dtype` (f32 <-> f64).
Tensor ConvertFloat(const Tensor& t, DType dtype);

}  // namespace rill

#endif  // RILL_TESTS_GRAPH_GRAD_CHECK_H_

#include "models/mackey_glass.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// `value` / dt as a whole number of steps, or -1 when it is not one.
int64_t WholeSteps(double value, double dt) {
  const double steps = value / dt;
  const double rounded = std::round(steps);
  if (!(rounded >= 1) || std::abs(steps - rounded) > 1e-9 * rounded) return -1;
  return static_cast<int64_t>(rounded);
}

}  // namespace

absl::StatusOr<EsnMatrix> MackeyGlass(int64_t samples,
                                      const MackeyGlassOptions& o) {
  if (!(o.dt > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MackeyGlass: dt must be > 0, got ", o.dt));
  }
  const int64_t delay = WholeSteps(o.tau, o.dt);
  const int64_t every = WholeSteps(o.sample_every, o.dt);
  if (delay < 1 || every < 1 || samples < 0 || o.discard < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MackeyGlass: tau (", o.tau, ") and sample_every (", o.sample_every,
        ") must be positive whole multiples of dt (", o.dt,
        "), samples and discard >= 0"));
  }
  auto f = [&o](double x, double x_tau) {
    return o.a * x_tau / (1 + std::pow(x_tau, o.n)) - o.b * x;
  };
  // history[k] is x at step k - delay; the first delay + 1 are the constant
  // initial history on [-tau, 0].
  const int64_t total = samples + o.discard;
  std::vector<double> history(delay + 1, o.x0);
  history.reserve(delay + 1 + total * every);
  EsnMatrix out(samples, 1);
  for (int64_t s = 0; s < total; ++s) {
    if (s >= o.discard) out(s - o.discard, 0) = history.back();
    for (int64_t k = 0; k < every; ++k) {
      const int64_t now = static_cast<int64_t>(history.size()) - 1;
      const double x = history[now];
      const double lag0 = history[now - delay];
      const double lag1 = history[now - delay + 1];
      const double lag_half = 0.5 * (lag0 + lag1);
      const double k1 = f(x, lag0);
      const double k2 = f(x + 0.5 * o.dt * k1, lag_half);
      const double k3 = f(x + 0.5 * o.dt * k2, lag_half);
      const double k4 = f(x + o.dt * k3, lag1);
      history.push_back(x + o.dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4));
    }
  }
  return out;
}

}  // namespace rill

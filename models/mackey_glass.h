#ifndef RILL_MODELS_MACKEY_GLASS_H_
#define RILL_MODELS_MACKEY_GLASS_H_

// The Mackey-Glass delay differential equation, the standard ESN benchmark:
//
//   dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t)
//
// Integration: classical fourth-order Runge-Kutta with a fixed step dt
// (default 0.1, so tau = 17 is exactly 170 steps). The delayed term is read
// from a history buffer of every step's value; at the half steps RK4 needs
// x(t - tau + dt/2), taken as the mean of the two neighbouring stored values
// (linear interpolation), and the delayed term is held fixed within each
// stage (it does not depend on the current stage's estimate, as the delay
// tau >= dt). The history before t = 0 is constant, x(t) = x0 for t in
// [-tau, 0]. The series is x sampled every `sample_every` time units
// (default 1, i.e. every 10 steps), starting with x(0) = x0, after
// `discard` samples are dropped (default 0).

#include <cstdint>

#include "core/status.h"
#include "models/esn.h"

namespace rill {

struct MackeyGlassOptions {
  double tau = 17;
  double a = 0.2;
  double b = 0.1;
  double n = 10;
  double x0 = 1.2;
  double dt = 0.1;
  double sample_every = 1;  // Time units; a whole multiple of dt.
  int64_t discard = 0;      // Leading samples dropped.
};

// `samples` values as a [samples, 1] series. InvalidArgument when tau or
// sample_every is not a positive whole multiple of dt, or samples < 0.
absl::StatusOr<EsnMatrix> MackeyGlass(int64_t samples,
                                      const MackeyGlassOptions& options = {});

}  // namespace rill

#endif  // RILL_MODELS_MACKEY_GLASS_H_

#ifndef RILL_MODELS_ESN_GD_H_
#define RILL_MODELS_ESN_GD_H_

// The ESN readout trained by gradient descent instead of ridge regression:
// an ordinary rill graph, y = z . w with a MeanSquaredError loss over the
// rows z_t = [1; u_t; x_t] past the warm-up, trained by train/trainer.h
// with Adam (the config's gd_* settings). It shows that an ESN is a rill
// graph like any other; ridge regression remains the default, being exact
// and far faster.

#include "core/status.h"
#include "models/esn.h"

namespace rill {

// Collects the states of u [T, inputs] from the zero state, trains the
// readout on targets y [T, outputs], and sets it on `esn`. f32 training (the
// trainer's optimizers are f32), so expect a larger error than ridge.
absl::Status FitReadoutByGradientDescent(Esn& esn, const EsnMatrix& u,
                                         const EsnMatrix& y);

}  // namespace rill

#endif  // RILL_MODELS_ESN_GD_H_

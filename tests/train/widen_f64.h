#ifndef RILL_TESTS_TRAIN_WIDEN_F64_H_
#define RILL_TESTS_TRAIN_WIDEN_F64_H_

// A training setup carried over to f64 exactly, for the tests of f64
// training: every f32 Input and Parameter of the graph becomes f64 (the
// values widened, so the f64 run starts where the f32 one does), and so
// does every f32 data array.

#include "config/train_config.h"
#include "core/status.h"

namespace rill {

absl::StatusOr<TrainSetup> WidenToF64(TrainSetup setup);

}  // namespace rill

#endif  // RILL_TESTS_TRAIN_WIDEN_F64_H_

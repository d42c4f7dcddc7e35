#ifndef RILL_TESTS_TRAIN_TRAIN_TEST_UTIL_H_
#define RILL_TESTS_TRAIN_TRAIN_TEST_UTIL_H_

// Helpers of the training tests.

#include <string>

#include "config/train_config.h"
#include "core/checkpoint.h"
#include "core/status.h"
#include "train/trainer.h"

namespace rill {

// A training setup carried over to f64 exactly, for the tests of f64
// training: every f32 Input and Parameter of the graph becomes f64 (the
// values widened, so the f64 run starts where the f32 one does), and so
// does every f32 data array.
absl::StatusOr<TrainSetup> WidenToF64(TrainSetup setup);

// Trains `steps` updates, saves to TestTempPath(name) and reads it back
// (failures are test failures).
Checkpoint TrainAndSave(Trainer& t, int steps, const std::string& name);

}  // namespace rill

#endif  // RILL_TESTS_TRAIN_TRAIN_TEST_UTIL_H_

#ifndef RILL_TRAIN_INIT_FROM_H_
#define RILL_TRAIN_INIT_FROM_H_

// TrainConfig.init_from: a run's parameters loaded by name from pretrained
// weights (a rill checkpoint, or a directory of Hugging Face-named .npy
// files), and the summary of what was loaded, newly initialised, left
// unused and frozen that `rill train` prints and writes to init_from.txt.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "proto/train.pb.h"
#include "train/freeze.h"

namespace rill {

// One parameter or source entry in the summary.
struct InitEntry {
  std::string name;    // The graph's name (the source's for `unused`).
  std::string type;    // "f32[16,2]".
  std::string source;  // The source's name before renaming, if it differs.
};

struct InitFromReport {
  std::string source;  // The file or directory read.
  std::string kind;    // "rill checkpoint" or "directory of .npy files".
  std::vector<InitEntry> loaded, fresh, unused;
};

// Overwrites each of `params` (node name -> value, e.g.
// Executor::mutable_parameters) whose name a source entry has after
// renaming. Everything is checked before anything is copied. Errors name
// the field "init_from": a file that is no rill checkpoint (saying what it
// is), a damaged one, a name matched with another dtype or shape (naming
// the parameter, both types and the file), two entries renamed to one
// name, and a source of which no name matches (listing names of both and
// suggesting a rename).
absl::StatusOr<InitFromReport> LoadInitialValues(
    const InitFrom& spec, const std::map<std::string, Tensor*>& params,
    int64_t max_bytes = int64_t{16} << 30);

// The summary of `report` (null: no init_from) and of the frozen
// parameters: `full` lists every name with its type, one per line (for
// init_from.txt); otherwise long lists are shortened to counts by name
// prefix (for the console). "" when there is neither.
std::string InitSummary(const InitFromReport* report, const FreezePlan& plan,
                        const TrainConfig& config,
                        const std::map<std::string, Tensor*>& params,
                        bool full);

// Writes `text` to <dir>/init_from.txt atomically, or removes a stale one
// when `text` is empty.
absl::Status WriteInitSummary(const std::string& dir, const std::string& text);

}  // namespace rill

#endif  // RILL_TRAIN_INIT_FROM_H_

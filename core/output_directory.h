#ifndef RILL_CORE_OUTPUT_DIRECTORY_H_
#define RILL_CORE_OUTPUT_DIRECTORY_H_

// A directory of files written whole or not at all: the data commands
// (`rill bert make-data`, `make-classification-data`) and `rill export`
// refuse to mix their files with an older run's, and a failure half way
// leaves nothing that a TrainConfig or `rill run` could read by mistake.

#include <string>

#include "absl/functional/function_ref.h"
#include "core/status.h"

namespace rill {

// An error when `dir` exists and is not empty.
absl::Status CheckNewOutputDirectory(const std::string& dir);

// Creates the sibling <dir>.partial, calls write(partial) to fill it, then
// renames it to `dir`. On any error the partial directory is removed and
// `dir` is left as it was. `dir` must be new or empty.
absl::Status WriteDirectoryWhole(
    const std::string& dir,
    absl::FunctionRef<absl::Status(const std::string& partial)> write);

}  // namespace rill

#endif  // RILL_CORE_OUTPUT_DIRECTORY_H_

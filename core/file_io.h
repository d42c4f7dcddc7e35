#ifndef RILL_CORE_FILE_IO_H_
#define RILL_CORE_FILE_IO_H_

#include <cstdint>
#include <string>

#include "core/status.h"

namespace rill {

// Reads a whole file, refusing (before reading) one larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileCapped(const std::string& path,
                                           int64_t max_bytes);

// Writes `contents` to `path` so that a reader sees the old file or the new
// one, never a partial one: temporary file in the same directory, fsync,
// rename, then fsync of the directory.
absl::Status WriteFileAtomic(const std::string& path,
                             const std::string& contents);

}  // namespace rill

#endif  // RILL_CORE_FILE_IO_H_

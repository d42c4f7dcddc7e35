#ifndef RILL_CORE_FILE_IO_H_
#define RILL_CORE_FILE_IO_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "google/protobuf/message.h"

namespace rill {

// Opens `path` read-only, once it is known to be a regular file of at most
// `max_bytes` (errors as ReadFileCapped's); sets `*size`. The caller closes
// the descriptor.
absl::StatusOr<int> OpenFileCapped(const std::string& path, int64_t max_bytes,
                                   int64_t* size);

// Reads a whole file, refusing (before reading) one larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileCapped(const std::string& path,
                                           int64_t max_bytes);

// Writes `contents` to `path` so that a reader sees the old file or the new
// one, never a partial one: temporary file in the same directory, fsync,
// rename, then fsync of the directory.
absl::Status WriteFileAtomic(const std::string& path,
                             const std::string& contents);

// Reads the text-format `message` (a config or spec: TrainConfig, ModelSpec,
// EsnConfig) from `path`, refusing files over `max_bytes` before reading
// and nesting past a small limit. The parser prints the line and column of
// a syntax error to stderr; the status names the file and message type.
absl::Status ReadTextProto(const std::string& path, int64_t max_bytes,
                           google::protobuf::Message* message);

// ReadTextProto's parse of `text`, already read: refuses more than
// `max_bytes` and nesting past the same limit; errors name `name`. For
// callers that hold the text (the fuzz targets).
absl::Status ParseTextProto(absl::string_view text, const std::string& name,
                            int64_t max_bytes,
                            google::protobuf::Message* message);

// `path`, a path that config field `field` gives, the one rule of every
// config (TrainConfig, EsnConfig): relative ones against the config's
// directory `dir` (they may leave it, as "../data/x.npy"), absolute ones as
// they are; empty is an error naming the field.
absl::StatusOr<std::string> ConfigPath(const std::string& dir,
                                       const std::string& field,
                                       const std::string& path);

}  // namespace rill

#endif  // RILL_CORE_FILE_IO_H_

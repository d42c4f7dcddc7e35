#ifndef RILL_TRAIN_EVENT_WRITER_H_
#define RILL_TRAIN_EVENT_WRITER_H_

// TensorBoard event files (FACTS.md, "TensorBoard event files"): Event
// protos (proto/event.proto) framed as TFRecords, each record
//   uint64 length (little-endian), masked CRC32C of those 8 bytes,
//   the data, masked CRC32C of the data,
// where mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8. The first record
// carries file_version "brain.Event:2"; each later one a step's scalars.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

// TFRecord's checksum of `data`: its CRC32C, masked so that a CRC of data
// that holds CRCs is not itself a fixed point.
uint32_t MaskedCrc32c(absl::string_view data);

// One TFRecord holding `data`.
std::string TfRecord(absl::string_view data);

class EventWriter {
 public:
  // Creates `dir` if missing and a new events.out.tfevents.<secs>.<host>
  // file in it (with the pid after the host, so that two writers started in
  // the same second never share a file), then writes the version record.
  static absl::StatusOr<std::unique_ptr<EventWriter>> Create(
      const std::string& dir);

  // One Event at `step` with a simple_value per (tag, value); NaN values
  // are left out (a missing validation figure is not a point at NaN).
  absl::Status AddScalars(
      int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // A SessionLog START at `step`: a resumed run's mark, after which
  // TensorBoard forgets what an earlier run wrote for later steps.
  absl::Status AddSessionStart(int64_t step);
  // Flushes and fsyncs what was added, so that TensorBoard sees it.
  absl::Status Sync();

  const std::string& path() const { return path_; }

 private:
  EventWriter(std::string path, FILE* file);
  absl::Status Write(const std::string& event);

  std::string path_;
  std::unique_ptr<FILE, int (*)(FILE*)> file_;
};

}  // namespace rill

#endif  // RILL_TRAIN_EVENT_WRITER_H_

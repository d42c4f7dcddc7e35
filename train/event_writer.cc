#include "train/event_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/crc32c.h"
#include "proto/event.pb.h"

namespace rill {
namespace {

double WallTime() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string LittleEndian(uint64_t v, int bytes) {
  std::string out(bytes, '\0');
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

absl::Status WriteError(const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
}

}  // namespace

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string TfRecord(absl::string_view data) {
  const std::string length = LittleEndian(data.size(), 8);
  return absl::StrCat(length, LittleEndian(MaskedCrc32c(length), 4), data,
                      LittleEndian(MaskedCrc32c(data), 4));
}

EventWriter::EventWriter(std::string path, FILE* file)
    : path_(std::move(path)), file_(file, &std::fclose) {}

absl::StatusOr<std::unique_ptr<EventWriter>> EventWriter::Create(
    const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const std::string path =
      absl::StrCat(dir, "/events.out.tfevents.",
                   static_cast<int64_t>(WallTime()), ".", host, ".", getpid());
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return WriteError(path);
  std::unique_ptr<EventWriter> writer(new EventWriter(path, file));
  tensorboard::Event version;
  version.set_wall_time(WallTime());
  version.set_file_version("brain.Event:2");
  RETURN_IF_ERROR(writer->Write(version.SerializeAsString()));
  RETURN_IF_ERROR(writer->Sync());
  return writer;
}

absl::Status EventWriter::AddScalars(
    int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const auto& [tag, value] : values) {
    if (std::isnan(value)) continue;
    tensorboard::Summary::Value* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  if (summary->value_size() == 0) return absl::OkStatus();
  return Write(event.SerializeAsString());
}

absl::Status EventWriter::AddSessionStart(int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_step(step);
  event.mutable_session_log()->set_status(tensorboard::SessionLog::START);
  return Write(event.SerializeAsString());
}

absl::Status EventWriter::Write(const std::string& event) {
  const std::string record = TfRecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_.get()) !=
      record.size()) {
    return WriteError(path_);
  }
  return absl::OkStatus();
}

absl::Status EventWriter::Sync() {
  if (std::fflush(file_.get()) != 0 || fsync(fileno(file_.get())) != 0) {
    return WriteError(path_);
  }
  return absl::OkStatus();
}

}  // namespace rill

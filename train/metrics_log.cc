#include "train/metrics_log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/file_io.h"

namespace rill {
namespace {

constexpr int64_t kMaxMetricsBytes = int64_t{1} << 30;

}  // namespace

std::string MetricsRowsUpTo(const std::string& text, int64_t step) {
  std::string kept;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // Torn by a kill mid-write.
    absl::string_view row(text.data() + begin, end - begin);
    begin = end + 1;
    std::vector<absl::string_view> fields = absl::StrSplit(row, ',');
    int64_t row_step;
    if (fields.size() != 5 || !absl::SimpleAtoi(fields[0], &row_step) ||
        row_step < 1 || row_step > step) {
      continue;  // The header, a torn row, or a step past the checkpoint.
    }
    absl::StrAppend(&kept, row, "\n");
  }
  return kept;
}

MetricsLog::MetricsLog(std::string path, FILE* file)
    : path_(std::move(path)), file_(file, &std::fclose) {}

absl::StatusOr<MetricsLog> MetricsLog::Open(const std::string& path,
                                            int64_t step) {
  std::string rows;
  if (step > 0 && std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxMetricsBytes));
    rows = MetricsRowsUpTo(text, step);
  }
  RETURN_IF_ERROR(WriteFileAtomic(path, absl::StrCat(kHeader, "\n", rows)));
  FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return MetricsLog(path, file);
}

void MetricsLog::Append(int64_t step, double loss, double lr, double grad_norm,
                        double val_loss) {
  // Nine digits, as the others, rather than StrCat's six.
  std::fprintf(
      file_.get(), "%lld,%.9g,%.9g,%.9g,%s\n", static_cast<long long>(step),
      loss, lr, grad_norm,
      std::isnan(val_loss) ? "" : absl::StrFormat("%.9g", val_loss).c_str());
}

absl::Status MetricsLog::Sync() {
  if (std::fflush(file_.get()) != 0 || fsync(fileno(file_.get())) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rill

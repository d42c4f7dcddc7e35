#include "train/metrics_log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_io.h"

namespace rill {
namespace {

constexpr int64_t kMaxMetricsBytes = int64_t{1} << 30;

// The header line of a metrics.csv text, or kHeader when it has none.
std::string HeaderOf(const std::string& text) {
  if (text.rfind("step,", 0) != 0) return MetricsLog::kHeader;
  return text.substr(0, text.find('\n'));
}

std::string FormatValue(double v) {
  // Nine digits, as the others, rather than StrCat's six.
  return std::isnan(v) ? "" : absl::StrFormat("%.9g", v);
}

// `rows` (complete, in the columns of `from`) in the columns of `to`: the
// values of the columns both have, and empty fields for the others.
std::string Remap(const std::string& rows, const std::string& from,
                  const std::string& to) {
  std::vector<std::string> old_columns = absl::StrSplit(from, ',');
  std::vector<std::string> new_columns = absl::StrSplit(to, ',');
  std::string remapped;
  for (absl::string_view row : absl::StrSplit(rows, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(row, ',');
    // Empty, not default, views: StrJoin copies from each one's data().
    std::vector<absl::string_view> out(new_columns.size(), "");
    for (size_t k = 0; k < new_columns.size(); ++k) {
      for (size_t o = 0; o < old_columns.size() && o < fields.size(); ++o) {
        if (old_columns[o] == new_columns[k]) out[k] = fields[o];
      }
    }
    absl::StrAppend(&remapped, absl::StrJoin(out, ","), "\n");
  }
  return remapped;
}

}  // namespace

std::string MetricsRowsUpTo(const std::string& text, int64_t step) {
  const size_t columns =
      std::vector<absl::string_view>(absl::StrSplit(HeaderOf(text), ','))
          .size();
  std::string kept;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // Torn by a kill mid-write.
    absl::string_view row(text.data() + begin, end - begin);
    begin = end + 1;
    std::vector<absl::string_view> fields = absl::StrSplit(row, ',');
    int64_t row_step;
    if (fields.size() != columns || !absl::SimpleAtoi(fields[0], &row_step) ||
        row_step < 1 || row_step > step) {
      continue;  // The header, a torn row, or a step past the checkpoint.
    }
    absl::StrAppend(&kept, row, "\n");
  }
  return kept;
}

MetricsLog::MetricsLog(std::string path, FILE* file)
    : path_(std::move(path)), file_(file, &std::fclose) {}

absl::StatusOr<MetricsLog> MetricsLog::Open(
    const std::string& path, int64_t step,
    const std::vector<std::string>& metric_columns) {
  std::string header = kHeader;
  for (const std::string& c : metric_columns) absl::StrAppend(&header, ",", c);
  std::string rows;
  if (step > 0 && std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxMetricsBytes));
    rows = MetricsRowsUpTo(text, step);
    if (HeaderOf(text) != header) rows = Remap(rows, HeaderOf(text), header);
  }
  RETURN_IF_ERROR(WriteFileAtomic(path, absl::StrCat(header, "\n", rows)));
  FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  MetricsLog log(path, file);
  log.metric_columns_ = metric_columns.size();
  return log;
}

void MetricsLog::Append(int64_t step, double loss, double lr, double grad_norm,
                        double val_loss, const std::vector<double>& metrics) {
  std::string extra;
  for (size_t k = 0; k < metric_columns_; ++k) {
    absl::StrAppend(
        &extra, ",",
        FormatValue(k < metrics.size() ? metrics[k] : std::nan("")));
  }
  std::fprintf(file_.get(), "%lld,%.9g,%.9g,%.9g,%s%s\n",
               static_cast<long long>(step), loss, lr, grad_norm,
               FormatValue(val_loss).c_str(), extra.c_str());
}

absl::Status MetricsLog::Sync() {
  if (std::fflush(file_.get()) != 0 || fsync(fileno(file_.get())) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rill

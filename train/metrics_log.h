#ifndef RILL_TRAIN_METRICS_LOG_H_
#define RILL_TRAIN_METRICS_LOG_H_

// metrics.csv: one row per optimizer step, kept consistent with the
// checkpoints beside it. A checkpoint counts as written only after every
// row up to its step is on disk (Sync), and a resumed run first cuts the
// file back to the rows up to the step it resumed from, atomically, so a
// kill at any moment leaves neither torn lines nor duplicated steps.
// Validation metrics (TrainConfig.metric) add columns val_<name> after
// those of kHeader.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace rill {

class MetricsLog {
 public:
  static constexpr char kHeader[] = "step,loss,lr,grad_norm,val_loss";

  // Opens `path` for a run that continues from `step`: rows after `step`,
  // torn rows and anything but the header are dropped first (step 0: the
  // file starts with just the header). `metric_columns` follow kHeader's
  // columns; when the file has other ones (a resume with another metric
  // set), its rows keep the values of the columns both have, and the new
  // columns stay empty there.
  static absl::StatusOr<MetricsLog> Open(
      const std::string& path, int64_t step,
      const std::vector<std::string>& metric_columns = {});

  // One row; `val_loss` NaN leaves its field empty, and so does a NaN
  // metric. `metrics` holds one value per metric column, or is empty when
  // nothing was measured.
  void Append(int64_t step, double loss, double lr, double grad_norm,
              double val_loss, const std::vector<double>& metrics = {});
  // Flushes and fsyncs every row appended so far.
  absl::Status Sync();

 private:
  MetricsLog(std::string path, FILE* file);
  std::string path_;
  size_t metric_columns_ = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> file_;
};

// The complete rows of a metrics.csv `text` whose step is <= `step`, after
// the header; a row is complete when it ends in a newline and has every
// field of the header (kHeader's when the text has none).
std::string MetricsRowsUpTo(const std::string& text, int64_t step);

}  // namespace rill

#endif  // RILL_TRAIN_METRICS_LOG_H_

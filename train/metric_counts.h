#ifndef RILL_TRAIN_METRIC_COUNTS_H_
#define RILL_TRAIN_METRIC_COUNTS_H_

// Classification metrics from exact counts: every batch adds its (weighted)
// correct predictions or confusion counts, and the figure is computed once
// from the sums, so a set split into batches of unequal weight gets the
// same value as one batch holding it all (a mean of per-batch ratios would
// not).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace rill {

enum class MetricKind { kAccuracy, kMacroF1 };

// "accuracy" (or "") and "macro_f1"; an error lists the choices.
absl::StatusOr<MetricKind> ParseMetricKind(const std::string& kind);

class MetricCounts {
 public:
  MetricCounts(MetricKind kind, int64_t classes,
               std::optional<int64_t> ignore_label = std::nullopt);

  // One batch: `predictions` (i64) and `labels` (i32 or i64) of the same
  // shape, whose axis 0 is the batch, and `weights` (f32 or f64, of that
  // shape) or null for weight 1. `first_row` numbers the batch's rows in
  // errors: a label outside [0, classes) (not the ignore_label) or a
  // negative or NaN weight names its row and position, and adds nothing.
  absl::Status Add(const Tensor& predictions, const Tensor& labels,
                   const Tensor* weights, int64_t first_row);

  // The metric over everything added; NaN when nothing counted.
  double Value() const;
  void Reset();

  // Every count as one array, so that ranks that each counted a part of a
  // set can sum theirs (exactly, for integer weights) and take the sums
  // back with SetCounts (an array of Counts().size() values).
  std::vector<double> Counts() const;
  void SetCounts(const double* counts);

 private:
  MetricKind kind_;
  int64_t classes_;
  std::optional<int64_t> ignore_label_;
  double correct_ = 0, total_ = 0;
  // Per class, weighted: predicted and right; predicted but another label;
  // labelled but predicted otherwise.
  std::vector<double> true_pos_, false_pos_, false_neg_;
};

}  // namespace rill

#endif  // RILL_TRAIN_METRIC_COUNTS_H_

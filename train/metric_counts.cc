#include "train/metric_counts.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// Element `j` of an integer or float tensor, as a double.
double At(const Tensor& t, int64_t j) { return t.ElementAsDouble(j); }

// "row 7, position [3]" for element `j` of a batch whose rows start at
// `first_row`.
std::string Where(const Tensor& labels, int64_t j, int64_t first_row) {
  const int64_t per_row =
      labels.shape().rank() == 0 || labels.shape().dim(0) == 0
          ? 1
          : labels.num_elements() / labels.shape().dim(0);
  std::string where = absl::StrCat("row ", first_row + j / per_row);
  if (per_row > 1) absl::StrAppend(&where, ", position ", j % per_row);
  return where;
}

}  // namespace

absl::StatusOr<MetricKind> ParseMetricKind(const std::string& kind) {
  if (kind.empty() || kind == "accuracy") return MetricKind::kAccuracy;
  if (kind == "macro_f1") return MetricKind::kMacroF1;
  return absl::InvalidArgumentError(
      absl::StrCat("'", kind, "': choose accuracy or macro_f1"));
}

MetricCounts::MetricCounts(MetricKind kind, int64_t classes,
                           std::optional<int64_t> ignore_label)
    : kind_(kind), classes_(classes), ignore_label_(ignore_label) {
  Reset();
}

void MetricCounts::Reset() {
  correct_ = total_ = 0;
  const size_t n = kind_ == MetricKind::kMacroF1 ? classes_ : 0;
  true_pos_.assign(n, 0);
  false_pos_.assign(n, 0);
  false_neg_.assign(n, 0);
}

absl::Status MetricCounts::Add(const Tensor& predictions, const Tensor& labels,
                               const Tensor* weights, int64_t first_row) {
  const int64_t n = labels.num_elements();
  if (predictions.shape() != labels.shape() ||
      (weights != nullptr && weights->shape() != labels.shape())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the predictions ", predictions.shape().ToString(), ", labels ",
        labels.shape().ToString(),
        weights == nullptr ? "" : " and weights " + weights->shape().ToString(),
        " differ in shape"));
  }
  // Checked before anything is counted, so that an error adds nothing.
  for (int64_t j = 0; j < n; ++j) {
    const double label = At(labels, j);
    if (ignore_label_.has_value() && label == *ignore_label_) continue;
    if (!(label >= 0 && label < classes_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels ", Where(labels, j, first_row), ": ", label,
                       " is outside [0, ", classes_, ")"));
    }
    const double w = weights == nullptr ? 1 : At(*weights, j);
    if (!(w >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights ", Where(labels, j, first_row), ": ", w,
                       " (weights must be >= 0)"));
    }
  }
  const int64_t* predicted = predictions.data<int64_t>();
  for (int64_t j = 0; j < n; ++j) {
    const int64_t label = static_cast<int64_t>(At(labels, j));
    if (ignore_label_.has_value() && label == *ignore_label_) continue;
    const double w = weights == nullptr ? 1 : At(*weights, j);
    if (w == 0) continue;
    const bool right = predicted[j] == label;
    total_ += w;
    if (right) correct_ += w;
    if (kind_ != MetricKind::kMacroF1) continue;
    if (right) {
      true_pos_[label] += w;
    } else {
      false_neg_[label] += w;
      false_pos_[predicted[j]] += w;
    }
  }
  return absl::OkStatus();
}

std::vector<double> MetricCounts::Counts() const {
  std::vector<double> counts = {correct_, total_};
  for (const std::vector<double>* v : {&true_pos_, &false_pos_, &false_neg_}) {
    counts.insert(counts.end(), v->begin(), v->end());
  }
  return counts;
}

void MetricCounts::SetCounts(const double* counts) {
  correct_ = counts[0];
  total_ = counts[1];
  counts += 2;
  for (std::vector<double>* v : {&true_pos_, &false_pos_, &false_neg_}) {
    std::copy(counts, counts + v->size(), v->begin());
    counts += v->size();
  }
}

double MetricCounts::Value() const {
  if (total_ == 0) return std::numeric_limits<double>::quiet_NaN();
  if (kind_ == MetricKind::kAccuracy) return correct_ / total_;
  double sum = 0;
  int64_t present = 0;
  for (int64_t c = 0; c < classes_; ++c) {
    const double denominator = 2 * true_pos_[c] + false_pos_[c] + false_neg_[c];
    if (denominator == 0) continue;  // Neither a label nor a prediction.
    sum += 2 * true_pos_[c] / denominator;
    ++present;
  }
  return sum / present;
}

}  // namespace rill

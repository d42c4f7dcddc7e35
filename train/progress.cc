#include "train/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const int64_t s = std::llround(std::max(0.0, seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
}

void Progress::AddStep(int64_t step, double loss, double lr, double grad_norm,
                       double seconds) {
  step_ = step;
  lr_ = lr;
  seconds_ = seconds;
  if (step == plan_.first_step + 1) first_step_seconds_ = seconds;
  loss_sum_ += loss;
  grad_norm_sum_ += grad_norm;
  ++count_;
}

void Progress::AddValidation(
    int64_t step, double val_loss,
    std::vector<std::pair<std::string, double>> metrics) {
  val_step_ = step;
  val_loss_ = val_loss;
  val_metrics_ = std::move(metrics);
}

int64_t Progress::Epoch(int64_t step) const {
  if (step <= 0) return 1;
  const int64_t batches = step * plan_.accumulation;
  return (batches + plan_.batches_per_epoch - 1) / plan_.batches_per_epoch;
}

double Progress::StepsPerSecond() const {
  const int64_t timed = step_ - plan_.first_step - 1;
  const double elapsed = seconds_ - first_step_seconds_;
  if (timed < 1 || first_step_seconds_ < 0 || elapsed <= 0) return 0;
  return timed / elapsed;
}

std::string Progress::Eta() const {
  const double rate = StepsPerSecond();
  if (rate <= 0) return "?";
  return FormatDuration((plan_.total_steps - step_) / rate);
}

std::string Progress::Line() {
  std::string line =
      absl::StrFormat("step %d/%d  loss %.6g  lr %.4g  grad_norm %.4g", step_,
                      plan_.total_steps, MeanLoss(), lr_,
                      count_ > 0 ? grad_norm_sum_ / count_ : 0);
  if (val_step_ == step_) {
    absl::StrAppendFormat(&line, "  val_loss %.6g", val_loss_);
    for (const auto& [name, value] : val_metrics_) {
      absl::StrAppendFormat(&line, "  %s %.6g", name, value);
    }
  }
  absl::StrAppendFormat(&line, "  epoch %d/%d", Epoch(step_), Epochs());
  if (step_ == plan_.first_step + 1) {
    absl::StrAppendFormat(&line, "  first step %.3fs", first_step_seconds_);
  } else {
    absl::StrAppendFormat(&line, "  %.1f steps/s  ETA %s", StepsPerSecond(),
                          Eta());
  }
  loss_sum_ = grad_norm_sum_ = 0;
  count_ = 0;
  return line;
}

std::string Progress::Bar(int width) const {
  const double done = plan_.total_steps > 0
                          ? static_cast<double>(step_) / plan_.total_steps
                          : 1;
  const int filled = std::clamp(static_cast<int>(done * width), 0, width);
  std::string bar(filled, '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  return absl::StrFormat(
      "step %d/%d [%s] %d%%  loss %.4g  ETA %s", step_, plan_.total_steps, bar,
      static_cast<int>(std::floor(done * 100)), MeanLoss(), Eta());
}

}  // namespace rill

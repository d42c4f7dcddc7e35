#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A rate that grows without bound is a mistake, not a schedule; a NaN fails
// both comparisons.
absl::Status CheckDecay(const std::string& field, double gamma) {
  if (gamma > 0 && gamma <= 1) return absl::OkStatus();
  return FieldError(field, gamma, "must be in (0, 1]");
}

absl::Status CheckWarmup(const std::string& field, int64_t warmup,
                         int64_t total_steps) {
  if (warmup >= 0 && warmup < total_steps) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " = ", warmup, ": must be in [0, ", total_steps,
                   "), the run's number of updates"));
}

}  // namespace

absl::StatusOr<LearningRateSchedule> LearningRateSchedule::Create(
    const Schedule& config, double base_lr, int64_t total_steps) {
  if (!(std::isfinite(base_lr) && base_lr > 0)) {
    return FieldError("optimizer.learning_rate", base_lr,
                      "must be a finite number > 0");
  }
  if (total_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "schedule: the run makes ", total_steps, " updates; it needs >= 1"));
  }
  LearningRateSchedule s;
  s.kind_ = config.kind_case();
  s.base_lr_ = base_lr;
  s.total_steps_ = total_steps;
  switch (s.kind_) {
    case Schedule::KIND_NOT_SET:
    case Schedule::kConstant:
      break;
    case Schedule::kStep:
      s.step_size_ = config.step().step_size();
      s.gamma_ = config.step().gamma();
      if (s.step_size_ < 1) {
        return FieldError("schedule.step.step_size", s.step_size_,
                          "must be >= 1");
      }
      RETURN_IF_ERROR(CheckDecay("schedule.step.gamma", s.gamma_));
      break;
    case Schedule::kExponential:
      s.gamma_ = config.exponential().gamma();
      RETURN_IF_ERROR(CheckDecay("schedule.exponential.gamma", s.gamma_));
      break;
    case Schedule::kWarmupLinear:
      s.warmup_steps_ = config.warmup_linear().warmup_steps();
      RETURN_IF_ERROR(CheckWarmup("schedule.warmup_linear.warmup_steps",
                                  s.warmup_steps_, total_steps));
      break;
    case Schedule::kCosine:
      s.warmup_steps_ = config.cosine().warmup_steps();
      s.min_lr_ = config.cosine().min_lr();
      RETURN_IF_ERROR(CheckWarmup("schedule.cosine.warmup_steps",
                                  s.warmup_steps_, total_steps));
      if (!(s.min_lr_ >= 0 && s.min_lr_ <= base_lr)) {
        return FieldError(
            "schedule.cosine.min_lr", s.min_lr_,
            absl::StrCat("must be in [0, optimizer.learning_rate = ", base_lr,
                         "]"));
      }
      break;
  }
  return s;
}

// The fraction of warm-up done, in [0, 1), for a step inside the warm-up.
double LearningRateSchedule::Warmup(int64_t step) const {
  return static_cast<double>(step) / static_cast<double>(warmup_steps_);
}

double LearningRateSchedule::At(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  switch (kind_) {
    case Schedule::kStep:
      return base_lr_ *
             std::pow(gamma_, static_cast<double>(step / step_size_));
    case Schedule::kExponential:
      return base_lr_ * std::pow(gamma_, static_cast<double>(step));
    case Schedule::kWarmupLinear:
    case Schedule::kCosine:
      break;
    default:
      return base_lr_;
  }
  if (step < warmup_steps_) return base_lr_ * Warmup(step);
  // Progress through the decay, 1 at the end of the run and after it.
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup_steps_) /
                        static_cast<double>(total_steps_ - warmup_steps_));
  if (kind_ == Schedule::kWarmupLinear) return base_lr_ * (1 - progress);
  return min_lr_ + (base_lr_ - min_lr_) * (1 + std::cos(kPi * progress)) / 2;
}

}  // namespace rill

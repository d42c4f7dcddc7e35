#ifndef RILL_TRAIN_SCHEDULE_H_
#define RILL_TRAIN_SCHEDULE_H_

// Learning-rate schedules (proto/train.proto's `Schedule`) as closed forms of
// the update index s (0-based) in a run of T updates with base rate lr:
//   constant       lr
//   step           lr * gamma^floor(s / step_size)   (torch StepLR)
//   exponential    lr * gamma^s                      (torch ExponentialLR)
//   warmup_linear  lr * s / W for s < W, then lr * (T - s) / (T - W):
//                  Hugging Face's get_linear_schedule_with_warmup. So update
//                  0 has rate 0 when W > 0, and the rate reaches 0 at s = T,
//                  just after the last update.
//   cosine         lr * s / W for s < W, then
//                  min_lr + (lr - min_lr) * (1 + cos(pi * (s - W) / (T - W))) /
//                  2 (torch CosineAnnealingLR(T_max = T) when W = 0), which
//                  also reaches its end, min_lr, at s = T.
// Past the end (s >= T) the rate stays at its value for s = T (0, min_lr)
// for the warm-up schedules, and the decays go on decaying.

#include <cstdint>

#include "core/status.h"
#include "proto/train.pb.h"

namespace rill {

class LearningRateSchedule {
 public:
  // Validates `config` (errors name the field: "schedule.step.gamma = 0:
  // must be in (0, 1]"); `base_lr` is optimizer.learning_rate, and
  // `total_steps` the run's number of updates (>= 1).
  [[nodiscard]] static absl::StatusOr<LearningRateSchedule> Create(
      const Schedule& config, double base_lr, int64_t total_steps);

  // The learning rate of update `step` (0-based; a negative step counts as
  // 0).
  double At(int64_t step) const;

 private:
  LearningRateSchedule() = default;

  double Warmup(int64_t step) const;

  Schedule::KindCase kind_ = Schedule::KIND_NOT_SET;
  double base_lr_ = 0;
  int64_t total_steps_ = 1;
  int64_t step_size_ = 1;
  double gamma_ = 1;
  int64_t warmup_steps_ = 0;
  double min_lr_ = 0;
};

}  // namespace rill

#endif  // RILL_TRAIN_SCHEDULE_H_

#ifndef RILL_TRAIN_PROGRESS_H_
#define RILL_TRAIN_PROGRESS_H_

// What `rill train` shows while it runs: progress lines with the loss and
// gradient norm averaged since the previous line (as Keras shows them, so
// that one noisy batch does not stand for the run), the validation loss
// whenever it was measured, the epoch, and a speed and ETA that leave out
// the first step of the run, which includes the executor's warm-up (first
// allocations, oneDNN primitive creation). The clock is passed in, so that
// the text is a pure function of what was added.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace rill {

struct ProgressPlan {
  int64_t first_step = 0;   // The step Run() starts from (resumed runs > 0).
  int64_t total_steps = 0;  // The step it ends at.
  // Batches in an epoch, and batches per update: step s ends in epoch
  // ceil(s * accumulation / batches_per_epoch).
  int64_t batches_per_epoch = 1;
  int64_t accumulation = 1;
};

class Progress {
 public:
  explicit Progress(const ProgressPlan& plan) : plan_(plan) {}

  // Update `step` (1-based) finished `seconds` after Run() began.
  void AddStep(int64_t step, double loss, double lr, double grad_norm,
               double seconds);
  // The validation loss measured after update `step`, and the metrics
  // (named as their metrics.csv columns) shown after it in that step's line.
  void AddValidation(int64_t step, double val_loss,
                     std::vector<std::pair<std::string, double>> metrics = {});

  // A progress line for the latest step:
  //   step 250/1500  loss 0.0277  lr 0.009565  grad_norm 0.328
  //   [val_loss 0.0203 [val_accuracy 0.91]]  epoch 9/54  6851.7 steps/s  ETA 1s
  // with loss and grad_norm the means since the previous line (which this
  // call starts anew), val_loss only when it was measured at this step, and
  // for the run's first step its time instead of a speed.
  std::string Line();
  // A one-line bar for a terminal, redrawn in place between lines:
  //   step 733/1500 [=========>          ] 48%  loss 0.0123  ETA 1s
  std::string Bar(int width) const;

  // The epoch that update `step` ends in, and how many the run has.
  int64_t Epoch(int64_t step) const;
  int64_t Epochs() const { return Epoch(plan_.total_steps); }
  // Steps per second since the run's first step ended; 0 until a second
  // step has.
  double StepsPerSecond() const;
  // The mean loss since the previous line, and over how many steps.
  double MeanLoss() const { return count_ > 0 ? loss_sum_ / count_ : 0; }
  int64_t MeanSteps() const { return count_; }
  // The latest validation loss and its step (NaN and -1 before any).
  double val_loss() const { return val_loss_; }
  int64_t val_step() const { return val_step_; }

 private:
  std::string Eta() const;

  ProgressPlan plan_;
  int64_t step_ = 0;
  double lr_ = 0, seconds_ = 0, first_step_seconds_ = -1;
  double loss_sum_ = 0, grad_norm_sum_ = 0;
  int64_t count_ = 0;
  double val_loss_ = std::numeric_limits<double>::quiet_NaN();
  int64_t val_step_ = -1;
  std::vector<std::pair<std::string, double>> val_metrics_;
};

// "12s", "2m05s", "3h07m".
std::string FormatDuration(double seconds);

}  // namespace rill

#endif  // RILL_TRAIN_PROGRESS_H_

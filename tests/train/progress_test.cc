#include "train/progress.h"

#include <limits>

#include "gtest/gtest.h"

namespace rill {
namespace {

// A run resumed at step 100 of 400, 28 batches an epoch, 2 per update.
ProgressPlan Plan() { return {100, 400, 28, 2}; }

TEST(Progress, TheFirstStepIsTimedApartAndLeftOutOfTheSpeed) {
  Progress p(Plan());
  p.AddStep(101, 4.0, 0.5, 1.0, 7.25);  // Compilation and warm-up.
  EXPECT_EQ(p.Line(),
            "step 101/400  loss 4  lr 0.5  grad_norm 1  epoch 8/29  first "
            "step 7.250s");
  // Three more steps 0.5 s apart: 2 steps/s, 296 steps left.
  p.AddStep(102, 1.0, 0.25, 2.0, 7.75);
  p.AddStep(103, 2.0, 0.25, 4.0, 8.25);
  p.AddStep(104, 6.0, 0.125, 6.0, 8.75);
  EXPECT_DOUBLE_EQ(p.StepsPerSecond(), 2.0);
  // The loss and gradient norm are the means since the previous line.
  EXPECT_EQ(p.Line(),
            "step 104/400  loss 3  lr 0.125  grad_norm 4  epoch 8/29  2.0 "
            "steps/s  ETA 2m28s");
  EXPECT_EQ(p.MeanSteps(), 0);
  p.AddStep(105, 1.5, 0.125, 1.0, 9.25);
  p.AddValidation(105, 0.75);
  EXPECT_EQ(p.Line(),
            "step 105/400  loss 1.5  lr 0.125  grad_norm 1  val_loss 0.75  "
            "epoch 8/29  2.0 steps/s  ETA 2m28s");
  // A validation figure of an earlier step is not repeated.
  p.AddStep(106, 1.5, 0.125, 1.0, 9.75);
  EXPECT_EQ(p.Line().find("val_loss"), std::string::npos);
  EXPECT_EQ(p.val_step(), 105);
}

TEST(Progress, BarAndEpochs) {
  Progress p({0, 10, 4, 1});
  EXPECT_EQ(p.Epoch(1), 1);
  EXPECT_EQ(p.Epoch(4), 1);
  EXPECT_EQ(p.Epoch(5), 2);
  EXPECT_EQ(p.Epochs(), 3);
  p.AddStep(1, 2.0, 0.1, 1.0, 1.0);
  p.AddStep(2, 2.0, 0.1, 1.0, 1.5);
  p.AddStep(3, 5.0, 0.1, 1.0, 2.0);
  EXPECT_EQ(p.Bar(10), "step 3/10 [===>      ] 30%  loss 3  ETA 4s");
}

TEST(Progress, Durations) {
  EXPECT_EQ(FormatDuration(0.4), "0s");
  EXPECT_EQ(FormatDuration(59.4), "59s");
  EXPECT_EQ(FormatDuration(125), "2m05s");
  EXPECT_EQ(FormatDuration(3 * 3600 + 7 * 60 + 10), "3h07m");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "?");
}

}  // namespace
}  // namespace rill

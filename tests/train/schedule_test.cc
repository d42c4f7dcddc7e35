// LearningRateSchedule against PyTorch's lr_scheduler values (and, for the
// cosine with warm-up PyTorch lacks, a closed form in Python): see
// tests/train/make_optim_goldens.py. Then the ends of the run and validation.

#include "train/schedule.h"

#include <cmath>
#include <string>

#include "core/npy.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

constexpr double kBaseLr = 0.1;
constexpr int64_t kSteps = 20;

Schedule Parse(const std::string& text) {
  Schedule s;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &s)) << text;
  return s;
}

LearningRateSchedule Make(const std::string& text, int64_t steps = kSteps) {
  auto s = LearningRateSchedule::Create(Parse(text), kBaseLr, steps);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

TEST(Schedule, MatchesPyTorchEveryStep) {
  const std::pair<const char*, const char*> cases[] = {
      {"step", "step { step_size: 3 gamma: 0.5 }"},
      {"exponential", "exponential { gamma: 0.9 }"},
      {"warmup_linear", "warmup_linear { warmup_steps: 5 }"},
      {"warmup_linear_w0", "warmup_linear {}"},
      {"cosine", "cosine { min_lr: 0.01 }"},
      {"cosine_min0", "cosine {}"},
      {"cosine_warmup", "cosine { warmup_steps: 5 min_lr: 0.01 }"},
  };
  for (const auto& [name, config] : cases) {
    SCOPED_TRACE(name);
    auto want = ReadNpy(
        "tests/train/testdata/optim/sched_" + std::string(name) + ".npy",
        1 << 20);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(want->num_elements(), kSteps);
    const LearningRateSchedule schedule = Make(config);
    for (int64_t s = 0; s < kSteps; ++s) {
      const double expected = want->data<double>()[s];
      // PyTorch updates most rates recursively, so a few ulps apart.
      EXPECT_NEAR(schedule.At(s), expected, 1e-12 * expected) << "step " << s;
    }
  }
}

TEST(Schedule, ConstantIsTheDefault) {
  for (const char* config : {"", "constant {}"}) {
    const LearningRateSchedule schedule = Make(config);
    for (int64_t s : {0, 1, 19, 20, 1000}) EXPECT_EQ(schedule.At(s), kBaseLr);
  }
}

TEST(Schedule, PastTheEnd) {
  const LearningRateSchedule linear = Make("warmup_linear { warmup_steps: 5 }");
  EXPECT_EQ(linear.At(kSteps), 0);
  EXPECT_EQ(linear.At(10 * kSteps), 0);
  const LearningRateSchedule cosine = Make("cosine { min_lr: 0.01 }");
  EXPECT_DOUBLE_EQ(cosine.At(kSteps), 0.01);
  EXPECT_DOUBLE_EQ(cosine.At(10 * kSteps), 0.01);
  const LearningRateSchedule exponential = Make("exponential { gamma: 0.5 }");
  EXPECT_DOUBLE_EQ(exponential.At(30), kBaseLr * std::ldexp(1.0, -30));
  const LearningRateSchedule step = Make("step { step_size: 7 gamma: 0.5 }");
  EXPECT_DOUBLE_EQ(step.At(27), kBaseLr / 8);
  EXPECT_DOUBLE_EQ(step.At(28), kBaseLr / 16);
}

TEST(Schedule, NegativeStepIsStepZero) {
  EXPECT_EQ(Make("warmup_linear { warmup_steps: 5 }").At(-3), 0);
  EXPECT_EQ(Make("exponential { gamma: 0.5 }").At(-3), kBaseLr);
}

TEST(Schedule, OneStepRun) {
  EXPECT_EQ(Make("warmup_linear {}", 1).At(0), kBaseLr);
  EXPECT_EQ(Make("cosine { min_lr: 0.05 }", 1).At(0), kBaseLr);
}

std::string CreateError(const std::string& config, double base_lr = kBaseLr,
                        int64_t steps = kSteps) {
  auto s = LearningRateSchedule::Create(Parse(config), base_lr, steps);
  if (s.ok()) return "OK";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.status().message());
}

TEST(Schedule, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"step { gamma: 0.5 }", "schedule.step.step_size = 0: must be >= 1"},
      {"step { step_size: -2 gamma: 0.5 }",
       "schedule.step.step_size = -2: must be >= 1"},
      {"step { step_size: 3 }", "schedule.step.gamma = 0: must be in (0, 1]"},
      {"step { step_size: 3 gamma: 1.5 }",
       "schedule.step.gamma = 1.5: must be in (0, 1]"},
      {"exponential {}", "schedule.exponential.gamma = 0: must be in (0, 1]"},
      {"exponential { gamma: nan }",
       "schedule.exponential.gamma = nan: must be in (0, 1]"},
      {"warmup_linear { warmup_steps: 20 }",
       "schedule.warmup_linear.warmup_steps = 20: must be in [0, 20), the "
       "run's number of updates"},
      {"warmup_linear { warmup_steps: -1 }",
       "schedule.warmup_linear.warmup_steps = -1: must be in [0, 20), the "
       "run's number of updates"},
      {"cosine { warmup_steps: 25 }",
       "schedule.cosine.warmup_steps = 25: must be in [0, 20), the run's "
       "number of updates"},
      {"cosine { min_lr: 0.2 }",
       "schedule.cosine.min_lr = 0.2: must be in [0, optimizer.learning_rate "
       "= 0.1]"},
      {"cosine { min_lr: -0.01 }",
       "schedule.cosine.min_lr = -0.01: must be in [0, "
       "optimizer.learning_rate = 0.1]"},
  };
  for (const auto& [config, want] : cases) {
    EXPECT_EQ(CreateError(config), want) << config;
  }
  EXPECT_EQ(CreateError("", 0),
            "optimizer.learning_rate = 0: must be a finite number > 0");
  EXPECT_EQ(CreateError("", kBaseLr, 0),
            "schedule: the run makes 0 updates; it needs >= 1");
  EXPECT_EQ(CreateError("cosine { min_lr: 0.1 }"), "OK");
}

}  // namespace
}  // namespace rill

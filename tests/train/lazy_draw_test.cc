// A trainer whose parameters come from a checkpoint draws no initializer
// for them: --resume (Restore) replaces them all, init_from those it loads;
// the values are the checkpoint's, and a fresh run draws every one.

#include <filesystem>

#include "config/train_config.h"
#include "core/checkpoint.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "train/trainer.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kDir[] = "examples/train";
// w0, b0, w1, b1, each given by an initializer.
const char kConfig[] = "examples/train/sine_mlp_init.train.pbtxt";

TrainConfig InitConfig(int64_t steps) {
  auto config = LoadTrainConfig(kConfig);
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(steps);
  config->set_threads(2);
  config->clear_schedule();  // Its warm-up is longer than these runs.
  return *config;
}

std::unique_ptr<Trainer> Make(const TrainConfig& config) {
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto t = CreateTrainer(config, kDir, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::string Bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.byte_size());
}

// A checkpoint of 3 steps from the initializers.
std::string Trained(const std::string& name) {
  const std::string path = TestTempPath(name);
  auto t = Make(InitConfig(3));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(t->Step().ok());
  EXPECT_TRUE(t->Save(path).ok());
  return path;
}

TEST(LazyDraw, AFreshRunDrawsEveryInitializer) {
  auto t = Make(InitConfig(1));
  EXPECT_EQ(t->executor().initializers_drawn(), 0);
  ASSERT_TRUE(t->Step().ok());
  EXPECT_EQ(t->executor().initializers_drawn(), 4);
}

TEST(LazyDraw, ResumeRestoresWithoutDrawing) {
  const std::string path = Trained("lazy_resume.rckpt");
  auto saved = ReadCheckpoint(path);
  ASSERT_TRUE(saved.ok()) << saved.status();
  auto t = Make(InitConfig(6));
  ASSERT_TRUE(t->Restore(path).ok());
  ASSERT_TRUE(t->Step().ok());
  EXPECT_EQ(t->executor().initializers_drawn(), 0);

  // The restored values are the checkpoint's: the first step from them
  // gives the loss that an uninterrupted run has at step 4.
  auto straight = Make(InitConfig(6));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(straight->Step().ok());
  auto want = straight->Step();
  auto again = Make(InitConfig(6));
  ASSERT_TRUE(again->Restore(path).ok());
  for (const auto& [name, t] : CheckpointParameters(*saved)) {
    // parameter_buffer: reading through mutable_value would draw first.
    EXPECT_EQ(Bytes(*again->executor().parameter_buffer(name)), Bytes(*t))
        << name;
  }
  auto got = again->Step();
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(got->loss, want->loss);
}

TEST(LazyDraw, InitFromDrawsOnlyWhatItDoesNotLoad) {
  auto saved = ReadCheckpoint(Trained("lazy_init_from_all.rckpt"));
  ASSERT_TRUE(saved.ok()) << saved.status();
  // The first layer only.
  Checkpoint half;
  for (const auto& [name, t] : saved->tensors) {
    if (name == ParamTensorName("w0") || name == ParamTensorName("b0")) {
      half.tensors.push_back({name, t});
    }
  }
  const std::string half_path = TestTempPath("lazy_init_from_half.rckpt");
  ASSERT_TRUE(WriteCheckpoint(half_path, half).ok());
  for (const auto& [path, drawn] : std::vector<std::pair<std::string, int>>{
           {TestTempPath("lazy_init_from_all.rckpt"), 0}, {half_path, 2}}) {
    SCOPED_TRACE(path);
    TrainConfig config = InitConfig(1);
    config.mutable_init_from()->set_path(path);
    auto t = Make(config);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(Bytes(*t->executor().parameter_buffer("w0")),
              Bytes(*CheckpointParameters(*saved).at("w0")));
    ASSERT_TRUE(t->Step().ok());
    EXPECT_EQ(t->executor().initializers_drawn(), drawn);
  }
}

// Save before any step (a run stopped at once) writes drawn values: those
// of a run that draws them by reading them.
TEST(LazyDraw, SavingBeforeTheFirstStepDraws) {
  const std::string path = TestTempPath("lazy_unstepped.rckpt");
  ASSERT_TRUE(Make(InitConfig(1))->Save(path).ok());
  auto saved = ReadCheckpoint(path);
  ASSERT_TRUE(saved.ok()) << saved.status();
  auto reference = Make(InitConfig(1));
  for (const auto& [name, t] : CheckpointParameters(*saved)) {
    EXPECT_EQ(Bytes(*t), Bytes(*reference->executor().mutable_value(name)))
        << name;
  }
}

}  // namespace
}  // namespace rill

// Training in f64: a graph whose parameters are f64 trains in f64 end to
// end on the reference backend (gradients, accumulation, clipping,
// optimizer state, checkpoints), and where f64 meets an f32-only path the
// error says so.

#include <cmath>
#include <cstring>

#include "config/train_config.h"
#include "core/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"
#include "train/trainer.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

// The sine MLP of examples/train with accumulation and a clip that binds,
// so that every f64 path runs.
TrainConfig SineConfig() {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(40);
  config->set_threads(1);
  config->set_accumulation_steps(2);
  config->set_clip_global_norm(0.05);
  config->mutable_schedule()->mutable_cosine()->set_warmup_steps(5);
  return *config;
}

absl::StatusOr<std::unique_ptr<Trainer>> Make(const TrainConfig& config,
                                              bool f64, Backend backend) {
  TrainOptions options;
  options.log = [](const std::string&) {};
  options.backend = backend;
  ASSIGN_OR_RETURN(TrainSetup setup,
                   LoadTrainSetup(config, "examples/train", options));
  if (f64) {
    ASSIGN_OR_RETURN(setup, WidenToF64(std::move(setup)));
  }
  return Trainer::Create(std::move(setup.graph), std::move(setup.data),
                         std::move(setup.options));
}

// The f64 run follows the f32 run from the same start (the f32 values
// widened exactly) and differs from it by f32's rounding only: after 40
// Adam steps at most 1e-5 of the parameters' scale (f32 rounding, 6e-8
// per operation, grows through the steps; measured 2.9e-7). Every saved
// parameter and optimizer state is f64, and the f64 run is no f32 run
// widened: their parameters differ.
TEST(TrainerF64, TrainsInF64EndToEndAndFollowsTheF32Run) {
  const TrainConfig config = SineConfig();
  auto wide = Make(config, true, Backend::kReference);
  ASSERT_TRUE(wide.ok()) << wide.status();
  auto narrow = Make(config, false, Backend::kReference);
  ASSERT_TRUE(narrow.ok()) << narrow.status();
  Checkpoint got = TrainAndSave(**wide, 40, "f64.rckpt");
  Checkpoint want = TrainAndSave(**narrow, 40, "f32.rckpt");
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  double diff = 0, scale = 0;
  int f64_tensors = 0;
  for (size_t i = 0; i < got.tensors.size(); ++i) {
    const auto& [name, g] = got.tensors[i];
    const Tensor& w = want.tensors[i].second;
    if (w.dtype() != DType::kF32) continue;  // Step counts, the plan.
    EXPECT_EQ(g.dtype(), DType::kF64) << name;
    if (g.dtype() != DType::kF64) continue;
    ++f64_tensors;
    if (name.rfind("opt/", 0) == 0) continue;
    for (int64_t k = 0; k < g.num_elements(); ++k) {
      diff = std::max(diff, std::abs(g.data<double>()[k] - w.data<float>()[k]));
      scale = std::max(scale, std::abs(double{w.data<float>()[k]}));
    }
  }
  EXPECT_EQ(f64_tensors, 6 * 3);  // Six parameters, Adam's m and v.
  EXPECT_LT(diff / scale, 1e-5);
  EXPECT_GT(diff / scale, 0);
  std::printf(
      "f64 against f32 after 40 steps: max |difference| / max |param| "
      "= %.3g\n",
      diff / scale);
}

TEST(TrainerF64, ResumesBitwiseFromAnF64Checkpoint) {
  const TrainConfig config = SineConfig();
  auto straight = Make(config, true, Backend::kReference);
  ASSERT_TRUE(straight.ok()) << straight.status();
  Checkpoint want = TrainAndSave(**straight, 40, "straight.rckpt");
  auto first = Make(config, true, Backend::kReference);
  ASSERT_TRUE(first.ok()) << first.status();
  TrainAndSave(**first, 20, "half.rckpt");
  auto second = Make(config, true, Backend::kReference);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->Restore(TestTempPath("half.rckpt")).ok());
  Checkpoint got = TrainAndSave(**second, 20, "resumed.rckpt");
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (size_t i = 0; i < got.tensors.size(); ++i) {
    const Tensor& g = got.tensors[i].second;
    const Tensor& w = want.tensors[i].second;
    ASSERT_EQ(g.byte_size(), w.byte_size()) << got.tensors[i].first;
    EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), g.byte_size()), 0)
        << got.tensors[i].first;
  }
}

TEST(TrainerF64, F64OnAnF32OnlyPathIsAnError) {
  auto onednn = Make(SineConfig(), true, Backend::kOneDnn);
  ASSERT_FALSE(onednn.ok());
  EXPECT_THAT(onednn.status().message(),
              HasSubstr("parameter 'layer0/w' is f64: the onednn backend "
                        "trains f32 only; train f64 on --backend reference"));
  TrainConfig bf16 = SineConfig();
  bf16.set_precision("bf16");
  auto mixed = Make(bf16, true, Backend::kReference);
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(mixed.status().message(),
              HasSubstr("precision: bf16: parameter 'layer0/w' is f64"));
}

}  // namespace
}  // namespace rill

// Training mode is an execution choice (ExecutorOptions::training): in
// inference mode, the default, every Dropout is the identity and draws
// nothing; in training mode it drops unless its attr `training` is false.

#include <string>

#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// y = dropout(x) at rate 0.5; z = dropout(x) with attr training false.
std::string Graph() {
  return std::string("node { name: 'x' op: 'Input'\n") +
         "  attr { key: 'dtype' value { type: DT_FLOAT } }\n" +
         "  attr { key: 'shape' value { shape { dim: 64 } } } }\n" +
         "node { name: 'y' op: 'Dropout' input: 'x'\n" +
         "  attr { key: 'rate' value { f: 0.5 } }\n" +
         "  attr { key: 'seed' value { i: 7 } } }\n" +
         "node { name: 'z' op: 'Dropout' input: 'x'\n" +
         "  attr { key: 'rate' value { f: 0.5 } }\n" +
         "  attr { key: 'training' value { b: false } } }\n";
}

std::unique_ptr<Executor> Make(const ExecutorOptions& options) {
  auto loaded = ParseGraphText(Graph(), "modes.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  auto valid = ValidateGraph(*std::move(loaded));
  EXPECT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  return *std::move(ex);
}

std::map<std::string, Tensor> Feeds() {
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{64});
  for (int i = 0; i < 64; ++i) x.data<float>()[i] = 1.f + i;
  return {{"x", std::move(x)}};
}

// How many of `t`'s 64 elements equal x's.
int Unchanged(const Tensor& t) {
  int same = 0;
  for (int i = 0; i < 64; ++i) same += t.data<float>()[i] == 1.f + i;
  return same;
}

TEST(TrainingMode, InferenceByDefaultDropoutIsTheIdentityAndDrawsNothing) {
  std::unique_ptr<Executor> ex = Make({});
  EXPECT_FALSE(ex->training());
  auto out = ex->Run(Feeds(), {"y", "y:1", "z"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Unchanged((*out)[0]), 64);
  EXPECT_EQ(Unchanged((*out)[2]), 64);
  for (int i = 0; i < 64; ++i) EXPECT_EQ((*out)[1].data<float>()[i], 1.f);
  EXPECT_EQ(ex->random_draws().at("y"), 0);
}

TEST(TrainingMode, TrainingModeDropsUnlessTheAttrSaysNot) {
  ExecutorOptions options;
  options.training = true;
  std::unique_ptr<Executor> ex = Make(options);
  auto out = ex->Run(Feeds(), {"y", "z"});
  ASSERT_TRUE(out.ok()) << out.status();
  // Kept elements are doubled, dropped ones 0: none is unchanged.
  EXPECT_EQ(Unchanged((*out)[0]), 0);
  EXPECT_EQ(Unchanged((*out)[1]), 64);
  EXPECT_EQ(ex->random_draws().at("y"), 1);
}

TEST(TrainingMode, SwitchingTakesEffectOnTheCompiledPlan) {
  ExecutorOptions options;
  options.training = true;
  std::unique_ptr<Executor> ex = Make(options);
  auto dropped = ex->Run(Feeds(), {"y"});
  ASSERT_TRUE(dropped.ok());
  ex->set_training(false);
  auto identity = ex->Run(Feeds(), {"y"});
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(Unchanged((*identity)[0]), 64);
  EXPECT_EQ(ex->num_compiles(), 1);
  EXPECT_EQ(ex->random_draws().at("y"), 1);
  ex->set_training(true);
  auto again = ex->Run(Feeds(), {"y"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Unchanged((*again)[0]), 0);
  // The stream went on from where training left it: another mask.
  bool differs = false;
  for (int i = 0; i < 64; ++i) {
    differs |= (*again)[0].data<float>()[i] != (*dropped)[0].data<float>()[i];
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace rill

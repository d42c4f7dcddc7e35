// Nothing of a training run's state is lost: every op that draws random
// numbers resumes its stream bitwise (training and evaluation), a run never
// deletes another run's checkpoints, a fresh run refuses a used directory,
// and metrics.csv is cut back to the checkpoint a run resumes from.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "config/train_config.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "tests/test_util.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A regression whose loss depends on the random op `random`: y = x w, then
// Dropout of y or y plus the op's [8, 1] draw; loss = mean(y^2).
struct RandomOpCase {
  std::string op;
  std::string nodes;  // Makes "noisy" from "y".
};

// "noisy" = y + an [8, 1] draw of the initialiser `op`.
RandomOpCase AddDraw(const std::string& op) {
  return {op, absl::StrCat("node { name: 'draw' op: '", op,
                           "' attr { key: 'shape' value { shape { dim: 8 "
                           "dim: 1 } } } } node { name: 'noisy' op: 'Add' "
                           "input: 'y' input: 'draw' }")};
}

const RandomOpCase kRandomOpCases[] = {
    {"Dropout",
     R"pb(node {
            name: "drop"
            op: "Dropout"
            input: "y"
            attr {
              key: "rate"
              value { f: 0.5 }
            }
          }
          node { name: "noisy" op: "Identity" input: "drop:0" })pb"},
    AddDraw("RandomUniform"),
    AddDraw("RandomNormal"),
    AddDraw("TruncatedNormal"),
};

const char kRegression[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 4 } }
    }
  }
  node {
    name: "w"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: [ 4, 1 ]
          float_val: [ 0.5, -0.25, 0.75, 1 ]
        }
      }
    }
  }
  node { name: "y" op: "MatMul" input: "x" input: "w" }
  node { name: "sq" op: "Mul" input: "noisy" input: "noisy" }
  node { name: "loss" op: "ReduceMean" input: "sq" }
)pb";

// 32 examples: 24 to train on in shuffled batches of 8, 8 to validate.
std::string WriteRandomOpModel(const RandomOpCase& c) {
  std::string dir = TestTempPath("random_" + c.op);
  fs::create_directories(dir);
  std::ofstream(dir + "/g.pbtxt") << kRegression << c.nodes;
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{32, 4});
  for (int i = 0; i < 32 * 4; ++i) x.data<float>()[i] = std::sin(0.7f * i);
  EXPECT_TRUE(WriteNpy(dir + "/x.npy", x).ok());
  return dir;
}

TrainConfig RandomOpConfig() {
  TrainConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(graph: "g.pbtxt"
           loss: "loss"
           data { input: "x" file: "x.npy" }
           validation_split: 0.25
           batch_size: 8
           shuffle: true
           seed: 3
           steps: 8
           optimizer {
             learning_rate: 0.05
             sgd {}
           })pb",
      &config));
  return config;
}

std::unique_ptr<Trainer> MakeTrainer(const TrainConfig& config,
                                     const std::string& dir,
                                     const std::string& out_dir = "",
                                     bool overwrite = false) {
  TrainOptions options;
  options.log = [](const std::string&) {};
  options.out_dir = out_dir;
  options.overwrite = overwrite;
  auto t = CreateTrainer(config, dir, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

// Steps `from`+1 to `to`, validating after every even step; each loss and
// validation loss, in order.
std::vector<double> Trace(Trainer& t, int from, int to) {
  std::vector<double> trace;
  for (int step = from + 1; step <= to; ++step) {
    auto r = t.Step();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    trace.push_back(r->loss);
    if (step % 2 == 0) {
      auto val = t.Evaluate();
      EXPECT_TRUE(val.ok()) << val.status();
      trace.push_back(val.ok() ? *val : std::nan(""));
    }
  }
  return trace;
}

TEST(TrainState, EveryRandomOpResumesItsStreamBitwise) {
  std::set<std::string> covered;
  for (const RandomOpCase& c : kRandomOpCases) {
    SCOPED_TRACE(c.op);
    covered.insert(c.op);
    std::string dir = WriteRandomOpModel(c);
    TrainConfig config = RandomOpConfig();
    auto straight = MakeTrainer(config, dir);
    ASSERT_NE(straight, nullptr);
    std::vector<double> want = Trace(*straight, 0, 8);

    auto first = MakeTrainer(config, dir);
    std::vector<double> got = Trace(*first, 0, 3);
    std::string ckpt = dir + "/step3.rckpt";
    ASSERT_TRUE(first->Save(ckpt).ok());
    auto second = MakeTrainer(config, dir);
    ASSERT_TRUE(second->Restore(ckpt).ok());
    std::vector<double> rest = Trace(*second, 3, 8);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, want);

    // The saved streams matter: restored with them started over (as before
    // checkpoints kept them), the same steps draw other numbers.
    auto restarted = MakeTrainer(config, dir);
    ASSERT_TRUE(restarted->Restore(ckpt).ok());
    std::map<std::string, int64_t> zeros = restarted->executor().random_draws();
    ASSERT_EQ(zeros.size(), 1u);
    for (auto& [node, draws] : zeros) draws = 0;
    ASSERT_TRUE(restarted->executor().set_random_draws(zeros).ok());
    EXPECT_NE(Trace(*restarted, 3, 8), rest);
  }
  // A new op that draws random numbers needs a row here.
  std::set<std::string> random_ops;
  for (const std::string& name : GlobalOpRegistry().Names()) {
    if (GlobalOpRegistry().Find(name)->draws_random_numbers()) {
      random_ops.insert(name);
    }
  }
  EXPECT_EQ(random_ops, covered);
}

TEST(TrainState, ACheckpointOfAnotherRandomGraphIsRefused) {
  std::string dropout = WriteRandomOpModel(kRandomOpCases[0]);
  std::string uniform = WriteRandomOpModel(kRandomOpCases[1]);
  auto a = MakeTrainer(RandomOpConfig(), dropout);
  std::string ckpt = dropout + "/a.rckpt";
  ASSERT_TRUE(a->Save(ckpt).ok());
  auto b = MakeTrainer(RandomOpConfig(), uniform);
  absl::Status s = b->Restore(ckpt);
  EXPECT_THAT(s.ToString(), HasSubstr("it has no 'rng/draw'"));
}

TrainConfig SineConfig(int64_t steps) {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(steps);
  config->clear_schedule();  // Its warm-up is longer than these runs.
  config->set_threads(2);
  config->set_checkpoint_every(10);
  config->set_keep_checkpoints(2);
  return *config;
}
const char kSineDir[] = "examples/train";

TEST(TrainState, AFreshRunRefusesADirectoryThatHoldsAnotherRun) {
  std::string out = TestTempPath("used");
  fs::remove_all(out);
  auto first = MakeTrainer(SineConfig(20), kSineDir, out);
  ASSERT_TRUE(first->Run().ok());
  auto second = MakeTrainer(SineConfig(30), kSineDir, out);
  auto refused = second->Run();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr(out +
                        " already holds a training run (metrics.csv, 2 "
                        "checkpoints, the newest ckpt-00000020.rckpt): "
                        "continue it with --resume " +
                        out + ", or start over with --overwrite"));
  EXPECT_EQ(ListDir(out),
            (std::vector<std::string>{"ckpt-00000010.rckpt",
                                      "ckpt-00000020.rckpt", "metrics.csv"}));
  auto overwrite = MakeTrainer(SineConfig(30), kSineDir, out, true);
  ASSERT_TRUE(overwrite->Run().ok());
  EXPECT_EQ(ListDir(out),
            (std::vector<std::string>{"ckpt-00000020.rckpt",
                                      "ckpt-00000030.rckpt", "metrics.csv"}));
  std::string csv = ReadTestFile(out + "/metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 31) << csv;
}

// The defect: pruning by file name removed a run's own newest checkpoints
// when the directory held higher-numbered ones of an older run.
TEST(TrainState, ARunPrunesOnlyItsOwnCheckpoints) {
  std::string out = TestTempPath("pruning");
  fs::remove_all(out);
  auto old_run = MakeTrainer(SineConfig(100), kSineDir, out);
  ASSERT_TRUE(old_run->Run().ok());  // Leaves ckpt-90 and ckpt-100.
  std::string start = TestTempPath("pruning_start.rckpt");
  auto early = MakeTrainer(SineConfig(10), kSineDir);
  ASSERT_TRUE(early->Run().ok());
  ASSERT_TRUE(early->Save(start).ok());

  auto resumed = MakeTrainer(SineConfig(60), kSineDir, out);
  ASSERT_TRUE(resumed->Restore(start).ok());
  auto summary = resumed->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->checkpoint, out + "/ckpt-00000060.rckpt");
  EXPECT_EQ(ListDir(out),
            (std::vector<std::string>{
                "ckpt-00000050.rckpt", "ckpt-00000060.rckpt",
                "ckpt-00000090.rckpt", "ckpt-00000100.rckpt", "metrics.csv"}));
}

TEST(TrainState, AFinishedRunResumedReportsNoLoss) {
  std::string out = TestTempPath("finished");
  fs::remove_all(out);
  auto run = MakeTrainer(SineConfig(20), kSineDir, out);
  ASSERT_TRUE(run->Run().ok());
  auto again = MakeTrainer(SineConfig(20), kSineDir, out);
  ASSERT_TRUE(again->Restore(out).ok());
  auto summary = again->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->steps, 20);
  EXPECT_EQ(summary->steps_run, 0);
  EXPECT_TRUE(std::isnan(summary->final_loss));
}

TEST(TrainState, AResumeCutsMetricsBackToTheCheckpoint) {
  std::string out = TestTempPath("cut");
  fs::remove_all(out);
  auto run = MakeTrainer(SineConfig(30), kSineDir, out);
  ASSERT_TRUE(run->Run().ok());
  std::string whole = ReadTestFile(out + "/metrics.csv");
  // What a kill leaves: rows past the newest checkpoint, the last one torn.
  std::ofstream(out + "/metrics.csv", std::ios::app) << "31,0.5,0.0";
  fs::remove(out + "/ckpt-00000030.rckpt");
  auto resumed = MakeTrainer(SineConfig(30), kSineDir, out);
  ASSERT_TRUE(resumed->Restore(out).ok());
  EXPECT_EQ(resumed->step(), 20);
  ASSERT_TRUE(resumed->Run().ok());
  // Steps 21 to 30 again, once each, bitwise as in the uninterrupted run.
  EXPECT_EQ(ReadTestFile(out + "/metrics.csv"), whole);
}

TEST(TrainState, MetricsRowsUpToKeepsCompleteRowsOnly) {
  std::string text =
      "step,loss,lr,grad_norm,val_loss\n"
      "1,0.5,0.1,2,\n"
      "2,0.4,0.1,2,0.3\n"
      "2,0.4\n"
      "3,0.3,0.1,2,\n"
      "4,0.2,0.1";
  EXPECT_EQ(MetricsRowsUpTo(text, 2), "1,0.5,0.1,2,\n2,0.4,0.1,2,0.3\n");
  EXPECT_EQ(MetricsRowsUpTo(text, 9),
            "1,0.5,0.1,2,\n2,0.4,0.1,2,0.3\n3,0.3,0.1,2,\n");
  EXPECT_EQ(MetricsRowsUpTo(text, 0), "");
}

}  // namespace
}  // namespace rill

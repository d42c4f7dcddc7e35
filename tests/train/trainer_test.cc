// The training loop on examples/train: losses fall, runs are deterministic,
// a resumed run continues bitwise exactly, Ctrl-C checkpoints, checkpoints
// of another graph are refused, bad configs name their field, and a step
// allocates nothing in the executor or optimizer.

#include "train/trainer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "config/train_config.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/alloc_counter.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const char kDir[] = "examples/train";

TrainConfig SineConfig(int64_t steps) {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(steps);
  config->set_threads(2);
  return *config;
}

std::unique_ptr<Trainer> Make(const TrainConfig& config,
                              const std::string& out_dir = "",
                              const std::atomic<bool>* stop = nullptr) {
  TrainOptions options;
  options.out_dir = out_dir;
  options.log = [](const std::string&) {};
  options.stop = stop;
  auto t = CreateTrainer(config, kDir, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::vector<double> Losses(Trainer& t, int steps) {
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    auto r = t.Step();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    losses.push_back(r->loss);
  }
  return losses;
}

TEST(Trainer, TheLossFallsAndRunsAreDeterministic) {
  auto a = Make(SineConfig(300));
  auto b = Make(SineConfig(300));
  std::vector<double> la = Losses(*a, 300), lb = Losses(*b, 300);
  EXPECT_EQ(la, lb);  // Bitwise: same seed, same thread count.
  double first = (la[0] + la[1] + la[2]) / 3;
  double last = (la[297] + la[298] + la[299]) / 3;
  EXPECT_LT(last, first / 5) << first << " -> " << last;
}

TEST(Trainer, ResumeContinuesBitwiseExactly) {
  const int n = 40;
  TrainConfig config = SineConfig(2 * n);
  config.set_accumulation_steps(2);  // Exercises the accumulators too.
  auto straight = Make(config);
  std::vector<double> want = Losses(*straight, 2 * n);

  std::string ckpt = TestTempPath("half.rckpt");
  auto first = Make(config);
  std::vector<double> got = Losses(*first, n);
  ASSERT_TRUE(first->Save(ckpt).ok());
  auto second = Make(config);
  ASSERT_TRUE(second->Restore(ckpt).ok());
  EXPECT_EQ(second->step(), n);
  std::vector<double> rest = Losses(*second, n);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, want);
}

TEST(Trainer, RunWritesMetricsAndKeepsTheLastCheckpoints) {
  std::string out = TestTempPath("run");
  fs::remove_all(out);  // metrics.csv is appended to, as resumed runs do.
  // What a writer killed mid-checkpoint leaves; the run removes it.
  fs::create_directories(out);
  std::ofstream(out + "/ckpt-00000010.rckpt.tmp.Ab12Cd") << "partial";
  TrainConfig config = SineConfig(60);
  config.set_checkpoint_every(10);
  config.set_keep_checkpoints(2);
  config.set_eval_every(20);
  auto t = Make(config, out);
  auto summary = t->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->steps, 60);
  EXPECT_FALSE(summary->stopped);
  EXPECT_TRUE(std::isfinite(summary->val_loss));
  std::vector<std::string> files = ListDir(out);
  EXPECT_EQ(files,
            (std::vector<std::string>{"ckpt-00000050.rckpt",
                                      "ckpt-00000060.rckpt", "metrics.csv"}));
  std::string csv = ReadTestFile(out + "/metrics.csv");
  EXPECT_EQ(csv.rfind("step,loss,lr,grad_norm,val_loss\n1,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 61);
  // Resuming from the directory takes the newest checkpoint.
  auto again = Make(SineConfig(60));
  ASSERT_TRUE(again->Restore(out).ok());
  EXPECT_EQ(again->step(), 60);
}

TEST(Trainer, AStopRequestCheckpointsAndStops) {
  std::string out = TestTempPath("stopped");
  fs::remove_all(out);
  std::atomic<bool> stop{true};
  auto t = Make(SineConfig(100), out, &stop);
  auto summary = t->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->stopped);
  EXPECT_EQ(summary->checkpoint, out + "/ckpt-00000000.rckpt");
  EXPECT_TRUE(fs::exists(summary->checkpoint));
}

TEST(Trainer, RefusesACheckpointOfAnotherGraph) {
  std::string ckpt = TestTempPath("other.rckpt");
  auto sine = Make(SineConfig(60));
  ASSERT_TRUE(sine->Save(ckpt).ok());
  // The regression example's parameters have other names and shapes.
  TrainConfig other;
  other.set_graph("../regression.pbtxt");
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(graph: "regression.pbtxt"
           loss: "loss"
           data { input: "x" file: "regression_x.npy" }
           data { input: "target" file: "regression_target.npy" }
           batch_size: 2
           steps: 1
           optimizer {
             learning_rate: 0.1
             sgd {}
           })pb",
      &other));
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto t = CreateTrainer(other, "examples", options);
  ASSERT_TRUE(t.ok()) << t.status();
  absl::Status s = (*t)->Restore(ckpt);
  EXPECT_THAT(s.message(), HasSubstr("from a different graph"));
  EXPECT_THAT(s.message(), HasSubstr("param/w1"));
}

TEST(Trainer, BadConfigsNameTheField) {
  struct Case {
    std::function<void(TrainConfig&)> change;
    std::string message;
  };
  const Case cases[] = {
      {[](TrainConfig& c) { c.set_batch_size(0); },
       "batch_size: 0: must be >= 1"},
      {[](TrainConfig& c) { c.set_batch_size(5000); },
       "batch_size: 5000: larger than the 896 training examples"},
      {[](TrainConfig& c) { c.set_epochs(2); },
       "exactly one of steps and epochs"},
      // Paths may leave the config's directory; the error names the field
      // and the path as resolved.
      {[](TrainConfig& c) { c.set_graph("../../nowhere/g.pbtxt"); },
       "graph: nowhere/g.pbtxt: cannot open"},
      {[](TrainConfig& c) { c.set_graph("/etc/passwd"); },
       "graph: /etc/passwd: "},
      {[](TrainConfig& c) { c.mutable_data(0)->set_file(""); },
       "data[0].file: give a path"},
      {[](TrainConfig& c) { c.mutable_data(0)->set_file("missing.npy"); },
       "data[0].file"},
      {[](TrainConfig& c) { c.mutable_data(1)->set_input("nope"); },
       "data[1].input: 'nope' is not an Input node of the graph"},
      {[](TrainConfig& c) { c.mutable_data(1)->set_file("sine_x.npy"); },
       "data[1]: sine_x.npy holds f32[1024, 2] but input 'target' is f32[?, "
       "1]"},
      {[](TrainConfig& c) {
         c.clear_graph();
         c.set_model_spec("../rnn/lstm_bi2_lengths.pbtxt");
       },
       "rnn/lstm_bi2_lengths.pbtxt: its graph has no output 'loss' (a bare "
       "recurrent stack has no head and no loss), so there is nothing to "
       "train"},
      {[](TrainConfig& c) { c.mutable_data()->RemoveLast(); },
       "input 'target' is needed by the fetches but not fed"},
      {[](TrainConfig& c) { c.set_loss("layer0/w"); }, "loss: "},
      {[](TrainConfig& c) { c.mutable_optimizer()->set_learning_rate(-1); },
       "learning_rate"},
      {[](TrainConfig& c) { c.set_validation_split(1); },
       "validation_split: 1: must be in [0, 1)"},
      {[](TrainConfig& c) {
         c.set_steps(0);
         c.set_epochs(int64_t{1} << 61);
       },
       "epochs: epochs x batches per epoch 2305843009213693952 x 28 overflows "
       "int64"},
      {[](TrainConfig& c) { c.set_threads(50000); },
       "threads: 50000: must be in [0, 1024]"},
      {[](TrainConfig& c) { c.set_bucket_cap_mb(-0.5); },
       "bucket_cap_mb: -0.5: must be in [0, 1048576] (MiB; 0: 25)"},
      {[](TrainConfig& c) { c.set_bucket_cap_mb(std::nan("")); },
       "bucket_cap_mb: nan: must be in [0, 1048576]"},
      // Found by the train_config fuzz target: one Step() ran them all.
      {[](TrainConfig& c) { c.set_accumulation_steps(1000000000); },
       "accumulation_steps: 1000000000: more than the 28 batches in an epoch "
       "(896 training examples, batch_size 32)"},
  };
  for (const Case& c : cases) {
    TrainConfig config = SineConfig(100);
    c.change(config);
    TrainOptions options;
    options.log = [](const std::string&) {};
    auto t = CreateTrainer(config, kDir, options);
    ASSERT_FALSE(t.ok()) << c.message;
    EXPECT_THAT(t.status().message(), HasSubstr(c.message));
  }
}

// Relative paths resolve against the config's directory, even out of it;
// absolute ones are taken as they are.
TEST(Trainer, AbsolutePathsAndPathsOutsideTheConfigsDirectoryAreAllowed) {
  TrainConfig config = SineConfig(3);
  config.clear_schedule();  // Its warm-up is longer than 3 steps.
  config.set_graph(fs::absolute("examples/train/sine_mlp.pbtxt").string());
  config.mutable_data(0)->set_file("../train/sine_x.npy");
  config.mutable_data(1)->set_file(
      fs::absolute("examples/train/sine_y.npy").string());
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto elsewhere = CreateTrainer(config, "examples/rnn", options);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  config = SineConfig(3);
  config.clear_schedule();
  auto here = CreateTrainer(config, kDir, options);
  ASSERT_TRUE(here.ok()) << here.status();
  // The same graph and data: the same losses.
  for (int i = 0; i < 3; ++i) {
    auto a = (*elsewhere)->Step();
    auto b = (*here)->Step();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->loss, b->loss);
  }
}

// loss = mean(log(x * w)): NaN as soon as x * w < 0, on the first step.
// Validation runs the graph as PyTorch's model.eval() does: Dropout off,
// with the parameters as trained so far.
TEST(Trainer, ValidationRunsWithoutDropout) {
  std::string dir = TestTempPath("dropout");
  fs::create_directories(dir);
  std::ofstream(dir + "/g.pbtxt") << R"pb(
    node {
      name: "x"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: -1 dim: 64 } }
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
            dims: 1
            float_val: [ 1 ]
          }
        }
      }
    }
    node { name: "xw" op: "Mul" input: "x" input: "w" }
    node {
      name: "drop"
      op: "Dropout"
      input: "xw"
      attr {
        key: "rate"
        value { f: 0.5 }
      }
    }
    node { name: "sq" op: "Mul" input: "drop:0" input: "drop:0" }
    node { name: "loss" op: "ReduceMean" input: "sq" }
  )pb";
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{8, 64});
  for (int i = 0; i < 8 * 64; ++i) x.data<float>()[i] = 1.f;
  ASSERT_TRUE(WriteNpy(dir + "/x.npy", x).ok());
  TrainConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(graph: "g.pbtxt"
           loss: "loss"
           data { input: "x" file: "x.npy" }
           validation_split: 0.5
           batch_size: 2
           steps: 2
           optimizer {
             learning_rate: 0.01
             sgd {}
           })pb",
      &config));
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto t = CreateTrainer(config, dir, options);
  ASSERT_TRUE(t.ok()) << t.status();
  // The training loss is the mean of (2 w)^2 over the kept half: 2 w^2.
  auto step = (*t)->Step();
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_NEAR(step->loss, 2.0, 0.6);
  ASSERT_TRUE((*t)->Step().ok());
  // Without dropout the loss is exactly w^2, with w as trained.
  const float w = *(*t)->executor().mutable_value("w")->data<float>();
  EXPECT_LT(w, 1.f);
  auto val = (*t)->Evaluate();
  ASSERT_TRUE(val.ok()) << val.status();
  EXPECT_FLOAT_EQ(*val, w * w);
  // Training goes on in training mode: Dropout drops again.
  auto after = (*t)->Step();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NEAR(after->loss, 2.0 * w * w, 0.6);
}

TEST(Trainer, ANanLossStopsTheRunAndCheckNumericsNamesTheNode) {
  std::string dir = TestTempPath("nan");
  fs::create_directories(dir);
  std::ofstream(dir + "/g.pbtxt") << R"pb(
    node {
      name: "x"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: -1 dim: 2 } }
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
            dims: 2
            float_val: [ 1, 1 ]
          }
        }
      }
    }
    node { name: "xw" op: "Mul" input: "x" input: "w" }
    node { name: "log" op: "Log" input: "xw" }
    node { name: "loss" op: "ReduceMean" input: "log" }
  )pb";
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{4, 2});
  for (int i = 0; i < 8; ++i) x.data<float>()[i] = i == 5 ? -1.f : 1.f;
  ASSERT_TRUE(WriteNpy(dir + "/x.npy", x).ok());
  TrainConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(graph: "g.pbtxt"
           loss: "loss"
           data { input: "x" file: "x.npy" }
           batch_size: 4
           steps: 3
           optimizer {
             learning_rate: 0.1
             sgd {}
           })pb",
      &config));
  for (bool check : {false, true}) {
    TrainOptions options;
    options.log = [](const std::string&) {};
    options.check_numerics = check;
    auto t = CreateTrainer(config, dir, options);
    ASSERT_TRUE(t.ok()) << t.status();
    auto step = (*t)->Step();
    ASSERT_FALSE(step.ok());
    EXPECT_THAT(step.status().message(),
                HasSubstr(check ? "node 'log' (Log): produced NaN at [2, 1] of "
                                  "its output 0, f32[4, 2]"
                                : "step 1: the loss is nan; rerun with "
                                  "--check_numerics"))
        << step.status();
  }
}

TEST(Trainer, AStepAllocatesNothingInTheExecutorOrOptimizer) {
  if (!AllocationCountingWorks()) {
    GTEST_SKIP() << "ASan supplies operator new; the regular build counts";
  }
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    SCOPED_TRACE(BackendName(backend));
    TrainOptions options;
    options.backend = backend;
    options.log = [](const std::string&) {};
    TrainConfig config = SineConfig(100);
    config.set_clip_global_norm(0.1);  // The clipping path too.
    auto t = CreateTrainer(config, kDir, options);
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_TRUE((*t)->Step().ok());  // Warm-up.
    bool ok = true;
    AllocationCounts counts = CountAllocations([&] {
      for (int i = 0; i < 10 && ok; ++i) ok = (*t)->Step().ok();
    });
    ASSERT_TRUE(ok);
    EXPECT_EQ(counts.rill, 0);
  }
}

// The library itself, without the config layer: the setup that a config
// loads, handed over in memory, trains bitwise as CreateTrainer does.
TEST(Trainer, TrainsAGraphAndDataHandedOverInMemory) {
  auto setup = LoadTrainSetup(SineConfig(100), kDir, TrainOptions());
  ASSERT_TRUE(setup.ok()) << setup.status();
  setup->options.log = [](const std::string&) {};
  auto t = Trainer::Create(std::move(setup->graph), std::move(setup->data),
                           std::move(setup->options));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Losses(**t, 100), Losses(*Make(SineConfig(100)), 100));
}

TEST(Trainer, RefusesInMemoryDataThatDoesNotFitTheGraph) {
  auto setup = LoadTrainSetup(SineConfig(20), kDir, TrainOptions());
  ASSERT_TRUE(setup.ok()) << setup.status();
  Dataset& train = setup->data.train;
  train.sources.clear();  // As arrays made in memory have none.
  ASSERT_EQ(train.inputs[0], "x");
  train.arrays[0] = *Tensor::Allocate(DType::kF64, Shape{896, 2});
  auto t = Trainer::Create(std::move(setup->graph), std::move(setup->data),
                           std::move(setup->options));
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(),
              HasSubstr("data[0]: the array for 'x' holds f64[896, 2] but "
                        "input 'x' is f32[?, 2]"));
}

}  // namespace
}  // namespace rill

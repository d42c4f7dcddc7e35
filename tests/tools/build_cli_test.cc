// `rill build` end to end, and `rill train` on a model spec: the recurrent
// example (examples/rnn) builds, checks and trains with its loss falling
// well below where it starts; bad specs and configs exit 1 naming the file
// and the field, writing nothing.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kSpec[] = "examples/rnn/sine_model.pbtxt";
const char kConfig[] = "examples/rnn/sine.train.pbtxt";

// The number after `key` in `text`, or -1.
double NumberAfter(const std::string& text, const std::string& key) {
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

TEST(BuildCli, WritesTheExampleGraphThatRillCheckAccepts) {
  std::string out = TestTempPath("sine.pbtxt");
  CommandResult build = RunRill(std::string("build ") + kSpec + " -o " + out);
  ASSERT_EQ(build.exit_code, 0) << build.err;
  EXPECT_NE(build.out.find("input:  x f32[?, 16, 1]"), std::string::npos)
      << build.out;
  EXPECT_NE(build.out.find("input:  target f32[?, 1]"), std::string::npos);
  EXPECT_NE(build.out.find("output: loss f32[]"), std::string::npos);
  CommandResult check = RunRill("check " + out);
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("output:     loss f32[]"), std::string::npos)
      << check.out;
}

TEST(BuildCli, BadSpecsExitOneNamingFileAndFieldAndWriteNothing) {
  std::string spec = TestTempPath("bad_spec.pbtxt");
  std::ofstream(spec) << "input { features: 1 steps: 4 }\n"
                         "recurrent { cell: 'gru' hidden_size: 0 }\n"
                         "head { outputs: 1 } loss { mse {} }\n";
  std::string out = TestTempPath("bad.pbtxt");
  fs::remove(out);
  CommandResult r = RunRill("build " + spec + " -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(spec + ": recurrent.hidden_size: 0: must be >= 1"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));

  CommandResult no_out = RunRill(std::string("build ") + kSpec);
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.err.find("-o OUT.pbtxt"), std::string::npos) << no_out.err;
  CommandResult binary =
      RunRill(std::string("build ") + kSpec + " -o " + TestTempPath("g.pb"));
  EXPECT_EQ(binary.exit_code, 2);
}

TEST(TrainFromSpec, TheExampleLossFallsWellBelowTheFirst) {
  std::string out = TestTempPath("train");
  fs::remove_all(out);
  CommandResult train =
      RunRill(std::string("train ") + kConfig + " --out " + out);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  double first = NumberAfter(train.out, "step 1/300  loss ");
  double last = NumberAfter(train.out, "final loss ");
  double validation = NumberAfter(train.out, "validation loss ");
  ASSERT_GT(first, 0) << train.out;
  ASSERT_GT(last, 0) << train.out;
  // The targets' variance is 0.47 and the noise's 0.0025.
  EXPECT_LT(last, first / 10) << train.out;
  EXPECT_LT(validation, 0.05) << train.out;
}

// A unidirectional stack runs fused by default, and says so; --no-fuse
// runs it unrolled, to the same losses.
TEST(TrainFromSpec, FusedAndUnrolledLayersTrainAlike) {
  const std::string dir = TestTempPath("fused");
  fs::create_directories(dir);
  for (const char* data : {"sine_x.npy", "sine_target.npy"}) {
    fs::copy_file(std::string("examples/rnn/") + data, dir + "/" + data,
                  fs::copy_options::overwrite_existing);
  }
  std::ofstream(dir + "/m.pbtxt")
      << "input { name: 'x' features: 1 steps: 16 }\n"
         "recurrent { cell: 'lstm' hidden_size: 8 num_layers: 2 seed: 1 }\n"
         "head { outputs: 1 } loss { mse { target: 'target' } }\n";
  std::ofstream(dir + "/t.pbtxt")
      << "model_spec: 'm.pbtxt' data { input: 'x' file: 'sine_x.npy' }\n"
         "data { input: 'target' file: 'sine_target.npy' }\n"
         "batch_size: 32 optimizer { learning_rate: 0.01 adam {} }\n"
         "steps: 50 log_every: 50 seed: 7\n";
  double losses[2];
  for (int unrolled = 0; unrolled < 2; ++unrolled) {
    CommandResult r =
        RunRill("train " + dir + "/t.pbtxt --out " + dir + "/out" +
                std::to_string(unrolled) + (unrolled ? " --no-fuse" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const bool said = r.out.find(
                          "2 recurrent layers fused into "
                          "RecurrentLayer ops") != std::string::npos;
    EXPECT_EQ(said, !unrolled) << r.out;
    losses[unrolled] = NumberAfter(r.out, "final loss ");
    ASSERT_GT(losses[unrolled], 0) << r.out;
  }
  EXPECT_NEAR(losses[0], losses[1], 1e-4 * losses[1]);
}

TEST(TrainFromSpec, AConfigNamesExactlyOneOfGraphAndModelSpec) {
  std::string dir = TestTempPath("cfg");
  fs::create_directories(dir);
  std::ofstream(dir + "/both.pbtxt")
      << "graph: 'g.pbtxt' model_spec: 's.pbtxt' batch_size: 1 steps: 1 "
         "data { input: 'x' file: 'x.npy' }\n";
  CommandResult both = RunRill("train " + dir + "/both.pbtxt");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("give exactly one of graph and model_spec"),
            std::string::npos)
      << both.err;

  std::ofstream(dir + "/spec.pbtxt")
      << "input { features: 1 steps: 2 } recurrent { hidden_size: 2 "
         "cell: 'gur' } head { outputs: 1 } loss { mse {} }\n";
  std::ofstream(dir + "/bad.pbtxt")
      << "model_spec: 'spec.pbtxt' batch_size: 1 steps: 1 "
         "data { input: 'x' file: 'x.npy' }\n";
  CommandResult bad = RunRill("train " + dir + "/bad.pbtxt");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("model_spec: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("spec.pbtxt: recurrent.cell: 'gur'"),
            std::string::npos)
      << bad.err;
}

// export-weights writes PyTorch-named .npy files, and build --weights
// reads them back: the rebuilt graph computes exactly what the original
// does. A directory missing a file is refused, naming it.
TEST(WeightsCli, ExportThenImportRoundTrips) {
  std::string graph = TestTempPath("w_sine.pbtxt");
  ASSERT_EQ(RunRill(std::string("build ") + kSpec + " -o " + graph).exit_code,
            0);
  std::string dir = TestTempPath("weights");
  fs::remove_all(dir);
  CommandResult exported = RunRill("export-weights " + graph + " -o " + dir);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(dir + "/weight_ih_l0.npy"));
  EXPECT_TRUE(fs::exists(dir + "/weight_hh_l1_reverse.npy"));
  EXPECT_TRUE(fs::exists(dir + "/head.weight.npy"));
  std::string rebuilt = TestTempPath("w_rebuilt.pbtxt");
  CommandResult build = RunRill(std::string("build ") + kSpec + " -o " +
                                rebuilt + " --weights " + dir);
  ASSERT_EQ(build.exit_code, 0) << build.err;
  const std::string feeds =
      " --feed x=examples/rnn/sine_x.npy --feed target=examples/rnn/"
      "sine_target.npy";
  CommandResult a = RunRill("run " + graph + feeds);
  CommandResult b = RunRill("run " + rebuilt + feeds);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out.substr(0, a.out.find("ran ")),
            b.out.substr(0, b.out.find("ran ")));
  fs::remove(dir + "/head.bias.npy");
  CommandResult missing = RunRill(std::string("build ") + kSpec + " -o " +
                                  rebuilt + " --weights " + dir);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("head.bias.npy"), std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace rill

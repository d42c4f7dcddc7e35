// Recurrent specs against PyTorch through the command line (issue 23): for
// each case of make_rnn_spec_goldens.py, `rill build --weights` loads the
// module's state_dict into the bare stack, `rill grad --seed_inputs` adds
// the backward pass, and `rill run` gives output, h_n, c_n and the
// gradients of x, h0, c0 and every weight, which must match torch.autograd
// in f64 (unrolled and fused) and, for fixed-length cases, in f32 through
// the fused oneDNN layers.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/npy.h"
#include "graph/loader.h"
#include "gtest/gtest.h"
#include "models/rnn_weights.h"
#include "tests/models/model_test_util.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxBytes = 1 << 20;

struct Case {
  std::string name;
  bool lstm, lengths, states;
};

// One row per case the generator writes.
const Case kCases[] = {
    {"lstm_bi2_lengths", true, true, true},
    {"lstm_bi2_batch_first", true, false, true},
    {"lstm_2", true, false, true},
    {"gru_bi2_lengths_batch_first", false, true, true},
    {"gru_2", false, false, true},
    {"rnn_tanh_bi2_lengths", false, true, true},
    {"rnn_tanh_zero_state", false, false, false},
};

std::string GoldenDir(const Case& c) {
  return "tests/models/testdata/rnn_spec/" + c.name;
}

Tensor Golden(const Case& c, const std::string& name) {
  auto t = ReadNpy(GoldenDir(c) + "/" + name + ".npy", kMaxBytes);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

// `rill run -o DIR` writes fetch `name` as DIR/<name with / and : as _>.npy.
Tensor Fetched(const std::string& dir, const std::string& name) {
  std::string file = absl::StrReplaceAll(name, {{"/", "_"}, {":", "_"}});
  auto t = ReadNpy(dir + "/" + file + ".npy", kMaxBytes);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

// `t` as f32, written to `path`.
void WriteF32(const Tensor& t, const std::string& path) {
  Tensor out = *Tensor::Allocate(DType::kF32, t.shape());
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    out.data<float>()[i] = static_cast<float>(t.ElementAsDouble(i));
  }
  ASSERT_TRUE(WriteNpy(path, out).ok());
}

// The graph outputs of the case, each with its gradient seed.
std::vector<std::string> Outputs(const Case& c) {
  std::vector<std::string> outputs = {"output", "h_n"};
  if (c.lstm) outputs.push_back("c_n");
  return outputs;
}

// The Inputs a case feeds (besides the seeds).
std::vector<std::string> Feeds(const Case& c) {
  std::vector<std::string> feeds = {"x"};
  if (c.lengths) feeds.push_back("sequence_lengths");
  if (c.states) feeds.push_back("h0");
  if (c.states && c.lstm) feeds.push_back("c0");
  return feeds;
}

// Builds, differentiates and runs the case's spec in `dtype` ("f64" or
// "f32"); returns the directory of the fetched results. The rill grad graph
// is `dir`/grad.pbtxt.
std::string RunCase(const Case& c, const std::string& dtype,
                    const std::string& grad_flags) {
  const std::string dir = TestTempPath(
      absl::StrCat(c.name, "_", dtype, grad_flags.empty() ? "" : "_unfused"));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string spec = ReadTestFile(GoldenDir(c) + "/spec.pbtxt");
  spec = absl::StrReplaceAll(spec,
                             {{"dtype: \"f64\"", "dtype: \"" + dtype + "\""}});
  std::ofstream(dir + "/spec.pbtxt") << spec;
  CommandResult build =
      RunRill(absl::StrCat("build ", dir, "/spec.pbtxt --weights ",
                           GoldenDir(c), "/weights -o ", dir, "/g.pbtxt"));
  EXPECT_EQ(build.exit_code, 0) << build.err;
  std::string wrt = "x";
  if (c.states) wrt += c.lstm ? ",h0,c0" : ",h0";
  std::string losses = c.lstm ? "output,h_n,c_n" : "output,h_n";
  CommandResult grad = RunRill(absl::StrCat(
      "grad ", dir, "/g.pbtxt --loss ", losses, " --seed_inputs --wrt ", wrt,
      " --wrt_params ", grad_flags, " -o ", dir, "/grad.pbtxt"));
  EXPECT_EQ(grad.exit_code, 0) << grad.err;
  std::string run = absl::StrCat("run ", dir, "/grad.pbtxt -o ", dir, "/out");
  std::vector<std::pair<std::string, std::string>> feeds;
  for (const std::string& f : Feeds(c)) feeds.push_back({f, f});
  for (const std::string& o : Outputs(c)) {
    feeds.push_back({o + "/grad/seed", "seed_" + o});
  }
  for (const auto& [input, file] : feeds) {
    std::string path = absl::StrCat(GoldenDir(c), "/", file, ".npy");
    if (dtype == "f32" && input != "sequence_lengths") {
      path = absl::StrCat(dir, "/", file, ".npy");
      WriteF32(Golden(c, file), path);
    }
    absl::StrAppend(&run, " --feed ", input, "=", path);
  }
  CommandResult ran = RunRill(run + grad_flags);
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  return dir;
}

// Every result of `dir` against PyTorch's, the error relative to the
// largest golden value; returns the largest such error.
double CompareWithPyTorch(const Case& c, const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> pairs;  // rill, golden
  for (const std::string& o : Outputs(c)) pairs.push_back({o, o});
  for (const std::string& f : Feeds(c)) {
    if (f != "sequence_lengths") pairs.push_back({f + "/grad", "d_" + f});
  }
  auto graph = LoadGraphFile(dir + "/g.pbtxt");
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return 1;
  auto weights = PyTorchWeightNames(graph->graph);
  EXPECT_TRUE(weights.ok()) << weights.status();
  if (!weights.ok()) return 1;
  EXPECT_EQ(weights->size(), ListDir(GoldenDir(c) + "/weights").size());
  for (const PyTorchWeight& w : *weights) {
    pairs.push_back({w.node + "/grad", "d_" + w.key});
  }
  double worst = 0;
  for (const auto& [name, golden] : pairs) {
    const Tensor want = Golden(c, golden);
    const double error = MaxError(Fetched(dir + "/out", name), want, name) /
                         std::max(1.0, MaxMagnitude(want));
    worst = std::max(worst, error);
  }
  return worst;
}

// Prints the error (the test log keeps the figures) and returns it.
double Report(const Case& c, const char* mode, double error) {
  std::printf("%-28s %-13s largest relative error %.3g\n", c.name.c_str(), mode,
              error);
  return error;
}

bool Fused(const std::string& dir) {
  return ReadTestFile(dir + "/grad.pbtxt").find("op: \"RecurrentLayer\"") !=
         std::string::npos;
}

TEST(RnnSpecAgainstPyTorch, F64UnrolledMatchesAutograd) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::string dir = RunCase(c, "f64", " --no-fuse");
    EXPECT_FALSE(Fused(dir));
    EXPECT_LT(Report(c, "f64 unrolled", CompareWithPyTorch(c, dir)), 1e-12);
  }
}

// By default `rill grad` fuses what it can: the fixed-length layers, not
// the variable-length ones, whose step masks break the pattern.
TEST(RnnSpecAgainstPyTorch, F64DefaultPathMatchesAutograd) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::string dir = RunCase(c, "f64", "");
    EXPECT_EQ(Fused(dir), !c.lengths);
    EXPECT_LT(Report(c, "f64 default", CompareWithPyTorch(c, dir)), 1e-12);
  }
}

TEST(RnnSpecAgainstPyTorch, F32FusedMatchesAutograd) {
  for (const Case& c : kCases) {
    if (c.lengths) continue;
    SCOPED_TRACE(c.name);
    const std::string dir = RunCase(c, "f32", "");
    EXPECT_TRUE(Fused(dir));
    EXPECT_LT(Report(c, "f32 fused", CompareWithPyTorch(c, dir)), 2e-6);
  }
}

// A contradictory spec exits 1 naming the file and the field, and writes
// nothing.
TEST(RnnSpecCli, ContradictoryFieldsExitOneNamingTheField) {
  const std::string spec = WriteTestFile(
      "lossy.pbtxt",
      "input { features: 2 steps: 3 } recurrent { hidden_size: 2 } "
      "loss { mse {} }\n");
  const std::string out = TestTempPath("lossy_graph.pbtxt");
  fs::remove(out);
  CommandResult r = RunRill("build " + spec + " -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(spec + ": loss: needs a head"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
}

// The README's walk-through ("Checking rill against PyTorch") as the
// script that holds its commands: torch writes the weights and feeds, rill
// builds, differentiates and runs, torch compares (to 1e-12).
TEST(CheckingAgainstPyTorch, TheReadmeScriptPasses) {
  const std::string dir = TestTempPath("readme");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string log = dir + ".log";
  const int status =
      std::system(("bash examples/rnn/check_against_pytorch.sh tools/rill " +
                   dir + " >" + log + " 2>&1")
                      .c_str());
  const std::string out = ReadTestFile(log);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("rnn/l1/weight_hh_reverse/grad"), std::string::npos)
      << out;
  EXPECT_NE(out.find("(tolerance 1e-12): OK"), std::string::npos) << out;
  // The README shows the script and the spec verbatim.
  const std::string readme = ReadTestFile("README.md");
  for (const char* file : {"examples/rnn/check_against_pytorch.sh",
                           "examples/rnn/lstm_bi2_lengths.pbtxt"}) {
    const std::string text = ReadTestFile(file);
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_NE(readme.find(text), std::string::npos)
        << file << " differs from README.md";
  }
}

}  // namespace
}  // namespace rill

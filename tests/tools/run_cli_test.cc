// `rill run`: two fetches that would write one file are refused naming
// both, and a feed of another dtype either says how to convert it or, with
// --cast_feeds, is converted as far as allowed (issue 23 item 6).

#include <filesystem>
#include <fstream>
#include <string>

#include "core/npy.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

// Two nodes whose names both map to t_a.npy: "t/a" and "t_a".
std::string CollidingGraph() {
  const std::string path = TestTempPath("colliding.pbtxt");
  std::ofstream(path)
      << "node { name: \"x\" op: \"Input\"\n"
         "  attr { key: \"dtype\" value { type: DT_FLOAT } }\n"
         "  attr { key: \"shape\" value { shape { dim: 2 } } } }\n"
         "node { name: \"t/a\" op: \"Tanh\" input: \"x\" }\n"
         "node { name: \"t_a\" op: \"Tanh\" input: \"t/a\" }\n"
         "output: \"t_a\"\n";
  return path;
}

// A [5, 4] feed for examples/gated_mlp.pbtxt's x, of `dtype`.
std::string Feed(const std::string& name, DType dtype, double value) {
  Tensor t = *Tensor::Allocate(dtype, Shape{5, 4});
  for (int64_t i = 0; i < 20; ++i) {
    const double v = value * (i % 7);
    if (dtype == DType::kF64) t.data<double>()[i] = v;
    if (dtype == DType::kF32) t.data<float>()[i] = static_cast<float>(v);
  }
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteNpy(path, t).ok());
  return path;
}

TEST(RunCli, CollidingFetchFilesAreRefusedNamingBoth) {
  const std::string graph = CollidingGraph();
  const std::string feed = TestTempPath("x2.npy");
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{2});
  x.data<float>()[0] = 0.5f;
  x.data<float>()[1] = -1;
  ASSERT_TRUE(WriteNpy(feed, x).ok());
  const std::string dir = TestTempPath("colliding_out");
  CommandResult r = RunRill("run " + graph + " --feed x=" + feed +
                            " --fetch t/a,t_a --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("fetches 't/a' and 't_a' would both be written to "
                       "t_a.npy"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir));
  // Without --out nothing is written, so both may be fetched.
  CommandResult printed =
      RunRill("run " + graph + " --feed x=" + feed + " --fetch t/a,t_a");
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
}

TEST(RunCli, AFeedOfAnotherDTypeSaysHowToConvertIt) {
  const std::string f64 = Feed("x64.npy", DType::kF64, 0.5);
  CommandResult r = RunRill("run examples/gated_mlp.pbtxt --feed x=" + f64 +
                            " --out " + TestTempPath("never_cast"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("x64.npy) is f64 but the input is declared f32; "
                       "convert the file (numpy: np.save(path, "
                       "np.load(path).astype(np.float32)))"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--cast_feeds=exact"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(TestTempPath("never_cast")));
}

// --cast_feeds=exact converts a feed whose values f32 holds exactly, with
// the same results as the f32 file; it refuses 0.1 * k, which
// --cast_feeds=lossy rounds, again as the f32 file would have it.
TEST(RunCli, CastFeedsConvertsExactlyOrOnRequestLossily) {
  for (double value : {0.5, 0.1}) {
    SCOPED_TRACE(value);
    const std::string tag = value == 0.5 ? "half" : "tenth";
    const std::string f64 = Feed(tag + "64.npy", DType::kF64, value);
    const std::string f32 = Feed(tag + "32.npy", DType::kF32, value);
    const std::string want_dir = TestTempPath(tag + "_want");
    CommandResult want = RunRill(
        "run examples/gated_mlp.pbtxt --feed x=" + f32 + " --out " + want_dir);
    ASSERT_EQ(want.exit_code, 0) << want.err;
    const std::string exact_dir = TestTempPath(tag + "_exact");
    CommandResult exact = RunRill(
        "run examples/gated_mlp.pbtxt --cast_feeds=exact --feed x=" + f64 +
        " --out " + exact_dir);
    const std::string lossy_dir = TestTempPath(tag + "_lossy");
    CommandResult lossy = RunRill(
        "run examples/gated_mlp.pbtxt --cast_feeds lossy --feed x=" + f64 +
        " --out " + lossy_dir);
    ASSERT_EQ(lossy.exit_code, 0) << lossy.err;
    EXPECT_EQ(ReadTestFile(lossy_dir + "/probs.npy"),
              ReadTestFile(want_dir + "/probs.npy"));
    if (value == 0.5) {
      ASSERT_EQ(exact.exit_code, 0) << exact.err;
      EXPECT_EQ(ReadTestFile(exact_dir + "/probs.npy"),
                ReadTestFile(want_dir + "/probs.npy"));
    } else {
      EXPECT_EQ(exact.exit_code, 1);
      EXPECT_NE(exact.err.find("element 1 (0.10000000000000001, f64) is not "
                               "exactly f32; --cast_feeds=lossy rounds it"),
                std::string::npos)
          << exact.err;
      EXPECT_FALSE(fs::exists(exact_dir));
    }
  }
}

}  // namespace
}  // namespace rill

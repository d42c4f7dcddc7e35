// --precision and the TrainConfig's `precision`, from the command line:
// bf16 reaches the executor (its MatMuls run on bf16, so results move by
// bf16 rounding, not more), and where bf16 cannot run the user is told.
// ONEDNN_MAX_CPU_ISA (read by oneDNN, inherited by the rill process)
// stands in for a CPU without native bf16.

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ops/kernel_util.h"
#include "tests/test_util.h"
#include "tests/tools/train_cli_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kRun[] =
    "run examples/gated_mlp.pbtxt --feed x=examples/gated_mlp_x.npy "
    "--fetch probs";
constexpr char kNoNativeBf16[] =
    "bf16 was asked for, but this CPU has no native bf16 (AVX512_BF16 or "
    "AMX); running f32";

// Runs with oneDNN capped below bf16 for the scope's lifetime.
class CpuWithoutBf16 {
 public:
  CpuWithoutBf16() { setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1); }
  ~CpuWithoutBf16() { unsetenv("ONEDNN_MAX_CPU_ISA"); }
};

TEST(PrecisionCli, RunOnBf16CountsItsKernels) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  CommandResult f32 = RunRill(kRun);
  CommandResult bf16 = RunRill(std::string(kRun) + " --precision bf16_all");
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  EXPECT_EQ(f32.out.find("on bf16"), std::string::npos) << f32.out;
  EXPECT_NE(bf16.out.find(" on bf16) on onednn"), std::string::npos)
      << bf16.out;
  EXPECT_EQ(bf16.err, "");
  // The README quotes this run.
  EXPECT_NE(ReadTestFile("README.md")
                .find("$ rill " + std::string(kRun) +
                      " --precision bf16_all\n" + bf16.out),
            std::string::npos)
      << bf16.out;
  // The summary line of probs differs: bf16 operands round the products.
  EXPECT_NE(f32.out.substr(0, f32.out.find("ran ")),
            bf16.out.substr(0, bf16.out.find("ran ")));
}

// Under plain bf16 the example's MatMuls, far below the executor's
// threshold (kBf16MinMultiplyAdds), stay f32: the same results as f32, and
// none counted on bf16.
TEST(PrecisionCli, RunOnBf16KeepsSmallMatMulsOnF32) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  CommandResult f32 = RunRill(kRun);
  CommandResult bf16 = RunRill(std::string(kRun) + " --precision bf16");
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  EXPECT_EQ(bf16.out, f32.out);
  EXPECT_EQ(bf16.err, "");
}

TEST(PrecisionCli, RunSaysWhyItRunsF32) {
  {
    CpuWithoutBf16 capped;
    CommandResult r = RunRill(std::string(kRun) + " --precision bf16");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, std::string("rill: ") + kNoNativeBf16 + "\n");
    EXPECT_NE(ReadTestFile("README.md").find(r.err), std::string::npos);
    EXPECT_EQ(r.out.find("on bf16"), std::string::npos) << r.out;
  }
  CommandResult reference =
      RunRill(std::string(kRun) + " --precision bf16 --backend reference");
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  EXPECT_EQ(reference.err,
            "rill: bf16 was asked for, but the reference backend runs f32 "
            "only; running f32\n");
  CommandResult bad = RunRill(std::string(kRun) + " --precision fp8");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--precision"), std::string::npos) << bad.err;
}

// The last row's `column` of a metrics.csv.
double LastValue(const std::string& csv, const std::string& column) {
  const std::vector<std::string> header =
      absl::StrSplit(csv.substr(0, csv.find('\n')), ',');
  const std::vector<std::vector<std::string>> rows = CsvRows(csv);
  for (size_t i = 0; i < header.size() && !rows.empty(); ++i) {
    double v = 0;
    if (header[i] == column && absl::SimpleAtod(rows.back()[i], &v)) return v;
  }
  ADD_FAILURE() << "no " << column << " in " << csv;
  return NAN;
}

// The README's sine MLP config with `extra` appended, as file `name`.
std::string SineConfig(const std::string& name, const std::string& extra) {
  return WriteSineConfig(name, {}, extra + "\n");
}

// Trains `config` on one thread (fixed reduction order); returns the final
// val_loss.
double Train(const std::string& config, const std::string& flags,
             CommandResult* result) {
  const std::string out = TestTempPath("precision_out");
  fs::remove_all(out);
  *result = RunRill("train " + config + " --threads 1 -o " + out + " " + flags);
  if (result->exit_code != 0) return NAN;
  return LastValue(ReadTestFile(out + "/metrics.csv"), "val_loss");
}

// Mixed precision trains the sine MLP as well as f32 does (its validation
// loss within 25%), yet not identically; the config's field and the flag
// give the same run.
TEST(PrecisionCli, TrainsInBf16FromTheFlagOrTheConfig) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const std::string plain = SineConfig("plain.train.pbtxt", "");
  CommandResult r;
  const double f32 = Train(plain, "", &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double bf16 = Train(plain, "--precision bf16_all", &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("note: "), std::string::npos) << r.out;
  EXPECT_NE(f32, bf16);
  EXPECT_LT(std::abs(bf16 - f32), 0.25 * f32) << f32 << " vs " << bf16;
  std::printf("sine MLP val_loss: f32 %.6g, bf16 %.6g\n", f32, bf16);
  const double configured =
      Train(SineConfig("bf16.train.pbtxt", "precision: \"bf16_all\""), "", &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(configured, bf16);
  EXPECT_EQ(Train(SineConfig("bf16.train.pbtxt", "precision: \"bf16_all\""),
                  "--precision f32", &r),
            f32);
}

TEST(PrecisionCli, TrainSaysWhyItRunsF32AndRefusesOtherNames) {
  CommandResult r;
  {
    CpuWithoutBf16 capped;
    Train(SineConfig("plain.train.pbtxt", ""), "--precision bf16", &r);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string("note: ") + kNoNativeBf16),
              std::string::npos)
        << r.out;
  }
  Train(SineConfig("fp8.train.pbtxt", "precision: \"fp8\""), "", &r);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("precision: \"fp8\": choose f32 or bf16"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace rill

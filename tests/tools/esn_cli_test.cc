// `rill esn` end to end on the Mackey-Glass example: fit (one step ahead,
// the setting: 100 units, spectral radius 1.25, leak 0.3, ridge
// 1e-5, warm-up 100, 2000 steps, 80% for training; test NRMSE below 0.01),
// predict and generate with the saved model, the series generator, and
// errors naming the file and field.

#include <filesystem>
#include <fstream>

#include "core/npy.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

// The example's config and data, copied where the model may be written.
std::string CopyExample() {
  std::string dir = TestTempPath("esn");
  fs::create_directories(dir);
  for (const char* f : {"mg17.esn.pbtxt", "mg17.npy"}) {
    fs::copy_file(std::string("examples/esn/") + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  }
  return dir;
}

double After(const std::string& text, const std::string& label) {
  size_t at = text.find(label);
  EXPECT_NE(at, std::string::npos) << label << " in " << text;
  return at == std::string::npos ? 1e9
                                 : std::stod(text.substr(at + label.size()));
}

TEST(EsnCli, FitsPredictsAndGeneratesMackeyGlass) {
  std::string dir = CopyExample();
  CommandResult fit = RunRill("esn fit " + dir + "/mg17.esn.pbtxt");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  double test = After(fit.out, "test NRMSE ");
  std::printf("MG17 one step ahead, 100 units: test NRMSE %g\n", test);
  EXPECT_LT(test, 0.01) << fit.out;
  std::string model = dir + "/mg17.rckpt";
  ASSERT_TRUE(fs::exists(model));

  CommandResult predict =
      RunRill("esn predict " + model + " --series " + dir + "/mg17.npy");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_LT(After(predict.out, "NRMSE "), 0.01) << predict.out;

  std::string gen = dir + "/gen.npy";
  CommandResult generate = RunRill("esn generate " + model + " --series " +
                                   dir + "/mg17.npy --steps 50 -o " + gen);
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  auto forecast = ReadNpy(gen, 1 << 20);
  ASSERT_TRUE(forecast.ok()) << forecast.status();
  EXPECT_EQ(forecast->shape(), (Shape{50, 1}));
}

// Rows [begin, end) of a [T, 1] f64 series.
Tensor Rows(const Tensor& series, int64_t begin, int64_t end) {
  Tensor t = *Tensor::Allocate(DType::kF64, Shape{end - begin, 1});
  for (int64_t i = begin; i < end; ++i) {
    t.data<double>()[i - begin] = series.ElementAsDouble(i);
  }
  return t;
}

// Runs `rill ARGS`, expecting success; returns its stdout.
std::string RunOk(const std::string& args) {
  CommandResult r = RunRill(args);
  EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
  return r.out;
}

// `esn build` writes a graph file that rill run, dot and grad take: a
// fitted model's graph predicts what `esn predict` does, and a config's
// zero readout differentiates to the closed form -2/N z^T target.
TEST(EsnCli, BuildWritesAGraphThatRunsDotsAndDifferentiates) {
  const std::string dir = CopyExample();
  ASSERT_EQ(RunRill("esn fit " + dir + "/mg17.esn.pbtxt").exit_code, 0);
  const Tensor series = *ReadNpy(dir + "/mg17.npy", 1 << 20);
  ASSERT_TRUE(WriteNpy(dir + "/u.npy", Rows(series, 0, 300)).ok());
  ASSERT_TRUE(WriteNpy(dir + "/t.npy", Rows(series, 1, 301)).ok());
  ASSERT_TRUE(
      WriteNpy(dir + "/x0.npy", *Tensor::Allocate(DType::kF64, Shape{1, 100}))
          .ok());
  const std::string feeds = " --feed u=" + dir + "/u.npy --feed x0=" + dir +
                            "/x0.npy --feed target=" + dir + "/t.npy";

  const std::string build = RunOk(
      "esn build " + dir + "/mg17.rckpt --steps 300 -o " + dir + "/g.pbtxt");
  EXPECT_NE(build.find("300 steps of a 100-unit reservoir"), std::string::npos)
      << build;
  const std::string run = RunOk("run " + dir + "/g.pbtxt" + feeds +
                                " --fetch y --out " + dir + "/run");
  const std::string predict =
      RunOk("esn predict " + dir + "/mg17.rckpt --series " + dir +
            "/mg17.npy -o " + dir + "/pred.npy");
  const Tensor y = *ReadNpy(dir + "/run/y.npy", 1 << 20);
  const Tensor pred = *ReadNpy(dir + "/pred.npy", 1 << 20);
  ASSERT_EQ(y.shape(), (Shape{300, 1}));
  double worst = 0;  // After the warm-up of 100 steps.
  for (int64_t t = 0; t < 300; ++t) {
    EXPECT_EQ(y.data<double>()[t], pred.data<double>()[t]) << "step " << t;
    if (t >= 100) {
      worst = std::max(
          worst, std::abs(y.data<double>()[t] - series.ElementAsDouble(t + 1)));
    }
  }
  EXPECT_LT(worst, 0.01);  // The series spans about 0.4 to 1.3.

  const std::string dot = RunOk("dot " + dir + "/g.pbtxt");
  EXPECT_NE(dot.find("SparseMatMul"), std::string::npos);

  ASSERT_TRUE(WriteNpy(dir + "/u.npy", Rows(series, 0, 20)).ok());
  ASSERT_TRUE(WriteNpy(dir + "/t.npy", Rows(series, 1, 21)).ok());
  const std::string zero =
      RunOk("esn build " + dir + "/mg17.esn.pbtxt --steps 20 -o " + dir +
            "/zero.pbtxt");
  const std::string grad = RunOk("grad " + dir + "/zero.pbtxt --loss loss " +
                                 "--wrt-params -o " + dir + "/grad.pbtxt");
  const std::string run_grad =
      RunOk("run " + dir + "/grad.pbtxt" + feeds +
            " --fetch esn/states,esn/w_out/grad --out " + dir + "/grad");
  const Tensor states = *ReadNpy(dir + "/grad/esn_states.npy", 1 << 20);
  const Tensor g = *ReadNpy(dir + "/grad/esn_w_out_grad.npy", 1 << 20);
  ASSERT_EQ(g.shape(), (Shape{102, 1}));
  for (int64_t f = 0; f < 102; ++f) {
    double want = 0;
    for (int64_t t = 0; t < 20; ++t) {
      const double z = f == 0   ? 1
                       : f == 1 ? series.ElementAsDouble(t)
                                : states.data<double>()[t * 100 + f - 2];
      want += -2.0 / 20 * z * series.ElementAsDouble(t + 1);
    }
    EXPECT_NEAR(g.data<double>()[f], want, 1e-12) << "feature " << f;
  }
}

TEST(EsnCli, TheGeneratorWritesTheExampleSeries) {
  std::string out = TestTempPath("mg.npy");
  CommandResult r = RunRill("esn mackey-glass " + out + " --steps 2000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadTestFile(out), ReadTestFile("examples/esn/mg17.npy"));
}

TEST(EsnCli, ErrorsNameTheFileAndField) {
  std::string dir = CopyExample();
  struct Case {
    std::string config, message;
  };
  const Case cases[] = {
      {"units: 0 series: \"mg17.npy\"", "bad.esn.pbtxt: EsnConfig.units"},
      {"units: 100 leak_rate: 1.5 series: \"mg17.npy\"",
       "bad.esn.pbtxt: EsnConfig.leak_rate"},
      // Paths may leave the config's directory, as in a TrainConfig.
      {"units: 100 series: \"../../etc/passwd\"",
       "etc/passwd: a series must be a .npy or .csv file"},
      {"units: 100", "bad.esn.pbtxt: series: give a path"},
      {"units: 100 series: \"missing.npy\"", "missing.npy"},
      {"units: 100 warmup: 5000 series: \"mg17.npy\"", "warm"},
  };
  for (const Case& c : cases) {
    std::string config = dir + "/bad.esn.pbtxt";
    std::ofstream(config) << c.config << "\n";
    CommandResult r = RunRill("esn fit " + config);
    EXPECT_EQ(r.exit_code, 1) << c.config;
    EXPECT_NE(r.err.find(c.message), std::string::npos)
        << c.config << ": " << r.err;
  }
  CommandResult unknown = RunRill("esn nonsense x");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown esn command 'nonsense'"),
            std::string::npos);
}

}  // namespace
}  // namespace rill

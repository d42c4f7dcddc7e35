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
      {"units: 100 series: \"../../etc/passwd\"",
       "bad.esn.pbtxt: series: '../../etc/passwd' must be a path inside"},
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

// `rill bleu` end to end, on sacreBLEU's published corpus example: its score
// (48.530827 with the defaults) is in test/test_bleu.py of the sacreBLEU
// project, and the whole formatted line after "BLEU" is in the Python usage
// example of sacreBLEU's README.

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  std::string path = TestTempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

class BleuCli : public testing::Test {
 protected:
  void SetUp() override {
    hyp_ = Write("hyp.txt",
                 "The dog bit the man.\nIt wasn't surprising.\n"
                 "The man had just bitten him.\n");
    ref1_ = Write("ref1.txt",
                  "The dog bit the man.\nIt was not unexpected.\n"
                  "The man bit him first.\n");
    ref2_ = Write("ref2.txt",
                  "The dog had bit the man.\nNo one was surprised.\n"
                  "The man had bitten the dog.\n");
  }
  std::string Refs() const { return "-r " + ref1_ + " -r " + ref2_; }
  std::string hyp_, ref1_, ref2_;
};

TEST_F(BleuCli, CorpusScoreMatchesSacreBleu) {
  CommandResult r = RunRill("bleu " + Refs() + " -i " + hyp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:rill-0.1"
            " = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = "
            "17 ref_len = 18)\n");
}

TEST_F(BleuCli, ReadsStdinAndLongFlags) {
  CommandResult r =
      RunRill("bleu --ref " + ref1_ + " --ref=" + ref2_ + " < " + hyp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, " = 48.53 ")) << r.out;
}

TEST_F(BleuCli, TokenizerAndJson) {
  CommandResult none = RunRill("bleu " + Refs() + " -i " + hyp_ +
                               " --tokenize none --format json");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(absl::StrContains(none.out, "\"score\": 49.19195")) << none.out;
  EXPECT_TRUE(absl::StrContains(none.out, "tok:none")) << none.out;
  CommandResult intl =
      RunRill("bleu " + Refs() + " -i " + hyp_ + " --tokenize intl");
  ASSERT_EQ(intl.exit_code, 0) << intl.err;
  EXPECT_TRUE(absl::StrContains(intl.out, " = 43.92 ")) << intl.out;
}

TEST_F(BleuCli, SentenceModeGivesOneLinePerSegment) {
  CommandResult r = RunRill("bleu " + Refs() + " -i " + hyp_ + " --sentence");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "BLEU|nrefs:2|case:mixed|eff:yes|"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], " = 100.00 "))
      << lines[0];  // Exact match.
}

TEST_F(BleuCli, BadInputGivesAnErrorAndNoScore) {
  std::string short_ref = Write("short.txt", "The dog bit the man.\n");
  std::string latin1 = Write("latin1.txt", "ok\nbad \xe9 byte\nok\n");
  struct Case {
    std::string args, message;
    int exit_code;  // 1 for bad input, 2 for a bad command line.
  };
  std::vector<Case> cases = {
      {"-r " + short_ref + " -i " + hyp_, "has 1 lines but", 1},
      {"-r " + TestTempPath("nope.txt") + " -i " + hyp_, "nope.txt", 1},
      {"-r " + ref1_ + " -i " + latin1, "latin1.txt:2: not valid UTF-8", 1},
      {"-r " + latin1 + " -i " + hyp_, "latin1.txt:2: not valid UTF-8", 1},
      {"-i " + hyp_, "no references", 2},
      {Refs() + " -i " + hyp_ + " --tokenize moses", "moses", 2},
      {Refs() + " -i " + hyp_ + " --smooth laplace", "laplace", 2},
      {Refs() + " -i " + hyp_ + " --format xml", "--format xml", 2},
      {Refs() + " -i " + hyp_ + " --max_order 0", "max_order", 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    CommandResult r = RunRill("bleu " + c.args);
    EXPECT_EQ(r.exit_code, c.exit_code);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(absl::StrContains(r.err, c.message)) << r.err;
  }
}

TEST(BleuCliHelp, DescribesTheFlags) {
  CommandResult r = RunRill("bleu --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--ref", "--input", "--tokenize", "--smooth", "--sentence"}) {
    EXPECT_TRUE(absl::StrContains(r.out, flag)) << flag;
  }
}

}  // namespace
}  // namespace rill

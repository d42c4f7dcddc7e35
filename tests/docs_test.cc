// README.md shows example files verbatim and quotes what they print; this
// keeps the two from drifting apart.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace {

std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

TEST(Readme, ShowsTheExamplesVerbatim) {
  std::string readme = rill::ReadTestFile("README.md");
  ASSERT_FALSE(readme.empty());
  for (const char* file : {"examples/affine_tanh.pbtxt", "examples/embed.cc"}) {
    std::string text = rill::ReadTestFile(file);
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_NE(readme.find(text), std::string::npos)
        << file << " differs from README.md";
  }
}

TEST(Readme, QuotesWhatTheExamplesPrint) {
  std::string readme = rill::ReadTestFile("README.md");
  std::string embed = Output("examples/embed");
  EXPECT_EQ(embed, "y [1, 3]: 0.986614 -0.379949 0.716298\n");
  EXPECT_NE(readme.find(embed.substr(0, embed.size() - 1)), std::string::npos);
  std::string check = Output("tools/rill check examples/affine_tanh.pbtxt");
  EXPECT_NE(readme.find(check), std::string::npos) << check;
  // The README writes to /tmp/out; the test writes to its own directory.
  std::string out_dir = rill::TestTempPath("out");
  std::string run = Output(
      "tools/rill run examples/affine_tanh.pbtxt --feed "
      "x=examples/affine_tanh_x.npy "
      "--out " +
      out_dir);
  run.replace(run.find(out_dir), out_dir.size(), "/tmp/out");
  EXPECT_NE(readme.find(run), std::string::npos) << run;
  std::string ops = Output("tools/rill ops MatMul");
  std::string ops_head = ops.substr(0, ops.find("\n    y = "));
  EXPECT_NE(readme.find("$ rill ops MatMul\n" + ops_head + "\n```"),
            std::string::npos)
      << ops_head;
  const std::string bleu_args =
      "bleu -r examples/bleu/ref1.txt -r examples/bleu/ref2.txt -i "
      "examples/bleu/hyp.txt";
  std::string bleu = Output("tools/rill " + bleu_args);
  EXPECT_NE(readme.find("$ rill " + bleu_args + "\n" + bleu), std::string::npos)
      << bleu;
}

TEST(Readme, QuickStartShowsTheTwoCommandsFirst) {
  std::string readme = rill::ReadTestFile("README.md");
  size_t start = readme.find("## Quick start");
  ASSERT_NE(start, std::string::npos);
  size_t block = readme.find("```sh\n", start);
  EXPECT_EQ(readme.find("./dev demo", block), block + 6);
  EXPECT_LT(readme.find("./dev test", block), readme.find("```\n", block + 6));
}

}  // namespace

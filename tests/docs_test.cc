// Every fenced block of README.md says how it is checked (a
// `<!-- docs_test: KIND ARG -->` line before it), and this test checks it:
// example files are shown verbatim, and every quoted command output is the
// output of a real run of that command, timings masked. So README drift
// fails CI.

#include <cstdio>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/readme_check.h"
#include "tests/test_util.h"

namespace rill {
namespace {

// The marker kinds, and what each promises.
const std::set<std::string>& Kinds() {
  static const std::set<std::string>* kinds = new std::set<std::string>{
      "file",         // The whole file ARG, verbatim.
      "excerpt",      // Consecutive lines of the file ARG (/tmp/...: as
                      // written by an earlier block's commands).
      "run",          // A transcript that this test replays.
      "run-in",       // A transcript that the test ARG replays (long runs).
      "run-if-cpu",   // Replayed on CPUs with the /proc/cpuinfo flag ARG.
      "commands",     // Commands to type; no output is quoted.
      "measurement",  // Figures measured on a given day; not replayed.
  };
  return *kinds;
}

bool CpuHas(const std::string& flag) {
  std::string cpuinfo = ReadTestFile("/proc/cpuinfo");
  for (const char* sep : {" ", "\t"}) {
    if (cpuinfo.find(sep + flag + " ") != std::string::npos ||
        cpuinfo.find(sep + flag + "\n") != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Readme, EveryBlockSaysHowItIsChecked) {
  const std::string readme = ReadTestFile("README.md");
  ASSERT_FALSE(readme.empty());
  for (const ReadmeBlock& block : ReadmeBlocks(readme)) {
    if (Kinds().count(block.kind) == 0) {
      ADD_FAILURE() << "README.md:" << block.line
                    << ": a fenced block without a known `<!-- docs_test: "
                       "KIND ARG -->` marker on the line before it (kind '"
                    << block.kind << "')";
      continue;
    }
    const bool needs_arg = block.kind != "run" && block.kind != "commands" &&
                           block.kind != "measurement";
    EXPECT_EQ(needs_arg, !block.arg.empty())
        << "README.md:" << block.line << ": marker '" << block.kind << " "
        << block.arg << "'";
  }
  for (int line : DanglingMarkers(readme)) {
    ADD_FAILURE() << "README.md:" << line
                  << ": a docs_test marker not followed by a block or table";
  }
}

TEST(Readme, ShowsFilesVerbatim) {
  const std::string readme = ReadTestFile("README.md");
  int files = 0;
  for (const ReadmeBlock& block : ReadmeBlocks(readme)) {
    if (block.kind != "file") continue;
    ++files;
    std::string text = ReadTestFile(block.arg);
    EXPECT_FALSE(text.empty()) << block.arg;
    EXPECT_EQ(block.text, text)
        << "README.md:" << block.line << " differs from " << block.arg;
  }
  EXPECT_GE(files, 8);
}

// Transcripts replay in README order in one scratch directory, so a block
// may use what an earlier one wrote (`rill build` then `rill run` of it).
TEST(Readme, QuotedOutputsAreWhatTheCommandsPrint) {
  const std::string readme = ReadTestFile("README.md");
  ReadmeShell shell;
  int replayed = 0;
  for (const ReadmeBlock& block : ReadmeBlocks(readme)) {
    const bool run = block.kind == "run" ||
                     (block.kind == "run-if-cpu" && CpuHas(block.arg));
    if (run) {
      ++replayed;
      const std::string failures = shell.Replay(block);
      if (!failures.empty()) ADD_FAILURE() << failures;
    } else if (block.kind == "run-if-cpu") {
      std::printf("README.md:%d: not replayed: this CPU has no %s\n",
                  block.line, block.arg.c_str());
    } else if (block.kind == "excerpt") {
      std::string text = ReadTestFile(shell.Path(block.arg));
      EXPECT_FALSE(text.empty()) << block.arg;
      EXPECT_NE(text.find(block.text), std::string::npos)
          << "README.md:" << block.line << ": not a part of " << block.arg
          << ":\n"
          << block.text;
    } else if (block.kind == "run-in") {
      // The delegate must replay the blocks marked with its name.
      EXPECT_NE(ReadTestFile(block.arg + ".cc").find('"' + block.arg + '"'),
                std::string::npos)
          << "README.md:" << block.line << ": " << block.arg
          << ".cc does not name itself to replay this block";
    }
  }
  EXPECT_GE(replayed, 15);
}

TEST(ReadmeCheck, MasksTimingsOnly) {
  struct Case {
    const char* line;
    const char* masked;
  };
  const Case kCases[] = {
      {"epoch 1/54  first step 0.105s", "epoch 1/54  first step *"},
      {"9710.1 steps/s  ETA 2m28s", "* steps/s  ETA *"},
      {"done after 300 steps in 1.0 s: final loss 0.0106229",
       "done after 300 steps in *: final loss 0.0106229"},
      {"decoded 200 sentences in 195.1 ms (encode 11.5 ms, 32 decoder runs",
       "decoded 200 sentences in * (encode *, 32 decoder runs"},
      {"pretrain: 20242 examples in 3 shards; masked 14.96% of 1163289 tokens",
       "pretrain: 20242 examples in 3 shards; masked 14.96% of 1163289 tokens"},
      {"test NRMSE 0.00435 (400 steps)", "test NRMSE 0.00435 (400 steps)"},
      {"= 48.53 82.4/50.0/45.5/37.5 (BP = 0.943",
       "= 48.53 82.4/50.0/45.5/37.5 (BP = 0.943"},
  };
  for (const Case& c : kCases) EXPECT_EQ(MaskTimings(c.line), c.masked);
}

TEST(ReadmeCheck, ReplayNamesTheReadmeLineThatDiffers) {
  ReadmeShell shell;
  ReadmeBlock block;
  block.line = 10;
  block.text = "$ printf 'a\\nb\\nc 1.5 s\\n'\na\n...\nc 9 s\n";
  EXPECT_EQ(shell.Replay(block), "");
  block.text = "$ printf 'a\\nb\\n'\na\nB\n";
  const std::string failures = shell.Replay(block);
  EXPECT_NE(failures.find("README.md:13: `$ printf"), std::string::npos)
      << failures;
  EXPECT_NE(failures.find("README: B\n  actual: b\n"), std::string::npos)
      << failures;
}

// An inline quote: the C++ API example's output.
TEST(Readme, QuotesWhatTheEmbeddingExamplePrints) {
  const std::string readme = ReadTestFile("README.md");
  ReadmeShell shell;
  const std::string out = shell.Run("bazel-bin/examples/embed/run");
  ASSERT_FALSE(out.empty());
  EXPECT_NE(readme.find("It prints `" + out.substr(0, out.size() - 1) + "`."),
            std::string::npos)
      << out;
}

TEST(Readme, QuickStartShowsTheTwoCommandsFirst) {
  std::string readme = ReadTestFile("README.md");
  size_t start = readme.find("## Quick start");
  ASSERT_NE(start, std::string::npos);
  size_t block = readme.find("```sh\n", start);
  EXPECT_EQ(readme.find("./dev demo", block), block + 6);
  EXPECT_LT(readme.find("./dev test", block), readme.find("```\n", block + 6));
}

}  // namespace
}  // namespace rill

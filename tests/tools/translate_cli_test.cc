// The translation example end to end, as the README runs it (its quoted
// output checked here): `rill train` on the seq2seq spec (the loss falls),
// `rill decode` of the held-out sources (the cache and recompute strategies
// agree), and `rill bleu` against the references. Then bad decode inputs: each
// exits 1 naming the file, line or field, and writes nothing.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/readme_check.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kDir[] = "examples/translate/";

// The number after `key` in `text`, or -1.
double NumberAfter(const std::string& text, const std::string& key) {
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

// The README block marked `run-in` with this name: training is too long to
// run twice, so this test, not docs_test, replays it.
const char kReadmeName[] = "tests/tools/translate_cli_test";

// Trains once for all the tests, by replaying README's transcript (train,
// decode, bleu), whose quoted output must match; returns the final
// checkpoint.
const std::string& Trained() {
  // The shell owns the checkpoint's directory, so it lives as long as the
  // tests (held by a static: not a leak to LeakSanitizer).
  static ReadmeShell* const shell = new ReadmeShell;
  static const std::string* ckpt = [] {
    std::string out;
    int blocks = 0;
    for (const ReadmeBlock& block : ReadmeBlocks(ReadTestFile("README.md"))) {
      if (block.kind != "run-in" || block.arg != kReadmeName) continue;
      ++blocks;
      const std::string failures = shell->Replay(block, &out);
      if (!failures.empty()) ADD_FAILURE() << failures;
    }
    EXPECT_EQ(blocks, 1);
    const double first = NumberAfter(out, "step 1/1000  loss ");
    const double final = NumberAfter(out, "final loss ");
    // Label smoothing 0.1 over 23 tokens puts the floor near 0.61.
    EXPECT_GT(first, 2.5) << out;
    EXPECT_LT(final, 0.8) << out;
    std::printf("%stranslate: loss %.4f -> %.4f\n", out.c_str(), first, final);
    return new std::string(shell->Path("/tmp/translate/ckpt-00001000.rckpt"));
  }();
  return *ckpt;
}

std::string Decode(const std::string& flags) {
  return std::string("decode ") + kDir + "translate_model.pbtxt --params " +
         Trained() + " -i " + kDir + "test.src.txt " + flags;
}

TEST(TranslateCli, TrainsDecodesAndScoresAbove90Bleu) {
  const std::string cached = TestTempPath("hyp_cache.txt");
  const std::string recomputed = TestTempPath("hyp_recompute.txt");
  CommandResult a = RunRill(Decode("-o " + cached));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.err.find("decoded 200 sentences"), std::string::npos) << a.err;
  CommandResult b =
      RunRill(Decode("-o " + recomputed + " --strategy recompute"));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(ReadTestFile(cached), ReadTestFile(recomputed));
  CommandResult bleu =
      RunRill(std::string("bleu -r ") + kDir + "test.ref.txt -i " + cached);
  ASSERT_EQ(bleu.exit_code, 0) << bleu.err;
  const double score = NumberAfter(bleu.out, "version:rill-0.1 = ");
  EXPECT_GT(score, 90) << bleu.out;
  std::printf("%s", bleu.out.c_str());
  // Greedy decoding through stdout.
  CommandResult greedy = RunRill(Decode("--beam 1"));
  ASSERT_EQ(greedy.exit_code, 0) << greedy.err;
  EXPECT_EQ(std::count(greedy.out.begin(), greedy.out.end(), '\n'), 200);
}

TEST(TranslateCli, BadInputsExitOneNamingTheLineAndWriteNothing) {
  const std::string out = TestTempPath("bad_hyp.txt");
  fs::remove(out);
  struct Bad {
    const char* source;  // Lines of the input file.
    const char* error;
  };
  const Bad kBad[] = {
      {"1 2 3\n4 x 5\n", ":2: token 2 'x' is not in the vocabulary"},
      {"1 2 3 4 5 6 7 8\n", ":1: 8 tokens, but seq2seq.src_length is 7"},
  };
  for (const Bad& bad : kBad) {
    const std::string src = TestTempPath("bad_src.txt");
    std::ofstream(src) << bad.source;
    CommandResult r = RunRill(std::string("decode ") + kDir +
                              "translate_model.pbtxt --params " + Trained() +
                              " -i " + src + " -o " + out);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(src + bad.error), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
  CommandResult no_params =
      RunRill(std::string("decode ") + kDir + "translate_model.pbtxt -i " +
              kDir + "test.src.txt");
  EXPECT_EQ(no_params.exit_code, 2);
  EXPECT_NE(no_params.err.find("--params CKPT"), std::string::npos)
      << no_params.err;
  // A spec whose model differs from the checkpoint's.
  const std::string spec = TestTempPath("wider.pbtxt");
  std::ofstream(spec)
      << "seq2seq { vocab_size: 23 d_model: 48 heads: 4 ff: 128 "
         "encoder_layers: 2 decoder_layers: 2 src_length: 7 "
         "tgt_length: 8 vocab: 'vocab.txt' }\n";
  fs::copy_file(std::string(kDir) + "vocab.txt", TestTempPath("vocab.txt"),
                fs::copy_options::overwrite_existing);
  CommandResult other = RunRill("decode " + spec + " --params " + Trained() +
                                " -i " + kDir + "test.src.txt");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(
      other.err.find(Trained() + ": not a checkpoint of this graph: parameter "
                                 "'seq2seq/decoder/layers.0/multihead_attn/"
                                 "in_proj_bias' (f32[144]) is f32[192] there"),
      std::string::npos)
      << other.err;
  // A vocabulary of the wrong size.
  std::ofstream(TestTempPath("vocab.txt")) << "<pad>\n<s>\n</s>\n";
  CommandResult small = RunRill("decode " + spec + " --params " + Trained() +
                                " -i " + kDir + "test.src.txt");
  EXPECT_EQ(small.exit_code, 1);
  EXPECT_NE(
      small.err.find("vocab.txt has 3 tokens but seq2seq.vocab_size is 23"),
      std::string::npos)
      << small.err;
}

}  // namespace
}  // namespace rill

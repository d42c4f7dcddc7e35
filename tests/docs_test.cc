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
  for (const char* file :
       {"examples/affine_tanh.pbtxt", "examples/embed/run.cc",
        "examples/embed/train.cc", "examples/train/sine_mlp.train.pbtxt",
        "examples/train/sine_mlp_init.pbtxt",
        "examples/translate/translate_model.pbtxt",
        "examples/translate/translate.train.pbtxt"}) {
    std::string text = rill::ReadTestFile(file);
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_NE(readme.find(text), std::string::npos)
        << file << " differs from README.md";
  }
}

TEST(Readme, QuotesWhatTheExamplesPrint) {
  std::string readme = rill::ReadTestFile("README.md");
  std::string embed = Output("examples/embed/run");
  EXPECT_EQ(embed, "y [1, 3]: 0.986614 -0.379949 0.716298\n");
  EXPECT_NE(readme.find(embed.substr(0, embed.size() - 1)), std::string::npos);
  std::string trained =
      Output("examples/embed/train " + rill::TestTempPath("sine.rckpt"));
  EXPECT_NE(readme.find("$ bazel-bin/examples/embed/train\n" + trained),
            std::string::npos)
      << trained;
  std::string check = Output("tools/rill check examples/affine_tanh.pbtxt");
  EXPECT_NE(readme.find(check), std::string::npos) << check;
  // The README writes to /tmp/out; the test writes to its own directory.
  std::string out_dir = rill::TestTempPath("out");
  std::string run = Output(
      "tools/rill run examples/affine_tanh.pbtxt --feed "
      "x=examples/affine_tanh_x.npy "
      "-o " +
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
  const std::string tokenize_args =
      "tokenize --vocab examples/bert/bert-base-uncased-vocab.txt --lowercase "
      "-i examples/bert/sample.txt";
  for (const std::string& args : {tokenize_args, tokenize_args + " --pieces"}) {
    std::string tokens = Output("tools/rill " + args);
    EXPECT_NE(readme.find("$ rill " + args + "\n" + tokens), std::string::npos)
        << tokens;
  }
}

TEST(Readme, QuotesWhatRillGradPrintsAndWrites) {
  std::string readme = rill::ReadTestFile("README.md");
  // The README writes to /tmp; the test writes to its own directory.
  std::string out = rill::TestTempPath("regression_grad.pbtxt");
  auto as_in_readme = [&](std::string text) {
    for (size_t at; (at = text.find(out)) != std::string::npos;) {
      text.replace(at, out.size(), "/tmp/regression_grad.pbtxt");
    }
    return text;
  };
  std::string grad = Output(
      "tools/rill grad examples/regression.pbtxt --loss loss --wrt_params "
      "-o " +
      out);
  EXPECT_NE(readme.find("--wrt_params -o /tmp/regression_grad.pbtxt\n" +
                        as_in_readme(grad)),
            std::string::npos)
      << grad;
  const std::string run_args =
      " --feed x=examples/regression_x.npy --feed "
      "target=examples/regression_target.npy";
  std::string run = Output("tools/rill run " + out + run_args);
  EXPECT_NE(readme.find("$ rill run /tmp/regression_grad.pbtxt" + run_args +
                        "\n" + run),
            std::string::npos)
      << run;
  // The node the README shows is in the file, as shown.
  std::string written = rill::ReadTestFile(out);
  size_t at = readme.find("node {\n  name: \"h/grad/TanhGrad\"");
  ASSERT_NE(at, std::string::npos);
  std::string shown = readme.substr(at, readme.find("}\n", at) + 2 - at);
  EXPECT_NE(written.find(shown), std::string::npos) << shown;
}

// The BERT section: the tiny spec verbatim, and what `rill build`, `rill
// run` and `rill bert import-hf|export-hf` print.
TEST(Readme, QuotesTheBertExamples) {
  std::string readme = rill::ReadTestFile("README.md");
  std::string spec = rill::ReadTestFile("examples/bert/tiny/bert_model.pbtxt");
  ASSERT_FALSE(spec.empty());
  EXPECT_NE(readme.find(spec), std::string::npos);
  const std::string dir = rill::TestTempPath("bert");
  auto as_in_readme = [&](std::string text) {
    for (size_t at; (at = text.find(dir)) != std::string::npos;) {
      text.replace(at, dir.size(), "/tmp");
    }
    return text;
  };
  Output("mkdir -p " + dir);
  std::string build =
      Output("tools/rill build examples/bert/tiny/bert_model.pbtxt -o " + dir +
             "/tiny_bert.pbtxt");
  EXPECT_NE(readme.find("$ rill build examples/bert/tiny/bert_model.pbtxt -o "
                        "/tmp/tiny_bert.pbtxt\n" +
                        as_in_readme(build)),
            std::string::npos)
      << build;
  std::string feeds;
  for (const char* in :
       {"input_ids", "token_type_ids", "attention_mask", "masked_lm_positions",
        "masked_lm_ids", "masked_lm_weights", "next_sentence_labels"}) {
    feeds +=
        std::string(" --feed ") + in + "=examples/bert/tiny/" + in + ".npy";
  }
  const std::string run_args = feeds + " --fetch loss --backend reference";
  std::string run =
      Output("tools/rill run " + dir + "/tiny_bert.pbtxt" + run_args);
  EXPECT_NE(
      readme.find("$ rill run /tmp/tiny_bert.pbtxt" + run_args + "\n" + run),
      std::string::npos)
      << run;
  const std::string import_args =
      "bert import-hf tests/models/testdata/bert/hf --seq_length 12 "
      "--max_predictions_per_seq 3 -o ";
  std::string imported =
      Output("tools/rill " + import_args + dir + "/bert_hf.pbtxt");
  std::string exported = Output("tools/rill bert export-hf " + dir +
                                "/bert_hf.pbtxt -o " + dir + "/bert_hf_out");
  EXPECT_NE(readme.find("$ rill " + import_args + "/tmp/bert_hf.pbtxt\n" +
                        as_in_readme(imported) +
                        "$ rill bert export-hf /tmp/bert_hf.pbtxt -o "
                        "/tmp/bert_hf_out\n" +
                        as_in_readme(exported)),
            std::string::npos)
      << imported << exported;
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

// `rill bert import-hf|export-hf` end to end on the golden BERT's HF files
// (tests/models/testdata/bert/hf), and `rill train` on the tiny BERT spec
// (examples/bert/tiny): mistakes exit 2, bad files exit 1 naming the entry
// and writing nothing.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const std::string kHf = "tests/models/testdata/bert/hf";
const std::string kSizes = " --seq_length 12 --max_predictions_per_seq 3";

int NpyFiles(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    n += e.path().extension() == ".npy";
  }
  return n;
}

TEST(BertHfCli, ImportsChecksExportsAndImportsAgain) {
  const std::string graph = TestTempPath("bert_hf.pbtxt");
  CommandResult imported =
      RunRill("bert import-hf " + kHf + kSizes + " -o " + graph);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("BERT L2 H16 A2 V50, S 12, P 3, f32, 46 "
                              "parameters"),
            std::string::npos)
      << imported.out;
  CommandResult check = RunRill("check " + graph);
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("output:     mlm_logits f32[?, 3, 50]"),
            std::string::npos)
      << check.out;
  const std::string out = TestTempPath("bert_hf_out");
  fs::remove_all(out);
  CommandResult exported = RunRill("bert export-hf " + graph + " -o " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // 46 parameters and the two tied entries; position_ids is left out.
  EXPECT_EQ(NpyFiles(out), 48);
  EXPECT_EQ(NpyFiles(kHf), 49);
  CommandResult again =
      RunRill("bert import-hf " + out + " --config " + kHf + "/config.json" +
              kSizes + " --dtype f64 -o " + TestTempPath("again.pbtxt"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  // The exported config.json stands in for HF's.
  CommandResult own = RunRill("bert import-hf " + out + kSizes + " -o " +
                              TestTempPath("own_config.pbtxt"));
  EXPECT_EQ(own.exit_code, 0) << own.err;
  EXPECT_NE(own.out.find("BERT L2 H16 A2 V50"), std::string::npos) << own.out;
}

TEST(BertHfCli, BadFilesExitOneNamingTheEntryAndWriteNothing) {
  const std::string dir = TestTempPath("bert_hf_extra");
  fs::remove_all(dir);
  fs::copy(kHf, dir);
  fs::copy(kHf + "/cls.seq_relationship.bias.npy",
           dir + "/cls.seq_relationship.extra.npy");
  const std::string graph = TestTempPath("never.pbtxt");
  fs::remove(graph);
  CommandResult r = RunRill("bert import-hf " + dir + kSizes + " -o " + graph);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("extra entry 'cls.seq_relationship.extra'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(graph));
  r = RunRill("bert import-hf " + kHf +
              " --seq_length 17 --max_predictions_per_seq 3 -o " + graph);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("seq_length: 17: must be <= max_position_embeddings "
                       "16"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(graph));
}

TEST(BertHfCli, MistakesExitTwo) {
  EXPECT_EQ(RunRill("bert frob " + kHf).exit_code, 2);
  EXPECT_EQ(RunRill("bert import-hf " + kHf + kSizes).exit_code, 2);
  EXPECT_EQ(RunRill("bert export-hf x.pbtxt").exit_code, 2);
  EXPECT_EQ(RunRill("bert").exit_code, 2);
  EXPECT_EQ(RunRill("bert import-hf -o x.pbtxt").exit_code, 2);
  EXPECT_EQ(RunRill("bert make-data extra").exit_code, 2);
  EXPECT_EQ(RunRill("bert export-hf a b c").exit_code, 2);
  EXPECT_EQ(RunRill("bert import-hf " + kHf + kSizes + " --dtype f16 -o " +
                    TestTempPath("g.pbtxt"))
                .exit_code,
            2);
}

// The first and the final loss of a `rill train` run.
double NumberAfter(const std::string& text, const std::string& key) {
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

TEST(BertTrainCli, TheTinyBertLossFalls) {
  const std::string out = TestTempPath("tiny_bert_train");
  fs::remove_all(out);
  CommandResult train =
      RunRill("train examples/bert/tiny/tiny_bert.train.pbtxt -o " + out);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const double first = NumberAfter(train.out, "step 1/60  loss ");
  const double last = NumberAfter(train.out, "final loss ");
  EXPECT_GT(first, 4) << train.out;  // About ln(50) + ln(2) at the start.
  EXPECT_GT(last, 0) << train.out;
  EXPECT_LT(last, first / 10) << train.out;
}

}  // namespace
}  // namespace rill

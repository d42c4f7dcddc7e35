// Issue 16 item 4's small version: the README's BERT pretraining pipeline
// end to end on the real offline corpus (make_corpus.py, then make-data,
// then rill train with examples/bert/bert_small.train.pbtxt's recipe), at a
// size the test suite can afford, checking that the loss falls on the
// training batches and on the held-out examples.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// bert_small.pbtxt shrunk to L2 H32 A2, S32.
constexpr char kTinySpec[] = R"(bert {
  vocab_size: 30522
  hidden_size: 32
  num_hidden_layers: 2
  num_attention_heads: 2
  intermediate_size: 64
  hidden_act: "gelu"
  max_position_embeddings: 32
  type_vocab_size: 2
  hidden_dropout_prob: 0.1
  attention_probs_dropout_prob: 0.1
  seq_length: 32
  max_predictions_per_seq: 5
  seed: 1
})";

// The example's config with the run made short; each line must be there,
// so that a change to the example shows up here.
std::string ShortConfig(const std::string& example) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"model_spec: \"bert_small.pbtxt\"", "model_spec: \"bert_tiny.pbtxt\""},
      {"learning_rate: 0.0003", "learning_rate: 0.002"},
      {"warmup_steps: 200", "warmup_steps: 15"},
      {"steps: 2000", "steps: 100"},
      {"eval_every: 100", "eval_every: 50"},
      {"checkpoint_every: 250", "checkpoint_every: 0"}};
  std::string config = example;
  for (const auto& [from, to] : edits) {
    EXPECT_THAT(config, HasSubstr(from));
    config = absl::StrReplaceAll(config, {{from, to}});
  }
  return config;
}

// metrics.csv's columns by name, with the rows where each has a value.
std::map<std::string, std::vector<double>> Columns(const std::string& csv) {
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  std::map<std::string, std::vector<double>> columns;
  if (lines.empty()) return columns;
  std::vector<std::string> names = absl::StrSplit(lines[0], ',');
  for (size_t r = 1; r < lines.size(); ++r) {
    std::vector<std::string> cells = absl::StrSplit(lines[r], ',');
    for (size_t c = 0; c < cells.size() && c < names.size(); ++c) {
      double v;
      if (absl::SimpleAtod(cells[c], &v)) columns[names[c]].push_back(v);
    }
  }
  return columns;
}

double Mean(const std::vector<double>& v, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += v[i];
  return sum / (to - from);
}

TEST(BertPretrainCli, LossFallsOnTheFortunesCorpus) {
  const std::string dir = TestTempPath("pretrain_small");
  fs::create_directories(dir);
  ASSERT_EQ(std::system(("/usr/bin/python3 examples/bert/make_corpus.py -o " +
                         dir + "/corpus.txt 2>/dev/null")
                            .c_str()),
            0);
  CommandResult r = RunRill(
      "bert make-data --vocab examples/bert/bert-base-uncased-vocab.txt "
      "--lowercase --dupe_factor 1 --max_seq_length 32 "
      "--max_predictions_per_seq 5 -i " +
      dir + "/corpus.txt -o " + dir + "/pretrain");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteTestFile("pretrain_small/bert_tiny.pbtxt", kTinySpec);
  WriteTestFile(
      "pretrain_small/short.train.pbtxt",
      ShortConfig(ReadTestFile("examples/bert/bert_small.train.pbtxt")));

  r = RunRill("train " + dir + "/short.train.pbtxt -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("val_mlm_accuracy"));
  EXPECT_THAT(r.out, HasSubstr("val_nsp_accuracy"));

  auto columns = Columns(ReadTestFile(dir + "/out/metrics.csv"));
  const std::vector<double>& loss = columns["loss"];
  ASSERT_EQ(loss.size(), 100u);
  // From ln(30522) = 10.3 for the masked LM plus ln 2 for NSP at the start;
  // a model that learnt nothing would stay there.
  EXPECT_LT(Mean(loss, 90, 100), Mean(loss, 0, 10) - 2.0);
  const std::vector<double>& val_loss = columns["val_loss"];
  ASSERT_EQ(val_loss.size(), 2u);  // Steps 50 and 100.
  EXPECT_LT(val_loss[1], val_loss[0]);
  for (const char* metric : {"val_mlm_accuracy", "val_nsp_accuracy"}) {
    ASSERT_EQ(columns[metric].size(), 2u) << metric;
    for (double v : columns[metric]) {
      EXPECT_GE(v, 0) << metric;
      EXPECT_LE(v, 1) << metric;
    }
  }
}

}  // namespace
}  // namespace rill

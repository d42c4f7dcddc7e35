// `rill predict` (issue 17 item 6) on a tiny hand-written text classifier
// with BERT's inputs: its tokenization, checked against ids written out by
// hand, and its probabilities against `rill run` of the same model; the
// bundled vocabulary and labels; and the errors.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/npy.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr int kSeq = 8;

// examples/text_classifier: logits = (the sum over unmasked positions of
// word and type embeddings) . w, 3 labels; its vocabulary is [PAD] [UNK]
// [CLS] [SEP] [MASK] the cat dog ##s a, ids 0 to 9.
struct ClassifierFiles {
  std::string dir, graph, vocab, labels, model;
};

const ClassifierFiles& Classifier() {
  static const ClassifierFiles* s = [] {
    auto* s = new ClassifierFiles;
    s->dir = TestTempPath("predict");
    fs::remove_all(s->dir);
    fs::create_directories(s->dir);
    s->graph = "examples/text_classifier/classifier.pbtxt";
    s->vocab = "examples/text_classifier/vocab.txt";
    s->labels = "examples/text_classifier/labels.txt";
    s->model = s->dir + "/model";
    CommandResult r =
        RunRill("export " + s->graph + " -o " + s->model + " --vocab " +
                s->vocab + " --lowercase --labels " + s->labels);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return s;
  }();
  return *s;
}

Tensor Ids(const std::vector<std::vector<int64_t>>& rows) {
  Tensor t = *Tensor::Allocate(DType::kI64, Shape{int64_t(rows.size()), kSeq});
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int i = 0; i < kSeq; ++i) t.data<int64_t>()[r * kSeq + i] = rows[r][i];
  }
  return t;
}

// Softmax rows of the logits that `rill run` gives for hand-made ids.
std::vector<std::vector<double>> ExpectedProbabilities(
    const ClassifierFiles& s) {
  const std::string feeds = s.dir + "/feeds";
  fs::create_directories(feeds);
  // "The CATS" lowercased; "a dog<TAB>the cat" as a pair.
  EXPECT_TRUE(WriteNpy(feeds + "/ids.npy", Ids({{2, 5, 6, 8, 3, 0, 0, 0},
                                                {2, 9, 7, 3, 5, 6, 3, 0}}))
                  .ok());
  EXPECT_TRUE(WriteNpy(feeds + "/types.npy", Ids({{0, 0, 0, 0, 0, 0, 0, 0},
                                                  {0, 0, 0, 0, 1, 1, 1, 0}}))
                  .ok());
  EXPECT_TRUE(WriteNpy(feeds + "/mask.npy", Ids({{1, 1, 1, 1, 1, 0, 0, 0},
                                                 {1, 1, 1, 1, 1, 1, 1, 0}}))
                  .ok());
  CommandResult r = RunRill("run " + s.model + " --feed input_ids=" + feeds +
                            "/ids.npy --feed token_type_ids=" + feeds +
                            "/types.npy --feed attention_mask=" + feeds +
                            "/mask.npy -o " + feeds + "/out");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Tensor logits = *ReadNpy(feeds + "/out/logits.npy", 1 << 20);
  std::vector<std::vector<double>> p(2, std::vector<double>(3));
  for (int r = 0; r < 2; ++r) {
    double sum = 0;
    for (int k = 0; k < 3; ++k)
      sum += p[r][k] = std::exp(logits.ElementAsDouble(r * 3 + k));
    for (double& v : p[r]) v /= sum;
  }
  return p;
}

TEST(PredictCli, TokenizesAsBertAndGivesTheModelsProbabilities) {
  const ClassifierFiles& s = Classifier();
  const std::string texts =
      WriteTestFile("predict/texts.txt", "The CATS\na dog\tthe cat\n");
  const std::string out = s.dir + "/predictions.tsv";
  CommandResult r = RunRill("predict " + s.model + " -i " + texts +
                            " --probabilities --batch_size 1 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::vector<double>> want = ExpectedProbabilities(s);
  std::vector<std::string> lines =
      absl::StrSplit(ReadTestFile(out), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  const char* names[] = {"fun", "love", "work"};
  for (int row = 0; row < 2; ++row) {
    std::vector<std::string> fields = absl::StrSplit(lines[row], '\t');
    ASSERT_EQ(fields.size(), 4u) << lines[row];
    int best = 0;
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(std::stod(fields[k + 1]), want[row][k], 1e-6) << lines[row];
      if (want[row][k] > want[row][best]) best = k;
    }
    EXPECT_EQ(fields[0], names[best]);
  }
}

TEST(PredictCli, LongLinesAreCutWithACount) {
  const ClassifierFiles& s = Classifier();
  const std::string texts = WriteTestFile(
      "predict/long.txt", "the cat the cat the cat the cat\nthe dog\n");
  CommandResult r = RunRill("predict " + s.model + " -i " + texts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 of 2 lines cut to 8 tokens"), std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

// A graph built for one batch size (every Input [3, S]) predicts any number
// of lines: predict runs 3 at a time and fills the last batch up.
TEST(PredictCli, AModelWithAFixedBatchPredictsAnyNumberOfLines) {
  const ClassifierFiles& s = Classifier();
  std::string graph = ReadTestFile(s.graph);
  for (size_t at; (at = graph.find("dim: -1 dim: 8")) != std::string::npos;)
    graph.replace(at, 7, "dim: 3");
  graph.replace(graph.find("shape { dim: -1 }"), 17, "shape { dim: 3 }");
  const std::string fixed_graph =
      WriteTestFile("predict/fixed_batch.pbtxt", graph);
  const std::string fixed = s.dir + "/fixed_batch_model";
  CommandResult r =
      RunRill("export " + fixed_graph + " -o " + fixed + " --vocab " + s.vocab +
              " --lowercase --labels " + s.labels);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string texts = WriteTestFile(
      "predict/five.txt", "The CATS\na dog\tthe cat\ndogs\nthe\na cat\n");
  CommandResult want =
      RunRill("predict " + s.model + " -i " + texts + " --probabilities");
  ASSERT_EQ(want.exit_code, 0) << want.err;
  CommandResult got =
      RunRill("predict " + fixed + " -i " + texts + " --probabilities");
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(std::count(got.out.begin(), got.out.end(), '\n'), 5) << got.out;
  EXPECT_EQ(got.out, want.out);
}

TEST(PredictCli, Errors) {
  const ClassifierFiles& s = Classifier();
  const std::string bad =
      WriteTestFile("predict/bad.txt", "the cat\nthe \xff dog\n");
  CommandResult r = RunRill("predict " + s.model + " -i " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.txt:2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;

  const std::string two = WriteTestFile("predict/two.txt", "a\nb\n");
  const std::string ok = WriteTestFile("predict/ok.txt", "the cat\n");
  r = RunRill("predict " + s.model + " -i " + ok + " --labels " + two);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("two.txt: 2 labels, but the model's logits have 3 "
                       "columns"),
            std::string::npos)
      << r.err;
  r = RunRill("export " + s.graph + " -o " + s.dir + "/wrong_labels --labels " +
              two);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(fs::exists(s.dir + "/wrong_labels"));
  // Export checks a labels file as predict reads it: a repeated name is
  // an error, not a third label.
  const std::string twice = WriteTestFile("predict/twice.txt", "a\nb\na\n");
  r = RunRill("export " + s.graph + " -o " + s.dir + "/twice --labels " +
              twice);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("twice.txt:3: label 'a' is listed twice"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(s.dir + "/twice"));

  const std::string pooled = s.dir + "/pooled_model";
  fs::remove_all(pooled);
  ASSERT_EQ(
      RunRill("export " + s.graph + " --fetch pooled -o " + pooled).exit_code,
      0);
  r = RunRill("predict " + pooled + " -i " + ok + " --vocab " + s.vocab);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a text classifier"), std::string::npos) << r.err;
  r = RunRill("predict " + pooled + " -i " + ok);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bundles no vocabulary"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rill

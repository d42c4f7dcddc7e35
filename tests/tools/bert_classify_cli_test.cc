// `rill bert make-classification-data` end to end: the arrays of a tiny
// TSV against ids worked by hand from the vocabulary (the pieces as `rill
// tokenize` prints them; [CLS] 101, [SEP] 102), longest-first pair
// truncation, the label and bag-of-words files that validation data
// reuses, the errors (naming file and line, writing nothing), and a tiny
// BERT classifier trained on the result.

#include <filesystem>
#include <string>
#include <vector>

#include "core/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kVocab[] = "examples/bert/bert-base-uncased-vocab.txt";

// From the vocabulary: `rill tokenize --lowercase` gives "the the cat ."
// = 1996 1996 4937 1012, "hello , world" = 7592 1010 2088, "the cat sat ."
// = 1996 4937 2938 1012.
constexpr char kTsv[] =
    "b\tThe the cat.\n"
    "a\thello, world\tThe cat sat.\n";

std::string Make(const std::string& input, const std::string& out,
                 const std::string& more = "") {
  return std::string("bert make-classification-data --vocab ") + kVocab +
         " --lowercase --max_seq_length 8 -i " + input + " -o " + out + more;
}

std::vector<double> Values(const std::string& path) {
  auto t = ReadNpy(path, 1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  std::vector<double> v;
  if (!t.ok()) return v;
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    v.push_back(t->ElementAsDouble(i));
  }
  return v;
}

TEST(BertClassifyCli, ArraysAreRunClassifiersFeatures) {
  const std::string out = TestTempPath("classify_train");
  CommandResult r =
      RunRill(Make(WriteTestFile("train.tsv", kTsv), out, " --bag_of_words 3"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(out + ": 2 sentence pairs (a 1, b 1); 1 "
                                     "truncated to 8 tokens; bow over 3 "
                                     "wordpieces"));
  EXPECT_EQ(ListDir(out), (std::vector<std::string>{
                              "attention_mask.npy", "bow.npy", "bow_vocab.txt",
                              "input_ids.npy", "labels.npy", "labels.txt",
                              "token_type_ids.npy"}));
  // Row 1: A has 3 pieces and B 4, with room for 5: B loses its last two
  // (the longer, and B on the tie).
  EXPECT_EQ(Values(out + "/input_ids.npy"),
            (std::vector<double>{101, 1996, 1996, 4937, 1012, 102, 0, 0,  //
                                 101, 7592, 1010, 2088, 102, 1996, 4937, 102}));
  EXPECT_EQ(Values(out + "/token_type_ids.npy"),
            (std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0,  //
                                 0, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(Values(out + "/attention_mask.npy"),
            (std::vector<double>{1, 1, 1, 1, 1, 1, 0, 0,  //
                                 1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(Values(out + "/labels.npy"), (std::vector<double>{1, 0}));
  EXPECT_EQ(ReadTestFile(out + "/labels.txt"), "a\nb\n");
  // Whole texts: "the" 3 times, then "." (1012) and "cat" (4937) twice.
  EXPECT_EQ(ReadTestFile(out + "/bow_vocab.txt"), "the\n.\ncat\n");
  EXPECT_EQ(Values(out + "/bow.npy"), (std::vector<double>{2, 1, 1, 1, 1, 1}));
  // Validation data with the training set's labels and features.
  const std::string val = TestTempPath("classify_val");
  r = RunRill(Make(WriteTestFile("val.tsv", "a\tcat cat cat\n"), val,
                   " --labels " + out + "/labels.txt --bow_vocab " + out +
                       "/bow_vocab.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": 1 texts (a 1, b 0); 0 truncated"));
  EXPECT_EQ(Values(val + "/labels.npy"), (std::vector<double>{0}));
  EXPECT_EQ(Values(val + "/bow.npy"), (std::vector<double>{0, 0, 3}));
  EXPECT_EQ(Values(val + "/input_ids.npy"),
            (std::vector<double>{101, 4937, 4937, 4937, 102, 0, 0, 0}));
}

TEST(BertClassifyCli, BadInputNamesTheLineAndWritesNothing) {
  const std::string labels = WriteTestFile("labels.txt", "a\nb\n");
  struct Case {
    std::string tsv, more, message;
    int exit_code;
  };
  const std::string out = TestTempPath("classify_never");
  int k = 0;
  for (const Case& c : std::vector<Case>{
           {"a\tok\nc\tnew\n", " --labels " + labels,
            ":2: unknown label 'c': the labels are a, b", 1},
           {"a\tok\nb\t  \n", "", ":2: text is empty (no token in it)", 1},
           {"a\tok\tok\t?\n", "", ":1: 4 columns: expected label<TAB>text", 1},
           {"a ok\n", "", ":1: 1 columns", 1},
           {"\tok\n", "", ":1: empty label", 1},
           {"a\tok\n\nb\tok\n", "", ":2: empty line", 1},
           {"a\tok \xff\n", "", ":1: text: ", 1},
           {"a\tok\tb \xc3\n", "", ":1: text_b: ", 1},
           {"", "", ": no examples", 1},
           {"a\tok\n", " --labels " + WriteTestFile("dup.txt", "a\nb\na\n"),
            "dup.txt:3: label 'a' is listed twice (first on line 1)", 1},
           {"a\tok\n", " --bow_vocab " + WriteTestFile("bv.txt", "the\nzzqx\n"),
            "bv.txt:2: 'zzqx' is not in the vocabulary", 1},
           {"a\tok\n", " --bag_of_words 3 --bow_vocab " + labels,
            "--bag_of_words and --bow_vocab exclude each other", 2},
           {"a\tok\n", " --bag_of_words -1", "--bag_of_words -1", 2},
           {"a\tok\n", " --max_seq_length 2", "--max_seq_length", 2},
       }) {
    const std::string input =
        WriteTestFile("bad" + std::to_string(k++) + ".tsv", c.tsv);
    CommandResult r = RunRill(Make(input, out, c.more));
    EXPECT_EQ(r.exit_code, c.exit_code) << c.tsv << c.more << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.tsv << c.more;
    EXPECT_FALSE(fs::exists(out)) << c.tsv;
    EXPECT_FALSE(fs::exists(out + ".partial")) << c.tsv;
  }
  const std::string taken = TestTempPath("classify_taken");
  fs::create_directories(taken);
  WriteTestFile("classify_taken/keep.txt", "mine");
  CommandResult r = RunRill(Make(WriteTestFile("ok.tsv", kTsv), taken));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(taken + ": exists and is not empty"));
  EXPECT_EQ(ListDir(taken), std::vector<std::string>{"keep.txt"});
}

// A tiny classifier (num_labels 2) trained on make-classification-data's
// output: the loss falls and the spec's metrics are reported.
TEST(BertClassifyCli, TinyClassifierTrainsOnTheArrays) {
  const std::string dir = TestTempPath("classify_tiny");
  fs::create_directories(dir);
  std::string tsv;
  for (int i = 0; i < 8; ++i) {
    tsv += i % 2 ? "b\tthe cat sat on the mat.\n" : "a\thello, world\tbye.\n";
  }
  CommandResult r =
      RunRill(Make(WriteTestFile("tiny.tsv", tsv), dir + "/data"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteTestFile("classify_tiny/spec.pbtxt",
                "bert { vocab_size: 30522 hidden_size: 16 num_hidden_layers: 1 "
                "num_attention_heads: 2 intermediate_size: 32 "
                "max_position_embeddings: 8 type_vocab_size: 2 seq_length: 8 "
                "num_labels: 2 seed: 3 }\n");
  std::string config = "model_spec: \"spec.pbtxt\"\n";
  for (const char* in :
       {"input_ids", "token_type_ids", "attention_mask", "labels"}) {
    for (const char* field : {"data", "validation_data"}) {
      config += std::string(field) + " { input: \"" + in + "\" file: \"data/" +
                in + ".npy\" }\n";
    }
  }
  config +=
      "batch_size: 4\noptimizer { learning_rate: 0.01 adam {} }\n"
      "steps: 30\neval_every: 30\nlog_every: 1\nseed: 1\n";
  WriteTestFile("classify_tiny/tiny.train.pbtxt", config);
  r = RunRill("train " + dir + "/tiny.train.pbtxt -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const size_t first = r.out.find("step 1/30  loss ");
  ASSERT_NE(first, std::string::npos) << r.out;
  const double first_loss = std::stod(r.out.substr(first + 16));
  const size_t last = r.out.find("step 30/30  loss ");
  ASSERT_NE(last, std::string::npos) << r.out;
  const double last_loss = std::stod(r.out.substr(last + 17));
  EXPECT_GT(first_loss, 0.5) << r.out;  // About ln 2 at the start.
  EXPECT_LT(last_loss, first_loss / 5) << r.out;
  EXPECT_THAT(r.out, HasSubstr("val_accuracy 1  val_macro_f1 1"));
}

// Issue 17 item 2's path: a pretraining graph's weights (as Hugging Face
// files, `rill bert export-hf`) start a classifier of the same encoder by
// name; the classifier head is new and the pretraining heads go unused.
TEST(BertClassifyCli, ClassifierStartsFromAPretrainingGraphsWeights) {
  const std::string dir = TestTempPath("classify_init");
  fs::create_directories(dir);
  const std::string encoder =
      "vocab_size: 30522 hidden_size: 16 num_hidden_layers: 1 "
      "num_attention_heads: 2 intermediate_size: 32 "
      "max_position_embeddings: 8 type_vocab_size: 2 seq_length: 8 ";
  WriteTestFile("classify_init/pretrain.pbtxt",
                "bert { " + encoder + "max_predictions_per_seq: 2 seed: 5 }\n");
  CommandResult r = RunRill("build " + dir + "/pretrain.pbtxt -o " + dir +
                            "/pretrain_graph.pbtxt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunRill("bert export-hf " + dir + "/pretrain_graph.pbtxt -o " + dir +
              "/hf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string tsv;
  for (int i = 0; i < 8; ++i) {
    tsv += i % 2 ? "b\tthe cat sat on the mat.\n" : "a\thello, world\tbye.\n";
  }
  r = RunRill(Make(WriteTestFile("init.tsv", tsv), dir + "/data"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteTestFile("classify_init/spec.pbtxt",
                "bert { " + encoder + "num_labels: 2 seed: 3 }\n");
  std::string config = "model_spec: \"spec.pbtxt\"\n";
  for (const char* in :
       {"input_ids", "token_type_ids", "attention_mask", "labels"}) {
    config += std::string("data { input: \"") + in + "\" file: \"data/" + in +
              ".npy\" }\n";
  }
  config +=
      "init_from { path: \"hf\" }\nbatch_size: 4\n"
      "optimizer { learning_rate: 0.01 adam {} }\nsteps: 20\nseed: 1\n";
  WriteTestFile("classify_init/init.train.pbtxt", config);
  r = RunRill("train " + dir + "/init.train.pbtxt -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string summary = r.out + r.err;
  EXPECT_THAT(summary, HasSubstr("bert.embeddings.* (5), bert.encoder.* (16), "
                                 "bert.pooler.* (2)"));
  EXPECT_THAT(summary, HasSubstr("newly initialised 2: classifier.bias, "
                                 "classifier.weight"));
  EXPECT_THAT(summary, HasSubstr("cls.predictions."));
  EXPECT_THAT(summary, HasSubstr("step 20/20"));
}

}  // namespace
}  // namespace rill

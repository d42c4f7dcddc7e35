// `rill bert make-data` end to end: shards that `rill train` trains on as
// they are, the same bytes from the same seed, and every bad input of issue
// 15 (command-line mistakes exit 2, bad input exits 1) leaving no output
// directory behind.

#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sanitizers.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kVocab[] = "examples/bert/bert-base-uncased-vocab.txt";

// 120 documents of 2 to 6 sentences of common words.
std::string Corpus() {
  const std::vector<std::string> words = {
      "the", "cat",  "sat",   "on",    "a",     "mat",  "and",  "dog",
      "ran", "over", "green", "field", "while", "rain", "fell", "slowly"};
  std::string text;
  for (int d = 0; d < 120; ++d) {
    for (int s = 0; s < 2 + d % 5; ++s) {
      for (int w = 0; w < 4 + (d * 7 + s * 3) % 9; ++w) {
        text += words[(d * 31 + s * 17 + w * 5) % words.size()] + " ";
      }
      text += ".\n";
    }
    text += "\n";
  }
  return text;
}

std::string MakeData(const std::string& corpus, const std::string& out,
                     const std::string& more = "") {
  return std::string("bert make-data --vocab ") + kVocab +
         " --lowercase --max_seq_length 32 --max_predictions_per_seq 5 "
         "--dupe_factor 2 --examples_per_shard 100 -i " +
         corpus + " -o " + out + more;
}

TEST(BertCli, MakeDataWritesShardsThatRillTrainStreams) {
  const std::string dir = TestTempPath("nsp");
  fs::create_directories(dir);
  const std::string corpus = WriteTestFile("corpus.txt", Corpus());
  CommandResult r = RunRill(MakeData(corpus, dir + "/pretrain"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("pass 2/2: "));
  EXPECT_THAT(r.err, HasSubstr("shard 1/"));
  EXPECT_THAT(r.err, HasSubstr(" examples in "));
  EXPECT_THAT(r.err, HasSubstr("next sentence random in"));
  std::vector<std::string> files = ListDir(dir + "/pretrain");
  ASSERT_GE(files.size(), 14u);  // 7 inputs, at least 2 shards each.
  EXPECT_EQ(files.size() % 7, 0u);
  EXPECT_EQ(files[0], "attention_mask-00000.npy");
  // The same seed gives the same bytes.
  r = RunRill(MakeData(corpus, dir + "/again"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& f : files) {
    EXPECT_EQ(ReadTestFile(dir + "/pretrain/" + f),
              ReadTestFile(dir + "/again/" + f))
        << f;
  }
  // The example config trains on the directory as make-data left it.
  for (const char* f : {"nsp_tiny.pbtxt", "nsp_tiny.train.pbtxt"}) {
    fs::copy_file(std::string("examples/bert/") + f, dir + "/" + f);
  }
  r = RunRill("train " + dir + "/nsp_tiny.train.pbtxt -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("step 300/300"));
  EXPECT_THAT(r.out, HasSubstr("val_loss"));
}

// Issue 15 item 4: rill train's peak RSS does not grow with the shards it
// streams. Children's peak RSS (getrusage) is a maximum over all waited-for
// children, so the small run goes first and the large one may only raise it.
TEST(BertCli, TrainingMemoryStaysFlatAsTheShardsGrowTenfold) {
#if RILL_UNDER_ASAN
  GTEST_SKIP() << "ASan keeps freed memory in quarantine, so peak RSS grows "
                  "with every byte streamed";
#endif
  const std::string corpus =
      WriteTestFile("flat_corpus.txt", Corpus() + Corpus() + Corpus());
  int64_t bytes[2] = {0, 0};
  long peak_kb[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string dir = TestTempPath(i == 0 ? "flat1" : "flat10");
    fs::create_directories(dir);
    CommandResult r = RunRill(
        std::string("bert make-data --vocab ") + kVocab + " --lowercase -i " +
        corpus + " -o " + dir + "/pretrain --examples_per_shard 500" +
        (i == 0 ? " --dupe_factor 1" : " --dupe_factor 10"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& e : fs::directory_iterator(dir + "/pretrain")) {
      bytes[i] += static_cast<int64_t>(fs::file_size(e.path()));
    }
    for (const char* f : {"nsp_tiny.pbtxt", "nsp_tiny.train.pbtxt"}) {
      fs::copy_file(std::string("examples/bert/") + f, dir + "/" + f);
    }
    r = RunRill("train " + dir + "/nsp_tiny.train.pbtxt -o " + dir + "/out");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    struct rusage usage;
    ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &usage), 0);
    peak_kb[i] = usage.ru_maxrss;
  }
  ASSERT_GT(bytes[1], 8 * bytes[0]);
  // The bound arrays (token_type_ids, attention_mask, next_sentence_labels)
  // are over half of the bytes: loaded into memory, they would raise the
  // peak by more than twice the bound below.
  ASSERT_GT(bytes[1] - bytes[0], int64_t{16} << 20);
  EXPECT_LT((peak_kb[1] - peak_kb[0]) * 1024, (bytes[1] - bytes[0]) / 4)
      << "peak RSS " << peak_kb[0] << " kB -> " << peak_kb[1]
      << " kB for shards of " << bytes[0] << " -> " << bytes[1] << " bytes";
}

// Counts of one read as English ("1 document", not "1 documents").
TEST(BertCli, MakeDataSummaryCountsOneInTheSingular) {
  const std::string corpus =
      WriteTestFile("one_doc.txt", "the cat sat .\nthe dog ran .\n");
  CommandResult r = RunRill(std::string("bert make-data --vocab ") + kVocab +
                            " --lowercase --max_seq_length 16 "
                            "--max_predictions_per_seq 2 -i " +
                            corpus + " -o " + TestTempPath("one_doc"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(corpus + ": 1 document, 2 sentences, 8 tokens"));
  EXPECT_THAT(r.err, HasSubstr(" in 1 shard; "));
}

TEST(BertCli, BadInputWritesNothing) {
  const std::string good = WriteTestFile("good.txt", Corpus());
  const std::string one_sentence_documents = WriteTestFile(
      "one.txt", "one sentence .\n\nanother one .\n\n\nand a third .\n");
  const std::string no_mask =
      WriteTestFile("no_mask.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\n");
  const std::string twice = WriteTestFile(
      "twice.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nthe\n");
  const std::string v = std::string(" --vocab ") + kVocab;
  struct Case {
    std::string args, message;
    int exit_code;
  };
  const std::string out = TestTempPath("never");
  const std::string o = " -o " + out;
  for (const Case& c : std::vector<Case>{
           {"--vocab " + no_mask + " -i " + good + o,
            no_mask + ": missing [MASK]", 1},
           {"--vocab " + twice + " -i " + good + o,
            twice + ":8: 'the' is listed twice (also on line 6)", 1},
           {v + " -i " + one_sentence_documents + o,
            one_sentence_documents + ": no document has two sentences", 1},
           {v + " -i " + good + o + " --max_predictions_per_seq 0",
            "--max_predictions_per_seq: 0: must be >= 1", 2},
           {v + " -i " + good + o + " --max_seq_length 4",
            "--max_seq_length: 4: must be >= 5: [CLS] A [SEP] B [SEP] takes 3 "
            "special tokens",
            2},
           {v + " -i " + TestTempPath("missing.txt") + o,
            TestTempPath("missing.txt") + ": cannot open", 1},
           {v + " -i " + TestTempPath("") + o,
            TestTempPath("") + ": not a regular file", 1},
           {" --vocab " + TestTempPath("missing_vocab.txt") + " -i " + good + o,
            TestTempPath("missing_vocab.txt") + ": cannot open", 1},
           {v + " -i " + good, "make-data needs -o", 2},
           {v + " -i " + good + o + " --examples_per_shard 0",
            "--examples_per_shard 0: give a whole number >= 1", 2},
           {v + " -i " + good + o + " --mode bert", "'bert' is not a mode", 2},
       }) {
    CommandResult r = RunRill("bert make-data " + c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args;
    EXPECT_FALSE(fs::exists(out)) << c.args;
    EXPECT_FALSE(fs::exists(out + ".partial")) << c.args;
  }
  CommandResult r = RunRill("bert make-dota" + v + " -i " + good + o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("'make-dota' is not a bert subcommand"));
}

TEST(BertCli, RefusesADirectoryThatHoldsFilesBeforeAnyWork) {
  const std::string dir = TestTempPath("taken");
  fs::create_directories(dir);
  WriteTestFile("taken/keep.txt", "mine");
  CommandResult r = RunRill(MakeData(WriteTestFile("c.txt", Corpus()), dir));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir + ": exists and is not empty"));
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"keep.txt"});
}

}  // namespace
}  // namespace rill

// `rill tokenize` end to end: ids and pieces, stdin, the vocabulary builder,
// and its errors (command-line mistakes exit 2, bad input exits 1 naming the
// file and line, and a failed build writes nothing).

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr char kVocab[] = "examples/bert/bert-base-uncased-vocab.txt";

std::string Write(const std::string& name, const std::string& text) {
  std::string path = TestTempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const std::string kText = "Hello, World! The unaffable café.\n\n中文 🙂\n";

TEST(TokenizeCli, IdsAndPiecesPerLine) {
  std::string in = Write("text.txt", kText);
  CommandResult ids = RunRill(std::string("tokenize --vocab ") + kVocab +
                              " --lowercase -i " + in);
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out,
            "7592 1010 2088 999 1996 14477 20961 3468 7668 1012\n\n1746 1861 "
            "100\n");
  CommandResult pieces = RunRill(std::string("tokenize --vocab ") + kVocab +
                                 " --lowercase --pieces < " + in);
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  EXPECT_EQ(pieces.out,
            "hello , world ! the una ##ffa ##ble cafe .\n\n中 文 [UNK]\n");
  CommandResult cased = RunRill(std::string("tokenize --vocab=") + kVocab +
                                " --mode hf --pieces -i " + in);
  ASSERT_EQ(cased.exit_code, 0) << cased.err;
  EXPECT_EQ(cased.out,
            "[UNK] , [UNK] ! [UNK] una ##ffa ##ble [UNK] .\n\n中 文 [UNK]\n");
}

TEST(TokenizeCli, CommandLineMistakesExit2) {
  const std::string v = std::string(" --vocab ") + kVocab;
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"tokenize", "name the vocabulary with --vocab"},
           {"tokenize" + v + " --mode bert", "'bert' is not a mode"},
           {"tokenize" + v + " --frobnicate", "unknown flag '--frobnicate'"},
           {"tokenize" + v + " --max_input_chars_per_word 0",
            "--max_input_chars_per_word 0: give a whole number"},
           {"tokenize" + v + " -o x.txt", "-o is for --build_vocab"},
           {"tokenize --build_vocab ten -o x.txt",
            "--build_vocab ten: give a whole number"},
           {"tokenize --build_vocab 100", "-o FILE"},
           {"tokenize --build_vocab 100 -o x.txt" + v, "takes no --vocab"},
           {"tokenize" + v + " extra", "Usage: rill tokenize"},
       }) {
    CommandResult r = RunRill(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args;
  }
}

TEST(TokenizeCli, BadInputExits1NamingTheFileAndLine) {
  std::string bad = Write("bad.txt", "fine\nstill fine\nnot \xff fine\n");
  CommandResult r =
      RunRill(std::string("tokenize --vocab ") + kVocab + " -i " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad + ":3: not valid UTF-8"));
  EXPECT_EQ(r.out, "");
  r = RunRill(std::string("tokenize --vocab ") + kVocab + " < " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("<stdin>:3: not valid UTF-8"));
  std::string dup =
      Write("dup_vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nx\nx\n");
  r = RunRill("tokenize --vocab " + dup + " -i " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dup + ":7: 'x' is listed twice"));
  std::string nospecial = Write("nospecial.txt", "a\nb\n");
  r = RunRill("tokenize --vocab " + nospecial + " -i " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing [PAD], [UNK], [CLS], [SEP], [MASK]"));
  r = RunRill(std::string("tokenize --vocab ") + kVocab + " -i " +
              TestTempPath("absent.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("absent.txt"));
}

TEST(TokenizeCli, BuildVocabThenTokenizeWithIt) {
  std::string corpus = Write(
      "corpus.txt",
      "low low low low low lower lower\nnewest newest newest newest newest "
      "newest\n\nwidest widest widest\n");
  std::string out = TestTempPath("built_vocab.txt");
  CommandResult r =
      RunRill("tokenize --build_vocab 20 -i " + corpus + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("20 tokens (5 special, 11 character pieces, 4 "
                               "merged) from 16 words, 4 distinct"));
  EXPECT_EQ(ReadTestFile(out),
            "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n##e\n##w\n##s\n##t\n##o\nl\n"
            "n\n##d\n##i\nw\n##r\n##es\n##est\n##ow\nlow\n");
  r = RunRill("tokenize --vocab " + out + " --pieces < " + corpus);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("low low low low low low ##e ##r low ##e ##r\n"
                               "n ##e ##w ##est"));
  // Too small for the corpus's characters: an error, and nothing written.
  std::string small = TestTempPath("small_vocab.txt");
  r = RunRill("tokenize --build_vocab 10 -i " + corpus + " -o " + small);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("needs at least 16 entries, not 10"));
  EXPECT_FALSE(std::ifstream(small).good());
}

TEST(TokenizeCli, HelpListsTheFlags) {
  CommandResult r = RunRill("tokenize --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--vocab", "--lowercase", "--mode", "--pieces",
                           "--build_vocab", "--max_input_chars_per_word"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace rill

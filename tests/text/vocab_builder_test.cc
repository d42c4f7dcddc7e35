#include "text/vocab_builder.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text/wordpiece.h"

namespace rill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The classic byte-pair example: low x5, lower x2, newest x6, widest x3.
const std::vector<std::string> kCorpus = {
    "low low low low low lower lower",
    "newest newest newest newest newest newest", "", "widest widest widest"};

VocabBuilderOptions Options(int64_t size) {
  VocabBuilderOptions o;
  o.vocab_size = size;
  return o;
}

// Worked by hand from the algorithm in vocab_builder.h. Characters by
// count: ##e 17, ##w 13, ##s 9, ##t 9, ##o 7, l 7, n 6, ##d 3, ##i 3, w 3,
// ##r 2 (ties by bytes: "##o" < "l"). Pairs: (##e,##s) and (##s,##t) both
// occur 9 times, and ##e has the earlier id, so "##es" comes first; then
// (##es,##t) 9 -> "##est"; then (##o,##w) and (l,##o) 7, ##o first ->
// "##ow"; then (l,##ow) 7 -> "low".
TEST(VocabBuilderTest, WorkedExample) {
  VocabBuildStats stats;
  absl::StatusOr<std::vector<std::string>> vocab =
      BuildWordPieceVocab(kCorpus, "corpus", Options(20), &stats);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_THAT(*vocab,
              ElementsAre("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##e",
                          "##w", "##s", "##t", "##o", "l", "n", "##d", "##i",
                          "w", "##r", "##es", "##est", "##ow", "low"));
  EXPECT_EQ(stats.words, 16);
  EXPECT_EQ(stats.distinct_words, 4);
  EXPECT_EQ(stats.characters, 11);
  EXPECT_EQ(stats.merged, 4);
}

TEST(VocabBuilderTest, DeterministicAndTokenizesItsCorpusWithoutUnk) {
  const std::vector<std::string> corpus = {
      "The quick brown fox jumps over the lazy dog.",
      "Pack my box with five dozen liquor jugs!",
      "Naïve café owners don't re-read résumés; 中文 too.",
      "the the the then there these those thesis"};
  VocabBuilderOptions o = Options(80);
  o.tokenizer.lowercase = true;
  absl::StatusOr<std::vector<std::string>> a =
      BuildWordPieceVocab(corpus, "c", o);
  absl::StatusOr<std::vector<std::string>> b =
      BuildWordPieceVocab(corpus, "c", o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  // Fewer than 80: the merges stop when no pair occurs twice.
  EXPECT_LE(a->size(), 80u);
  EXPECT_GT(a->size(), 50u);
  absl::StatusOr<Vocab> vocab = Vocab::FromTokens(*a, "built");
  ASSERT_TRUE(vocab.ok()) << vocab.status();  // No duplicates.
  EXPECT_GE(vocab->Find("the"), 5);
  BertTokenizer tokenizer(&*vocab, o.tokenizer);
  for (const std::string& line : corpus) {
    std::vector<int32_t> ids;
    ASSERT_TRUE(tokenizer.Encode(line, &ids).ok());
    for (int32_t id : ids) EXPECT_NE(id, vocab->unk_id()) << line;
  }
}

TEST(VocabBuilderTest, StopsWhenNoPairRepeats) {
  absl::StatusOr<std::vector<std::string>> vocab =
      BuildWordPieceVocab({"abc abd"}, "c", Options(1000));
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  // a, ##b, ##c, ##d; then (a,##b) occurs twice -> "ab"; nothing else does.
  EXPECT_THAT(*vocab, ElementsAre("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                  "##b", "a", "##c", "##d", "ab"));
}

TEST(VocabBuilderTest, Errors) {
  absl::StatusOr<std::vector<std::string>> small =
      BuildWordPieceVocab(kCorpus, "corpus.txt", Options(10));
  ASSERT_FALSE(small.ok());
  EXPECT_THAT(small.status().message(),
              HasSubstr("corpus.txt has 11 character pieces"));
  EXPECT_THAT(small.status().message(), HasSubstr("at least 16 entries"));
  absl::StatusOr<std::vector<std::string>> empty =
      BuildWordPieceVocab({"", " \t ", "\x01"}, "blank.txt", Options(100));
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("blank.txt: no words"));
  absl::StatusOr<std::vector<std::string>> bad =
      BuildWordPieceVocab({"ok", "a \xff"}, "bad.txt", Options(100));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("bad.txt:2: not valid UTF-8"));
}

TEST(VocabBuilderTest, WordsOverTheLimitAreLeftOut) {
  VocabBuilderOptions o = Options(100);
  o.tokenizer.max_input_chars_per_word = 3;
  VocabBuildStats stats;
  absl::StatusOr<std::vector<std::string>> vocab =
      BuildWordPieceVocab({"abc abcd xyzzy"}, "c", o, &stats);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(stats.words, 1);
  EXPECT_EQ(stats.skipped_words, 2);
  EXPECT_THAT(*vocab, ElementsAre("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                  "##b", "##c", "a"));
}

}  // namespace
}  // namespace rill

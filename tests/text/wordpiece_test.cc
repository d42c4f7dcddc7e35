#include "text/wordpiece.h"

#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/alloc_counter.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr char kSmallVocab[] = "tests/text/testdata/small_vocab.txt";
constexpr char kBertVocab[] = "examples/bert/bert-base-uncased-vocab.txt";

const Vocab& LoadedVocab(const std::string& path) {
  static auto* vocabs = new std::map<std::string, Vocab>;
  auto it = vocabs->find(path);
  if (it == vocabs->end()) {
    absl::StatusOr<Vocab> v = Vocab::Load(path);
    EXPECT_TRUE(v.ok()) << v.status();
    it = vocabs->emplace(path, std::move(*v)).first;
  }
  return it->second;
}

std::string Pieces(const Vocab& vocab, const std::vector<int32_t>& ids) {
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(vocab.token(id));
  return absl::StrJoin(pieces, " ");
}

std::string Tokenize(const std::string& text, bool lowercase,
                     BertMode mode = BertMode::kGoogle,
                     const std::string& vocab_path = kBertVocab) {
  const Vocab& vocab = LoadedVocab(vocab_path);
  BertTokenizer tokenizer(&vocab, {lowercase, mode, 0});
  std::vector<int32_t> ids;
  absl::Status status = tokenizer.Encode(text, &ids);
  EXPECT_TRUE(status.ok()) << status;
  return Pieces(vocab, ids);
}

// The independent Python reference's results on hard text
// (make_wordpiece_goldens.py): accents, CJK, emoji, controls, punctuation
// runs, words over the limit, empty lines, [UNK]-heavy text, both modes,
// lowercase on and off, two vocabularies.
TEST(WordPieceTest, MatchesThePythonReference) {
  std::string file = ReadTestFile("tests/text/testdata/wordpiece_cases.tsv");
  ASSERT_FALSE(file.empty());
  const std::map<std::string, std::string> vocab_paths = {
      {"small", kSmallVocab}, {"bert", kBertVocab}};
  int cases = 0, failures = 0;
  for (absl::string_view line : absl::StrSplit(file, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    ASSERT_EQ(f.size(), 7u) << line;
    const Vocab& vocab = LoadedVocab(vocab_paths.at(f[0]));
    BertTokenizerOptions options;
    options.mode = f[1] == "hf" ? BertMode::kHf : BertMode::kGoogle;
    options.lowercase = f[2] == "1";
    options.max_input_chars_per_word = std::stoi(f[3]);
    const std::string text = absl::HexStringToBytes(f[4]);
    BertTokenizer tokenizer(&vocab, options);
    std::vector<int32_t> ids;
    ASSERT_TRUE(tokenizer.Encode(text, &ids).ok()) << f[4];
    ++cases;
    if (absl::StrJoin(ids, " ") != f[5]) {
      ++failures;
      ADD_FAILURE() << f[0] << " " << f[1] << " lowercase=" << f[2]
                    << " max=" << f[3] << " text '" << text
                    << "'\n got: " << Pieces(vocab, ids) << "\nwant: " << f[6];
    }
  }
  EXPECT_GT(cases, 1900);
  EXPECT_EQ(failures, 0);
}

// Results quoted from BERT's own documentation and vocabulary.
TEST(WordPieceTest, KnownBertBaseUncasedResults) {
  const Vocab& vocab = LoadedVocab(kBertVocab);
  EXPECT_EQ(vocab.size(), 30522);
  EXPECT_EQ(vocab.Find("[PAD]"), 0);
  EXPECT_EQ(vocab.Find("[UNK]"), 100);
  EXPECT_EQ(vocab.Find("[CLS]"), 101);
  EXPECT_EQ(vocab.Find("[SEP]"), 102);
  EXPECT_EQ(vocab.Find("[MASK]"), 103);
  EXPECT_EQ(vocab.Find("the"), 1996);
  EXPECT_EQ(Tokenize("Hello, World!", true), "hello , world !");
  EXPECT_EQ(Tokenize("unaffable", true), "una ##ffa ##ble");
  EXPECT_EQ(Tokenize("Héllo naïve CAFÉ", true), "hello naive cafe");
  EXPECT_EQ(Tokenize("中文", true), "中 文");
  // Cased text against an uncased vocabulary: capitals are unknown.
  EXPECT_EQ(Tokenize("Hello world", false), "[UNK] world");
}

TEST(WordPieceTest, ModesDifferInNfcAndTheWordLimit) {
  // Not lowercasing, google keeps "e" + U+0301 apart; hf composes "é".
  EXPECT_EQ(Tokenize("cafe\u0301", false, BertMode::kGoogle, kSmallVocab),
            "cafe\u0301");
  EXPECT_EQ(Tokenize("cafe\u0301", false, BertMode::kHf, kSmallVocab), "café");
  const std::string word(150, 'a');
  EXPECT_NE(Tokenize(word, true, BertMode::kGoogle), "[UNK]");
  EXPECT_EQ(Tokenize(word, true, BertMode::kHf), "[UNK]");
  EXPECT_EQ(DefaultMaxInputCharsPerWord(BertMode::kGoogle), 200);
  EXPECT_EQ(DefaultMaxInputCharsPerWord(BertMode::kHf), 100);
  EXPECT_EQ(*ParseBertMode("hf"), BertMode::kHf);
  EXPECT_THAT(ParseBertMode("HF").status().message(),
              HasSubstr("choose google or hf"));
}

TEST(WordPieceTest, BasicTokenizerWords) {
  const Vocab& vocab = LoadedVocab(kSmallVocab);
  struct Case {
    std::string text;
    bool lowercase;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"", false, {}},
      {" \t\r\n ", false, {}},
      {std::string("a\0b\xef\xbf\xbd"
                   "c",
                   7),
       false,
       {"abc"}},
      {"x\u200by\u00adz", false, {"xyz"}},
      {"a\u2028b\u3000c", false, {"a", "b", "c"}},
      {"ab中cd", false, {"ab", "中", "cd"}},
      {"のカ", false, {"のカ"}},  // Kana are not spaced.
      {"don't!!", false, {"don", "'", "t", "!", "!"}},
      {"¿Qué?", true, {"¿", "que", "?"}},
      {"İ", true, {"i"}},
      {"\u1fef", true, {"`"}},  // NFD makes it ASCII punctuation.
      {"\u1fef", false, {"\u1fef"}},
  };
  for (const Case& c : cases) {
    BertTokenizer tokenizer(&vocab, {c.lowercase, BertMode::kGoogle, 0});
    absl::StatusOr<std::vector<std::string>> words =
        tokenizer.BasicTokenize(c.text);
    ASSERT_TRUE(words.ok()) << words.status();
    EXPECT_EQ(*words, c.words) << c.text;
  }
}

TEST(WordPieceTest, InvalidUtf8IsAnErrorAndAddsNothing) {
  const Vocab& vocab = LoadedVocab(kBertVocab);
  BertTokenizer tokenizer(&vocab, {true, BertMode::kGoogle, 0});
  for (const std::string& bad :
       {std::string("ok \xff"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"), std::string("abc \xf4\x90\x80\x80"),
        std::string("\xe4\xb8")}) {
    std::vector<int32_t> ids = {7};
    absl::Status status = tokenizer.Encode(bad, &ids);
    EXPECT_FALSE(status.ok()) << absl::BytesToHexString(bad);
    EXPECT_THAT(status.message(), HasSubstr("not valid UTF-8"));
    EXPECT_EQ(ids, std::vector<int32_t>{7});
  }
}

TEST(WordPieceTest, AsciiTextAllocatesNothingOnceWarm) {
  if (!AllocationCountingWorks()) GTEST_SKIP() << "not under ASan";
  const Vocab& vocab = LoadedVocab(kBertVocab);
  BertTokenizer tokenizer(&vocab, {true, BertMode::kGoogle, 0});
  const std::string line =
      "The quick brown fox, unaffable as ever, jumped over 13 lazy dogs!";
  std::vector<int32_t> ids;
  ids.reserve(1000);
  ASSERT_TRUE(tokenizer.Encode(line, &ids).ok());
  AllocationCounts counts = CountAllocations([&] {
    for (int i = 0; i < 10; ++i) {
      ids.clear();
      (void)tokenizer.Encode(line, &ids);
    }
  });
  EXPECT_EQ(counts.rill, 0);
}

// ---- Vocab loading ----

std::string WriteVocab(const std::string& name, const std::string& text) {
  std::string path = TestTempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

constexpr char kSpecials[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

TEST(VocabTest, LoadErrorsNameTheFileAndLine) {
  struct Case {
    std::string name, text;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {"dup.txt",
       absl::StrCat(kSpecials, "a\nb\na\n"),
       {"dup.txt:8: 'a' is listed twice (also on line 6)"}},
      {"nomask.txt",
       "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\n",
       {"nomask.txt: missing [MASK]", "[PAD], [UNK], [CLS], [SEP] and [MASK]"}},
      {"none.txt", "x\ny\n", {"missing [PAD], [UNK], [CLS], [SEP], [MASK]"}},
      {"utf8.txt",
       absl::StrCat(kSpecials, "ok\nb\xff\n"),
       {"utf8.txt:7: not valid UTF-8"}},
      {"empty_line.txt",
       absl::StrCat(kSpecials, "a\n\nb\n"),
       {"empty_line.txt:7: empty token"}},
      {"empty.txt", "", {"empty.txt: missing [PAD]"}},
  };
  for (const Case& c : cases) {
    std::string path = WriteVocab(c.name, c.text);
    absl::StatusOr<Vocab> v = Vocab::Load(path);
    ASSERT_FALSE(v.ok()) << c.name;
    for (const std::string& m : c.message) {
      EXPECT_THAT(v.status().message(), HasSubstr(m)) << c.name;
    }
  }
  absl::StatusOr<Vocab> missing = Vocab::Load(TestTempPath("no/such.txt"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("no/such.txt"));
}

TEST(VocabTest, CrlfLinesAndOnlyUnkWhenSpecialsAreOptional) {
  absl::StatusOr<Vocab> crlf = Vocab::Load(WriteVocab(
      "crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nx\r\n##y"));
  ASSERT_TRUE(crlf.ok()) << crlf.status();
  EXPECT_EQ(crlf->size(), 7);
  EXPECT_EQ(crlf->Find("x"), 5);
  EXPECT_EQ(crlf->FindContinuation("y"), 6);
  EXPECT_EQ(crlf->Find("##y"), 6);
  absl::StatusOr<Vocab> unk_only =
      Vocab::FromTokens({"x", "[UNK]"}, "<vocab>", /*require_special=*/false);
  ASSERT_TRUE(unk_only.ok()) << unk_only.status();
  EXPECT_EQ(unk_only->unk_id(), 1);
  absl::StatusOr<Vocab> no_unk =
      Vocab::FromTokens({"x"}, "<vocab>", /*require_special=*/false);
  ASSERT_FALSE(no_unk.ok());
  EXPECT_THAT(no_unk.status().message(), HasSubstr("<vocab>: missing [UNK];"));
}

}  // namespace
}  // namespace rill

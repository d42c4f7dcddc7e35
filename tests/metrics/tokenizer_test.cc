#include "metrics/tokenizer.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

// Debian's Abseil has its own string_view, so the tests join and split
// std::string_views themselves.
std::string Join(const std::vector<std::string_view>& parts,
                 std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

struct TokCase {
  std::string input;
  std::string expected;
};

TEST(TokenizerTest, ParseAndNameRoundTrip) {
  for (Tokenizer t : {Tokenizer::kNone, Tokenizer::k13a, Tokenizer::kIntl,
                      Tokenizer::kChar}) {
    auto parsed = ParseTokenizer(TokenizerName(t));
    ASSERT_TRUE(parsed.ok()) << TokenizerName(t);
    EXPECT_EQ(*parsed, t);
  }
  auto bad = ParseTokenizer("zh");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'zh'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("none, 13a, intl, char"));
}

// Expected values follow sacreBLEU's tokenizer_13a.py and tokenizer_re.py.
TEST(TokenizerTest, Thirteen_a) {
  const std::vector<TokCase> cases = {
      // Punctuation and symbols of the first rule are split off; the
      // apostrophe and the dash are not in its set.
      {"Hello, world!", "Hello , world !"},
      {"It wasn't surprising.", "It wasn't surprising ."},
      {"(a) [b] {c} <d>", "( a ) [ b ] { c } < d >"},
      {"x/y@z", "x / y @ z"},
      {"$5 + 3 = 8", "$ 5 + 3 = 8"},
      // Period and comma: split unless between digits; a final period after
      // a number is split because 13a pads the line with spaces.
      {"3.14 and 1,000,000.", "3.14 and 1,000,000 ."},
      {"end 2019.", "end 2019 ."},
      {"e.g., U.S.A.", "e . g . , U . S . A ."},
      {"a.,b", "a . , b"},
      {"1.,2", "1 . , 2"},
      // Dash: split only after a digit.
      {"pages 10-20", "pages 10 - 20"},
      {"a-b 5-x x-5", "a-b 5 - x x-5"},
      // HTML entities, one replace after another.
      {"x&amp;y", "x & y"},
      {"&quot;q&quot;", "\" q \""},
      {"&lt;tag&gt;", "< tag >"},
      {"&amp;lt;", "<"},
      // <skipped>, hyphenated line breaks and newlines.
      {"a<skipped>b", "ab"},
      {"line-\nbreak", "linebreak"},
      {"two\nlines", "two lines"},
      // Whitespace as Python's str.split sees it.
      {"  many   spaces  ", "many spaces"},
      {"a\u00a0b\u3000c", "a b c"},
      {"", ""},
  };
  for (const TokCase& c : cases) {
    EXPECT_EQ(Tokenize(Tokenizer::k13a, c.input), c.expected) << c.input;
  }
}

// Expected values follow sacreBLEU's tokenizer_intl.py (regex \p{P}, \p{S},
// \P{N}).
TEST(TokenizerTest, Intl) {
  const std::vector<TokCase> cases = {
      {"«Bonjour», dit-il… ¿Qué?", "« Bonjour » , dit - il … ¿ Qué ?"},
      {"中文，标点。", "中文 ， 标点 。"},
      {"€10 £5 ©2020", "€ 10 £ 5 © 2020"},
      {"a+b=c", "a + b = c"},
      {"x_y", "x _ y"},
      // Punctuation between digits stays; so does a final period after a
      // number (intl does not pad the line, as in mteval-v14).
      {"3.14 1,000.", "3.14 1,000."},
      {"end 2019.", "end 2019."},
      // Numbers of every kind (No, Nl) are not punctuation or symbols.
      {"½ ² Ⅻ", "½ ² Ⅻ"},
      {"It wasn't surprising.", "It wasn ' t surprising ."},
      {"😀x", "😀 x"},
  };
  for (const TokCase& c : cases) {
    EXPECT_EQ(Tokenize(Tokenizer::kIntl, c.input), c.expected) << c.input;
  }
}

// sacreBLEU's tokenizer_char.py joins every character with a space; BLEU
// then splits on whitespace, so spaces vanish.
TEST(TokenizerTest, Char) {
  const std::vector<TokCase> cases = {
      {"abc", "a b c"}, {"a b", "a b"}, {"zahăr, 1", "z a h ă r , 1"},
      {"😀x", "😀 x"},    {" \t", ""},
  };
  for (const TokCase& c : cases) {
    EXPECT_EQ(Tokenize(Tokenizer::kChar, c.input), c.expected) << c.input;
  }
}

TEST(TokenizerTest, NoneOnlyNormalisesWhitespace) {
  EXPECT_EQ(Tokenize(Tokenizer::kNone, "  Hello,  world. "), "Hello, world.");
}

TEST(SplitWhitespaceTest, PythonWhitespace) {
  // Python's isspace: ASCII controls 9-13 and 28-31, NEL, NBSP, the Zs
  // spaces, LS and PS; not ZERO WIDTH SPACE or MONGOLIAN VOWEL SEPARATOR.
  const std::string s =
      "a\x1c"
      "b\u0085c\u00a0d\u2028e\u2009f\u3000g\u200bh\u180ei";
  std::vector<std::string_view> tokens = SplitWhitespace(s);
  EXPECT_EQ(Join(tokens, "|"), "a|b|c|d|e|f|g\u200bh\u180ei");
  EXPECT_TRUE(SplitWhitespace(" \t\n ").empty());
  EXPECT_TRUE(IsPythonSpace(0x205F));
  EXPECT_FALSE(IsPythonSpace(0xFEFF));
}

TEST(SplitWhitespaceTest, RStrip) {
  EXPECT_EQ(RStripWhitespace("  a b \t\u3000"), "  a b");
  EXPECT_EQ(RStripWhitespace(" \n"), "");
  EXPECT_EQ(RStripWhitespace("x\u200b"), "x\u200b");
}

TEST(Utf8Test, Validity) {
  struct Case {
    std::string bytes;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"plain", true},
      {"zah\xc4\x83r", true},
      {"\xf0\x9f\x98\x80", true},       // U+1F600
      {"\xf4\x8f\xbf\xbf", true},       // U+10FFFF
      {"\xc3", false},                  // truncated
      {"\x80", false},                  // lone continuation byte
      {"\xc0\xaf", false},              // overlong '/'
      {"\xe0\x80\xaf", false},          // overlong
      {"\xed\xa0\x80", false},          // surrogate U+D800
      {"\xf4\x90\x80\x80", false},      // past U+10FFFF
      {"\xf8\x88\x80\x80\x80", false},  // 5-byte form
      {"ok\xff", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidUtf8(c.bytes), c.valid) << absl::CEscape(c.bytes);
  }
  EXPECT_EQ(FindInvalidUtf8("ab\xe2\x82"), 2u);
  EXPECT_FALSE(FindInvalidUtf8("ab\xe2\x82\xac").has_value());
}

TEST(Utf8Test, InvalidBytesPassThroughTokenizers) {
  const std::string bad = "a,\xff.b";
  EXPECT_EQ(Tokenize(Tokenizer::k13a, bad), "a , \xff . b");
  EXPECT_EQ(Tokenize(Tokenizer::kIntl, bad), "a , \xff . b");
  EXPECT_EQ(Tokenize(Tokenizer::kChar, bad), "a , \xff . b");
  EXPECT_EQ(Lowercase("A\xffZ\xc3\x89"), "a\xffz\xc3\xa9");
}

TEST(LowercaseTest, FullUnicodeMapping) {
  EXPECT_EQ(Lowercase("The DOG"), "the dog");
  // Final sigma, decided by the neighbouring letters.
  EXPECT_EQ(Lowercase("ΣΑΣ ΑΣ."), "σας ας.");
  EXPECT_EQ(Lowercase("AΣ"), "aς");
  // U+0130 lowercases to i + COMBINING DOT ABOVE, as Python's str.lower.
  EXPECT_EQ(Lowercase("İ"), "i\u0307");
  EXPECT_EQ(Lowercase("PRODUCŢIA Producția"), "producţia producția");
}

// The committed goldens from make_tokenizer_goldens.py: an independent
// Python implementation using the `re` and `regex` engines.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
  }
  return out;
}

TEST(TokenizerGoldensTest, MatchPython) {
  const std::string text =
      ReadTestFile("tests/metrics/testdata/tokenizer_goldens.txt");
  ASSERT_FALSE(text.empty());
  std::map<std::string, int> counts;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string_view> f = Split(line, '\t');
    ASSERT_EQ(f.size(), 3u) << line;
    const std::string kind(f[0]), input = Unescape(f[1]),
                                  expected = Unescape(f[2]);
    ++counts[kind];
    std::string got;
    if (kind == "lower") {
      got = Lowercase(input);
    } else if (kind == "split") {
      got = Join(SplitWhitespace(input), " ");
    } else if (kind == "rstrip") {
      got = std::string(RStripWhitespace(input));
    } else {
      auto t = ParseTokenizer(kind);
      ASSERT_TRUE(t.ok()) << kind;
      got = Tokenize(*t, input);
      std::string unjoined;
      TokenizeUnjoined(*t, input, &unjoined);
      EXPECT_EQ(Join(SplitWhitespace(unjoined), " "), expected)
          << kind << " unjoined: " << absl::CEscape(input);
    }
    EXPECT_EQ(got, expected) << kind << ": " << absl::CEscape(input);
  }
  for (const char* kind :
       {"13a", "intl", "char", "none", "lower", "split", "rstrip"}) {
    EXPECT_GT(counts[kind], 100) << kind;
  }
}

}  // namespace
}  // namespace rill

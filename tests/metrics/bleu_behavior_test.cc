// BLEU behaviour beyond sacreBLEU's published vectors: input errors, n-gram
// clipping, reference lengths, custom weights and option validation.

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/bleu.h"
#include "tests/metrics/sacrebleu_example.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

BleuOptions NoTokenizer() {
  BleuOptions o;
  o.tokenizer = Tokenizer::kNone;
  return o;
}

TEST(CorpusBleuErrorsTest, MismatchedLineCounts) {
  auto score = CorpusBleu(kHyps, {kRefs[0], {"only", "two"}}, BleuOptions());
  ASSERT_FALSE(score.ok());
  EXPECT_EQ(score.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(score.status().message(),
            "reference stream 2 has 2 lines but the hypotheses have 3");
}

TEST(CorpusBleuErrorsTest, InvalidUtf8NamesStreamAndLine) {
  std::vector<std::string> hyps = kHyps;
  hyps[1] = "It wasn\xe2\x80t";  // truncated U+2019
  auto score = CorpusBleu(hyps, kRefs, BleuOptions());
  ASSERT_FALSE(score.ok());
  EXPECT_EQ(score.status().message(),
            "hypotheses, line 2: invalid UTF-8 at byte 7");

  std::vector<std::vector<std::string>> refs = kRefs;
  refs[1][2] = "The \xc0\xaf man";  // overlong '/'
  score = CorpusBleu(kHyps, refs, BleuOptions());
  ASSERT_FALSE(score.ok());
  EXPECT_EQ(score.status().message(),
            "reference stream 2, line 3: invalid UTF-8 at byte 4");

  auto sentence = SentenceBleu("ok", {"fine", "bad \xff"}, BleuOptions());
  ASSERT_FALSE(sentence.ok());
  EXPECT_EQ(sentence.status().message(),
            "reference 2: invalid UTF-8 at byte 4");
}

TEST(CorpusBleuErrorsTest, NoReferencesAndBadOptions) {
  EXPECT_FALSE(CorpusBleu(kHyps, {}, BleuOptions()).ok());
  EXPECT_FALSE(SentenceBleu("a", {}, BleuOptions()).ok());
  BleuOptions bad;
  bad.max_order = 0;
  EXPECT_FALSE(CorpusBleu(kHyps, kRefs, bad).ok());
  EXPECT_FALSE(SentenceBleu("a", {"a"}, bad).ok());
}

TEST(CorpusBleuTest, EmptyHypothesesAndEmptyCorpus) {
  auto score = CorpusBleu({"", "", ""}, kRefs, BleuOptions());
  ASSERT_TRUE(score.ok());
  EXPECT_EQ(score->score, 0.0);
  EXPECT_EQ(score->sys_len, 0);
  EXPECT_EQ(score->ref_len, 17);  // the shorter of each pair: 6 + 5 + 6
  EXPECT_EQ(score->bp, 0.0);
  EXPECT_THAT(score->stats.total, ElementsAre(0, 0, 0, 0));

  auto empty =
      CorpusBleu({}, std::vector<std::vector<std::string>>(1), BleuOptions());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->score, 0.0);
  EXPECT_EQ(empty->ratio, 0.0);
}

TEST(SegmentStatsTest, ClipsToMaxCountOverReferences) {
  const std::string_view hyp = "the the the the";
  struct Case {
    std::vector<std::string_view> refs;
    std::vector<double> correct;
  };
  const std::vector<Case> cases = {
      {{"the cat"}, {1, 0, 0, 0}},
      {{"the the dog"}, {2, 1, 0, 0}},
      // Per n-gram the maximum over the references, not the sum.
      {{"the cat", "the the dog"}, {2, 1, 0, 0}},
      {{"the the dog", "the cat the"}, {2, 1, 0, 0}},
      {{"the the the x", "the the"}, {3, 2, 1, 0}},
  };
  for (const Case& c : cases) {
    BleuStats s = SegmentStats(hyp, c.refs, NoTokenizer());
    EXPECT_EQ(s.correct, c.correct) << c.refs[0];
    EXPECT_THAT(s.total, ElementsAre(4, 3, 2, 1));
    EXPECT_EQ(s.sys_len, 4);
  }
}

TEST(SegmentStatsTest, ClosestReferenceLengthTiesGoToShorter) {
  struct Case {
    std::vector<std::string_view> refs;
    int64_t ref_len;
  };
  const std::vector<Case> cases = {
      {{"a b c", "a b c d e"}, 3},   {{"a b c d e", "a b c"}, 3},
      {{"a b c d e", "a b c d"}, 4}, {{"a b", "a b c d e f"}, 2},
      {{"a b c d e f g", "a"}, 1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SegmentStats("a b c d", c.refs, NoTokenizer()).ref_len, c.ref_len)
        << c.refs[0] << " / " << c.refs[1];
  }
}

TEST(SegmentStatsTest, CorpusSumsSegmentStatistics) {
  BleuStats sum;
  for (size_t i = 0; i < kHyps.size(); ++i) {
    sum.Add(SegmentStats(kHyps[i], {kRefs[0][i], kRefs[1][i]}, BleuOptions()));
  }
  auto corpus = CorpusBleu(kHyps, kRefs, BleuOptions());
  ASSERT_TRUE(corpus.ok());
  EXPECT_EQ(sum.correct, corpus->stats.correct);
  EXPECT_EQ(sum.total, corpus->stats.total);
  EXPECT_EQ(ComputeBleu(sum, BleuOptions()).score, corpus->score);
}

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

// Goldens from make_tokenizer_goldens.py: an independent Python version of
// sacreBLEU's preprocessing and segment statistics, on random Unicode text
// with two references. CorpusBleu's reused matcher must agree with a fresh
// SegmentStats per segment.
TEST(SegmentStatsTest, MatchesPythonGoldens) {
  const std::string text =
      ReadTestFile("tests/metrics/testdata/bleu_stats_goldens.txt");
  ASSERT_FALSE(text.empty());
  std::map<std::pair<std::string, bool>, std::vector<std::string>> hyps;
  std::map<std::pair<std::string, bool>, std::vector<std::vector<std::string>>>
      refs;
  std::map<std::pair<std::string, bool>, BleuStats> sums;
  int lines = 0;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    const std::vector<std::string_view> f = Split(line, '\t');
    ASSERT_EQ(f.size(), 6u) << line;
    auto tok = ParseTokenizer(std::string(f[0]));
    ASSERT_TRUE(tok.ok());
    BleuOptions o;
    o.tokenizer = *tok;
    o.lowercase = f[1] == "1";
    const std::string hyp = Unescape(f[2]), ref1 = Unescape(f[3]),
                      ref2 = Unescape(f[4]);
    const BleuStats s = SegmentStats(hyp, {ref1, ref2}, o);
    std::string got = absl::StrCat(s.sys_len, " ", s.ref_len);
    for (double c : s.correct) absl::StrAppend(&got, " ", c);
    for (double t : s.total) absl::StrAppend(&got, " ", t);
    EXPECT_EQ(got, f[5]) << line;
    const auto key = std::make_pair(std::string(f[0]), o.lowercase);
    hyps[key].push_back(hyp);
    refs[key].resize(2);
    refs[key][0].push_back(ref1);
    refs[key][1].push_back(ref2);
    sums[key].Add(s);
    ++lines;
  }
  EXPECT_EQ(lines, 320);
  for (const auto& [key, sum] : sums) {
    BleuOptions o;
    o.tokenizer = *ParseTokenizer(key.first);
    o.lowercase = key.second;
    auto corpus = CorpusBleu(hyps[key], refs[key], o);
    ASSERT_TRUE(corpus.ok()) << corpus.status();
    EXPECT_EQ(corpus->stats.correct, sum.correct) << key.first;
    EXPECT_EQ(corpus->stats.total, sum.total) << key.first;
    EXPECT_EQ(corpus->sys_len, sum.sys_len) << key.first;
    EXPECT_EQ(corpus->ref_len, sum.ref_len) << key.first;
  }
}

TEST(SegmentStatsTest, PreprocessingLowercasesAndRightStrips) {
  BleuOptions o;
  o.lowercase = true;
  EXPECT_EQ(PreprocessSegment("The DOG.  ", o), "the dog .");
  // sacreBLEU right-strips before tokenizing, so a trailing "-\n" is not a
  // hyphenated line break.
  EXPECT_EQ(PreprocessSegment("well-\n", BleuOptions()), "well-");
  EXPECT_EQ(Tokenize(Tokenizer::k13a, "well-\n"), "well");
  BleuStats s = SegmentStats("THE DOG", {"the dog"}, o);
  EXPECT_THAT(s.correct, ElementsAre(2, 1, 0, 0));
}

TEST(ComputeBleuTest, AddKAddsToHigherOrdersOnly) {
  BleuOptions o;
  o.smoothing = Smoothing::kAddK;
  o.smooth_value = 0.5;
  BleuStats in;
  in.correct = {3, 1, 0, 0};
  in.total = {4, 3, 2, 1};
  in.sys_len = in.ref_len = 4;
  BleuScore s = ComputeBleu(in, o);
  EXPECT_THAT(s.stats.correct, ElementsAre(3, 1.5, 0.5, 0.5));
  EXPECT_THAT(s.stats.total, ElementsAre(4, 3.5, 2.5, 1.5));
  const double expected =
      100 * std::exp((std::log(0.75) + std::log(1.5 / 3.5) +
                      std::log(0.5 / 2.5) + std::log(0.5 / 1.5)) /
                     4);
  EXPECT_NEAR(s.score, expected, 1e-9);
}

TEST(ComputeBleuTest, ExpSmoothingDoublesPerZeroOrder) {
  BleuStats in;
  in.correct = {2, 0, 0, 0};
  in.total = {4, 3, 2, 1};
  in.sys_len = in.ref_len = 4;
  BleuScore s = ComputeBleu(in, BleuOptions());
  EXPECT_THAT(s.precisions,
              ElementsAre(50.0, 100.0 / (2 * 3), 100.0 / (4 * 2), 100.0 / 8));
}

TEST(WeightsTest, CustomWeights) {
  auto uniform = CorpusBleu(kHyps, kRefs, BleuOptions());
  ASSERT_TRUE(uniform.ok());
  BleuOptions o;
  o.weights = {0.25, 0.25, 0.25, 0.25};
  auto same = CorpusBleu(kHyps, kRefs, o);
  ASSERT_TRUE(same.ok());
  EXPECT_NEAR(same->score, uniform->score, 1e-12);

  // Unigrams only: BP * p1.
  o.weights = {1, 0, 0, 0};
  auto unigram = CorpusBleu(kHyps, kRefs, o);
  ASSERT_TRUE(unigram.ok());
  EXPECT_NEAR(unigram->score, std::exp(-1.0 / 17) * 100 * 14 / 17, 1e-9);

  // Weights are used as given, not normalised (like NLTK), on precisions
  // as fractions.
  o.weights = {0.5, 0.5, 0.5, 0.5};
  auto doubled = CorpusBleu(kHyps, kRefs, o);
  ASSERT_TRUE(doubled.ok());
  const double log_mean = std::log(uniform->score / 100 / uniform->bp);
  EXPECT_NEAR(doubled->score, 100 * uniform->bp * std::exp(2 * log_mean), 1e-9);
}

// Found by the bleu fuzz target: weights summing to more than 1 were
// applied to precisions in percent, so a perfect match with weights
// 1, 2, ..., 8 scored 100^36.
TEST(WeightsTest, HeavyWeightsKeepTheScoreInRange) {
  BleuOptions o;
  o.max_order = 8;
  o.weights = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<std::string> hyps = {"a b c d e f g h i"};
  auto perfect = CorpusBleu(hyps, {hyps}, o);
  ASSERT_TRUE(perfect.ok());
  EXPECT_NEAR(perfect->score, 100, 1e-9);
  auto partial = CorpusBleu(hyps, {{"a b c d e f g h x"}}, o);
  ASSERT_TRUE(partial.ok());
  EXPECT_GT(partial->score, 0);
  EXPECT_LT(partial->score, 100);
}

TEST(WeightsTest, EffectiveOrderRescalesTheObservedOrders) {
  // "test" against "a test": only unigrams exist, so eff_order = 1.
  BleuOptions o;
  o.tokenizer = Tokenizer::kNone;
  o.smoothing = Smoothing::kFloor;
  o.smooth_value = 0.01;
  o.effective_order = true;
  o.weights = {0.1, 0.2, 0.3, 0.4};
  auto score = CorpusBleu({"test"}, {{"a test"}}, o);
  ASSERT_TRUE(score.ok());
  EXPECT_NEAR(score->score, 36.78794411714425, 1e-9);  // e^-1 * 100
  // Only unobserved orders carry weight: nothing to score.
  o.weights = {0, 1, 0, 0};
  score = CorpusBleu({"test"}, {{"a test"}}, o);
  ASSERT_TRUE(score.ok());
  EXPECT_EQ(score->score, 0.0);
}

TEST(ValidateBleuOptionsTest, Errors) {
  struct Case {
    const char* name;
    BleuOptions options;
    const char* message;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, auto mutate, const char* message) {
    BleuOptions o;
    mutate(o);
    cases.push_back({name, o, message});
  };
  const double inf = std::numeric_limits<double>::infinity();
  add(
      "order 0", [](BleuOptions& o) { o.max_order = 0; },
      "max_order must be at least 1, got 0");
  add(
      "weights size",
      [](BleuOptions& o) {
        o.weights = {0.5, 0.5};
      },
      "expected 4 weights (one per order), got 2");
  add(
      "negative weight",
      [](BleuOptions& o) {
        o.weights = {1, -1, 1, 1};
      },
      "weight 2 must be finite and >= 0, got -1");
  add(
      "nan weight",
      [](BleuOptions& o) {
        o.weights = {1, 1, NAN, 1};
      },
      "weight 3 must be finite and >= 0");
  add(
      "zero weights",
      [](BleuOptions& o) {
        o.weights = {0, 0, 0, 0};
      },
      "at least one weight must be positive");
  add(
      "negative smooth", [](BleuOptions& o) { o.smooth_value = -0.1; },
      "smooth_value must be finite and >= 0, got -0.1");
  add(
      "inf smooth", [&](BleuOptions& o) { o.smooth_value = inf; },
      "smooth_value must be finite and >= 0");
  // Found by the bleu fuzz target: floor 3 made a precision of 300%.
  add(
      "floor above 1",
      [](BleuOptions& o) {
        o.smoothing = Smoothing::kFloor;
        o.smooth_value = 3;
      },
      "smooth_value must be at most 1 for floor smoothing, got 3");
  add(
      "smoothing enum",
      [](BleuOptions& o) { o.smoothing = static_cast<Smoothing>(7); },
      "unknown smoothing method");
  add(
      "tokenizer enum",
      [](BleuOptions& o) { o.tokenizer = static_cast<Tokenizer>(7); },
      "unknown tokenizer");
  for (const Case& c : cases) {
    absl::Status s = ValidateBleuOptions(c.options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.name;
  }
  BleuOptions ok;
  ok.max_order = 2;
  ok.weights = {0, 1};
  ok.smooth_value = 0;
  EXPECT_TRUE(ValidateBleuOptions(ok).ok());
  EXPECT_TRUE(ValidateBleuOptions(BleuOptions()).ok());
}

TEST(BleuStatsTest, AddExtendsShorterVectors) {
  BleuStats a;
  a.correct = {1, 2};
  a.total = {3, 4};
  a.sys_len = 5;
  BleuStats b;
  b.correct = {1, 1, 1};
  b.total = {2, 2, 2};
  b.ref_len = 7;
  a.Add(b);
  EXPECT_THAT(a.correct, ElementsAre(2, 3, 1));
  EXPECT_THAT(a.total, ElementsAre(5, 6, 2));
  EXPECT_EQ(a.sys_len, 5);
  EXPECT_EQ(a.ref_len, 7);
}

}  // namespace
}  // namespace rill

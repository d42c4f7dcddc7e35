#include "metrics/bleu.h"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/sacrebleu_example.h"

namespace rill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// sacreBLEU's raw_corpus_bleu: no tokenization, floor smoothing, effective
// order.
BleuOptions RawOptions(std::optional<double> floor) {
  BleuOptions o;
  o.tokenizer = Tokenizer::kNone;
  o.smoothing = Smoothing::kFloor;
  o.smooth_value = floor;
  o.effective_order = true;
  return o;
}

BleuStats Stats(std::vector<double> correct, std::vector<double> total,
                int64_t sys_len, int64_t ref_len) {
  BleuStats s;
  s.correct = std::move(correct);
  s.total = std::move(total);
  s.sys_len = sys_len;
  s.ref_len = ref_len;
  return s;
}

// sacreBLEU test/test_bleu.py, test_corpus_bleu_cases (EPSILON = 1e-8).
TEST(CorpusBleuTest, SacreBleuCorpusVectors) {
  struct Case {
    const char* name;
    std::vector<std::string> hyps;
    Tokenizer tokenizer;
    Smoothing smoothing;
    double expected;
  };
  const std::vector<Case> cases = {
      {"default", kHyps, Tokenizer::k13a, Smoothing::kExp, 48.530827},
      {"empty hypotheses", {"", "", ""}, Tokenizer::k13a, Smoothing::kExp, 0.0},
      {"tokenize none", kHyps, Tokenizer::kNone, Smoothing::kExp, 49.1919566},
      {"tokenize 13a", kHyps, Tokenizer::k13a, Smoothing::kExp, 48.530827},
      {"tokenize intl", kHyps, Tokenizer::kIntl, Smoothing::kExp, 43.91623493},
      {"smooth none", kHyps, Tokenizer::k13a, Smoothing::kNone, 48.530827},
  };
  for (const Case& c : cases) {
    BleuOptions o;
    o.tokenizer = c.tokenizer;
    o.smoothing = c.smoothing;
    auto score = CorpusBleu(c.hyps, kRefs, o);
    ASSERT_TRUE(score.ok()) << c.name << ": " << score.status();
    EXPECT_NEAR(score->score, c.expected, 1e-8) << c.name;
  }
}

// sacreBLEU test/test_bleu.py, test_bleu_max_order (compared as "%.2f").
TEST(CorpusBleuTest, SacreBleuMaxOrder) {
  const std::vector<std::pair<int, std::string>> cases = {
      {1, "77.65"}, {2, "60.50"}, {3, "53.93"},
      {4, "48.53"}, {5, "46.14"}, {6, "43.28"},
  };
  for (const auto& [order, expected] : cases) {
    BleuOptions o;
    o.max_order = order;
    auto score = CorpusBleu(kHyps, kRefs, o);
    ASSERT_TRUE(score.ok()) << score.status();
    EXPECT_EQ(absl::StrFormat("%.2f", score->score), expected) << order;
    EXPECT_EQ(score->precisions.size(), static_cast<size_t>(order));
  }
}

// sacreBLEU test/test_bleu.py, test_case_scoring: compute_bleu with its
// defaults (smooth_method='none'); 1e-8 there on the 0..1 scale.
TEST(ComputeBleuTest, SacreBleuScoringFromStatistics) {
  BleuOptions o;
  o.smoothing = Smoothing::kNone;
  BleuScore s = ComputeBleu(Stats({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11), o);
  EXPECT_NEAR(s.score, 83.75922397, 1e-6);
  EXPECT_EQ(s.bp, 1.0);
}

// sacreBLEU test/test_bleu.py, test_raw_bleu_cases and
// test_case_effective_order: raw_corpus_bleu with floor 0.01, to 1e-8.
TEST(CorpusBleuTest, SacreBleuRawCorpus) {
  struct Case {
    std::vector<std::string> hyps;
    std::vector<std::string> refs;
    double expected;
  };
  const std::vector<Case> cases = {
      {{"this is a test"}, {"this is a test"}, 100.0},
      {{"this is a fest"}, {"this is a test"}, 22.3606797749979},
      {{"test"}, {"a test"}, 36.78794411714425},
      {{"a test"}, {"a test"}, 100.0},
      {{"a little test"}, {"a test"}, 3.218297948685433},
      // No match at any order scores 0 whatever the smoothing (#141).
      {{"this is a test", "another test"}, {"ref1", "ref2"}, 0.0},
  };
  for (const Case& c : cases) {
    auto score = CorpusBleu(c.hyps, {c.refs}, RawOptions(0.01));
    ASSERT_TRUE(score.ok()) << score.status();
    EXPECT_NEAR(score->score, c.expected, 1e-8) << c.hyps[0];
  }
}

// sacreBLEU test/test_bleu.py, test_case_statistics and test_case_offset.
TEST(CorpusBleuTest, SacreBleuStatisticsAndFloorOffset) {
  const std::vector<std::string> hyp = {"am I am a character sequence"};
  const std::vector<std::vector<std::string>> ref = {
      {"I am a symbol string sequence a a"}};
  auto with_floor = CorpusBleu(hyp, ref, RawOptions(0.01));
  ASSERT_TRUE(with_floor.ok());
  EXPECT_THAT(with_floor->stats.correct, ElementsAre(4, 2, 1, 0));
  EXPECT_THAT(with_floor->stats.total, ElementsAre(6, 5, 4, 3));

  struct Case {
    std::optional<double> floor;
    double expected;
  };
  for (const Case& c : std::vector<Case>{
           {0.1, 15.55722182}, {std::nullopt, 15.55722182}, {0.0, 0.0}}) {
    auto score = CorpusBleu(hyp, ref, RawOptions(c.floor));
    ASSERT_TRUE(score.ok());
    // 1e-8 in test_bleu.py on the 0..1 scale.
    EXPECT_NEAR(score->score, c.expected, 1e-6) << c.floor.value_or(-1);
  }
}

// sacreBLEU test/test_bleu.py, test_case_degenerate_stats: floor smoothing
// with several offsets; exactly 0.
TEST(ComputeBleuTest, SacreBleuDegenerateStatistics) {
  struct Case {
    BleuStats stats;
    double floor;
  };
  const std::vector<Case> cases = {
      {Stats({0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1), 0.0},
      {Stats({0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10), 0.0},
      {Stats({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0), 0.0},
      {Stats({6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6), 0.0},
      {Stats({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0), 0.1},
      {Stats({0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5), 0.01},
  };
  for (const Case& c : cases) {
    BleuOptions o;
    o.smoothing = Smoothing::kFloor;
    o.smooth_value = c.floor;
    EXPECT_EQ(ComputeBleu(c.stats, o).score, 0.0);
  }
}

// sacreBLEU test/test_sentence_bleu.py (EPSILON = 1e-3), example of #98;
// effective order on, as in its calls.
TEST(SentenceBleuTest, SacreBleuSentenceVectors) {
  const std::string hyp =
      "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul "
      "alb;";
  const std::string ref = "producţia de zahăr brut se exprimă în zahăr alb;";
  struct Case {
    Smoothing smoothing;
    std::optional<double> value;
    bool lowercase;
    Tokenizer tokenizer;
    double expected;
  };
  const std::vector<Case> cases = {
      {Smoothing::kExp, std::nullopt, false, Tokenizer::k13a, 8.493},
      {Smoothing::kNone, std::nullopt, false, Tokenizer::k13a, 0.0},
      {Smoothing::kFloor, std::nullopt, false, Tokenizer::k13a, 4.51688},
      {Smoothing::kFloor, 0.1, false, Tokenizer::k13a, 4.51688},
      {Smoothing::kFloor, 0.5, false, Tokenizer::k13a, 10.10},
      {Smoothing::kAddK, std::nullopt, false, Tokenizer::k13a, 14.882},
      {Smoothing::kAddK, 1, false, Tokenizer::k13a, 14.882},
      {Smoothing::kAddK, 2, false, Tokenizer::k13a, 21.389},
      {Smoothing::kExp, std::nullopt, false, Tokenizer::kNone, 7.347},
      {Smoothing::kExp, std::nullopt, false, Tokenizer::kIntl, 8.493},
      {Smoothing::kExp, std::nullopt, false, Tokenizer::kChar, 40.8759},
      {Smoothing::kExp, std::nullopt, true, Tokenizer::kChar, 42.0267},
  };
  for (const Case& c : cases) {
    BleuOptions o;
    o.smoothing = c.smoothing;
    o.smooth_value = c.value;
    o.lowercase = c.lowercase;
    o.tokenizer = c.tokenizer;
    o.effective_order = true;
    auto score = SentenceBleu(hyp, {ref}, o);
    ASSERT_TRUE(score.ok()) << score.status();
    EXPECT_NEAR(score->score, c.expected, 1e-3)
        << SmoothingName(c.smoothing) << " " << c.value.value_or(-1) << " "
        << TokenizerName(c.tokenizer) << " lc=" << c.lowercase;
  }
}

// sacreBLEU test/test_sentence_bleu.py, test_cases_zero_bleu (#141).
TEST(SentenceBleuTest, SacreBleuZeroWithEverySmoothing) {
  struct Case {
    Smoothing smoothing;
    std::optional<double> value;
  };
  for (const Case& c : std::vector<Case>{{Smoothing::kExp, std::nullopt},
                                         {Smoothing::kNone, std::nullopt},
                                         {Smoothing::kFloor, std::nullopt},
                                         {Smoothing::kFloor, 0.1},
                                         {Smoothing::kAddK, std::nullopt},
                                         {Smoothing::kAddK, 1}}) {
    BleuOptions o;
    o.smoothing = c.smoothing;
    o.smooth_value = c.value;
    o.effective_order = true;
    auto score = SentenceBleu("this is a cat", {"okay thanks"}, o);
    ASSERT_TRUE(score.ok());
    EXPECT_NEAR(score->score, 0.0, 1e-3) << SmoothingName(c.smoothing);
  }
}

TEST(BleuScoreTest, FormatCorpusDefault) {
  auto score = CorpusBleu(kHyps, kRefs, BleuOptions());
  ASSERT_TRUE(score.ok());
  // Counted by hand from the 13a tokens; e.g. unigrams: 6/6 + 2/4 ("It",
  // ".") + 6/7 (all but "just"); closest lengths 6, 5 (tie of 5s), 7.
  EXPECT_THAT(score->stats.correct, ElementsAre(14, 7, 5, 3));
  EXPECT_THAT(score->stats.total, ElementsAre(17, 14, 11, 8));
  EXPECT_EQ(score->sys_len, 17);
  EXPECT_EQ(score->ref_len, 18);
  const std::string precisions =
      absl::StrFormat("%.1f/%.1f/%.1f/%.1f", 100.0 * 14 / 17, 100.0 * 7 / 14,
                      100.0 * 5 / 11, 100.0 * 3 / 8);
  EXPECT_EQ(precisions, "82.4/50.0/45.5/37.5");
  const std::string signature = BleuSignature(BleuOptions(), 2);
  EXPECT_EQ(signature,
            "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:rill-0.1");
  EXPECT_EQ(score->Format(signature),
            "BLEU|" + signature + " = 48.53 " + precisions +
                absl::StrFormat(" (BP = %.3f ratio = %.3f", std::exp(-1.0 / 17),
                                17.0 / 18) +
                " hyp_len = 17 ref_len = 18)");
  EXPECT_EQ(score->Format(signature),
            "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:rill-0.1"
            " = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = "
            "17 ref_len = 18)");
  EXPECT_EQ(score->Format("", 4),
            "BLEU = 48.5308 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 "
            "hyp_len = 17 ref_len = 18)");
}

TEST(BleuSignatureTest, FieldsAsSacreBleu) {
  BleuOptions o;
  o.smoothing = Smoothing::kFloor;
  EXPECT_EQ(BleuSignature(o, 1),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|"
            "version:rill-0.1");
  o.smoothing = Smoothing::kAddK;
  o.smooth_value = 2;
  o.lowercase = true;
  o.effective_order = true;
  o.tokenizer = Tokenizer::kIntl;
  EXPECT_EQ(BleuSignature(o, 3),
            "nrefs:3|case:lc|eff:yes|tok:intl|smooth:add-k[2.00]|"
            "version:rill-0.1");
  o.smoothing = Smoothing::kNone;
  EXPECT_THAT(BleuSignature(o, 3), HasSubstr("|smooth:none|"));
}

TEST(SmoothingTest, ParseAndName) {
  for (Smoothing s : {Smoothing::kNone, Smoothing::kFloor, Smoothing::kAddK,
                      Smoothing::kExp}) {
    auto parsed = ParseSmoothing(SmoothingName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  auto bad = ParseSmoothing("add_k");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("none, floor, add-k, exp"));
}

}  // namespace
}  // namespace rill

#include "text/pretraining_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int32_t kCls = 2, kSep = 3, kMask = 4;  // kBertSpecialTokens.
constexpr int kVocabSize = 50000;

// The five special tokens, then w5 ... w49999.
Vocab TestVocab() {
  std::vector<std::string> tokens(std::begin(kBertSpecialTokens),
                                  std::end(kBertSpecialTokens));
  for (int i = tokens.size(); i < kVocabSize; ++i) {
    tokens.push_back(absl::StrCat("w", i));
  }
  return *Vocab::FromTokens(std::move(tokens), "<test vocab>");
}

// Where each token of the corpus sits: every token id occurs once, so an
// example's tokens can be traced back to their document and offset.
struct Origin {
  int document;
  int offset;
};

// 400 documents of 4 to 20 sentences of 3 to 12 tokens, each token id used
// once (ids from 5 on), with sizes from a fixed LCG.
std::vector<Document> TestCorpus(std::map<int32_t, Origin>* origin) {
  uint64_t lcg = 7;
  auto next = [&lcg](int lo, int hi) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lo + static_cast<int>((lcg >> 33) % (hi - lo + 1));
  };
  std::vector<Document> docs(400);
  int32_t id = 5;
  for (int d = 0; d < 400; ++d) {
    int offset = 0;
    docs[d].resize(next(4, 20));
    for (auto& sentence : docs[d]) {
      sentence.resize(next(3, 12));
      for (int32_t& t : sentence) {
        t = id++;
        (*origin)[t] = {d, offset++};
      }
    }
  }
  EXPECT_LT(id, kVocabSize);
  return docs;
}

// Within 3 standard deviations of a binomial mean.
void ExpectRate(const char* what, int64_t hits, int64_t n, double p) {
  const double sigma = std::sqrt(p * (1 - p) / n);
  EXPECT_NEAR(static_cast<double>(hits) / n, p, 3 * sigma)
      << what << ": " << hits << " of " << n;
}

TEST(PretrainingDataTest, LayoutMaskingAndNextSentenceStatistics) {
  std::map<int32_t, Origin> origin;
  std::vector<Document> docs = TestCorpus(&origin);
  Vocab vocab = TestVocab();
  PretrainingDataOptions o;
  o.max_seq_length = 32;
  o.max_predictions_per_seq = 5;
  absl::StatusOr<PretrainingExamples> made =
      MakePretrainingExamples(docs, vocab, o, MemoryBudget());
  ASSERT_TRUE(made.ok()) << made.status();
  const std::vector<PretrainingExample>& examples = made->examples;
  ASSERT_GE(examples.size(), 10000u);

  int64_t predictions = 0, as_mask = 0, unchanged = 0, random_next = 0;
  for (const PretrainingExample& e : examples) {
    const int n = e.tokens.size();
    ASSERT_LE(n, o.max_seq_length);
    ASSERT_EQ(e.tokens[0], kCls);
    ASSERT_EQ(e.tokens[e.segment_a_length - 1], kSep);
    ASSERT_EQ(e.tokens[n - 1], kSep);
    ASSERT_GE(e.segment_a_length, 3);      // [CLS], one token, [SEP].
    ASSERT_GE(n - e.segment_a_length, 2);  // One token, [SEP].
    // Python's round(n * 0.15), halves to even, then the bounds.
    const int64_t want =
        std::min<int64_t>(5, std::max<int64_t>(1, std::nearbyint(n * 0.15)));
    ASSERT_EQ(static_cast<int64_t>(e.masked_positions.size()), want);
    std::vector<int32_t> original = e.tokens;
    for (size_t k = 0; k < e.masked_positions.size(); ++k) {
      const int32_t at = e.masked_positions[k];
      if (k > 0) {
        ASSERT_GT(at, e.masked_positions[k - 1]);
      }
      ASSERT_NE(at, 0);
      ASSERT_NE(at, e.segment_a_length - 1);
      ASSERT_NE(at, n - 1);
      original[at] = e.masked_ids[k];
      as_mask += e.tokens[at] == kMask;
      unchanged += e.tokens[at] == e.masked_ids[k];
      ++predictions;
    }
    // Unmasked, A and B are runs of consecutive corpus tokens (truncation
    // trims only their ends). B continues A's document after A, unless it
    // is random: then it comes from another document.
    auto run = [&](int from, int to) {
      const Origin first = origin.at(original[from]);
      for (int i = from + 1; i < to; ++i) {
        const Origin o = origin.at(original[i]);
        EXPECT_EQ(o.document, first.document);
        EXPECT_EQ(o.offset, first.offset + (i - from));
      }
      return first;
    };
    const Origin a = run(1, e.segment_a_length - 1);
    const Origin b = run(e.segment_a_length, n - 1);
    const Origin a_last = origin.at(original[e.segment_a_length - 2]);
    if (e.random_next) {
      EXPECT_NE(b.document, a.document);
      ++random_next;
    } else {
      EXPECT_EQ(b.document, a.document);
      EXPECT_GT(b.offset, a_last.offset);
    }
  }
  // A replaced token is a uniform draw over the vocabulary, so it can be
  // [MASK] or the original by chance.
  const double v = kVocabSize;
  ExpectRate("[MASK]", as_mask, predictions, 0.8 + 0.1 / v);
  ExpectRate("unchanged", unchanged, predictions, 0.1 + 0.1 / v);
  // Chunks of one sentence have a random B by necessity; the others by a
  // fair coin.
  ExpectRate("random next", random_next - made->forced_random_next,
             examples.size() - made->forced_random_next, 0.5);
  std::printf("%zu examples, %lld predictions, %lld forced random next\n",
              examples.size(), static_cast<long long>(predictions),
              static_cast<long long>(made->forced_random_next));
}

TEST(PretrainingDataTest, ShardsAreTheSameBytesForTheSameSeed) {
  std::map<int32_t, Origin> origin;
  std::vector<Document> docs = TestCorpus(&origin);
  docs.resize(40);
  Vocab vocab = TestVocab();
  PretrainingDataOptions o;
  o.max_seq_length = 64;
  o.dupe_factor = 2;
  auto write = [&](uint64_t seed, const std::string& name) {
    o.seed = seed;
    absl::StatusOr<PretrainingExamples> made =
        MakePretrainingExamples(docs, vocab, o, MemoryBudget());
    EXPECT_TRUE(made.ok()) << made.status();
    const std::string dir = TestTempPath(name);
    fs::remove_all(dir);
    absl::StatusOr<int64_t> shards = WritePretrainingShards(*made, o, dir, 50);
    EXPECT_TRUE(shards.ok()) << shards.status();
    const int64_t expected_shards = (made->examples.size() + 49) / 50;
    EXPECT_EQ(*shards, expected_shards);
    std::string bytes;
    for (int64_t k = 0; k < expected_shards; ++k) {
      for (const char* input : kPretrainingInputs) {
        bytes += ReadTestFile(absl::StrFormat("%s/%s-%05d.npy", dir, input, k));
      }
    }
    return bytes;
  };
  const std::string a = write(1, "seed1a"), b = write(1, "seed1b");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, write(2, "seed2"));

  // The arrays, as a BERT graph takes them.
  const std::string dir = TestTempPath("seed1a");
  auto read = [&](const char* input) {
    absl::StatusOr<Tensor> t =
        ReadNpy(absl::StrCat(dir, "/", input, "-00000.npy"), 1 << 20);
    EXPECT_TRUE(t.ok()) << t.status();
    return *std::move(t);
  };
  EXPECT_EQ(read("input_ids").shape(), (Shape{50, 64}));
  EXPECT_EQ(read("input_ids").dtype(), DType::kI64);
  EXPECT_EQ(read("attention_mask").shape(), (Shape{50, 64}));
  EXPECT_EQ(read("masked_lm_ids").shape(), (Shape{50, 20}));
  EXPECT_EQ(read("masked_lm_weights").dtype(), DType::kF32);
  EXPECT_EQ(read("next_sentence_labels").shape(), (Shape{50}));
  // The attention mask covers the tokens, which end in [SEP]; the type ids
  // are 0 up to A's [SEP], then 1 up to the end, then 0 in the padding.
  const Tensor ids = read("input_ids"), mask = read("attention_mask");
  const Tensor types = read("token_type_ids");
  for (int64_t r = 0; r < 50; ++r) {
    const int64_t* m = mask.data<int64_t>() + r * 64;
    const int64_t* id = ids.data<int64_t>() + r * 64;
    const int64_t* type = types.data<int64_t>() + r * 64;
    const int64_t length = std::count(m, m + 64, 1);
    ASSERT_GE(length, 5);
    EXPECT_EQ(id[length - 1], kSep);
    const int64_t b_start = std::find(type, type + 64, 1) - type;
    EXPECT_EQ(id[b_start - 1], kSep);
    for (int64_t i = 0; i < 64; ++i) {
      EXPECT_EQ(m[i], i < length) << r << "," << i;
      EXPECT_EQ(type[i], i >= b_start && i < length) << r << "," << i;
      if (i >= length) {
        EXPECT_EQ(id[i], 0) << r << "," << i;
      }
    }
  }
  // A written data set is never overwritten.
  absl::StatusOr<int64_t> again = WritePretrainingShards(
      *MakePretrainingExamples(docs, vocab, o, MemoryBudget()), o, dir, 50);
  EXPECT_THAT(again.status().message(), HasSubstr("is not empty"));
}

TEST(PretrainingDataTest, ReadDocumentsSplitsOnBlankLines) {
  Vocab vocab = TestVocab();
  BertTokenizer tokenizer(&vocab, {});
  absl::StatusOr<std::vector<Document>> docs =
      ReadDocuments("w5 w6\nw7\n\n \t\nw8\r\nw9 w10\n\n", "corpus", tokenizer);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], (Document{{5, 6}, {7}}));
  EXPECT_EQ((*docs)[1], (Document{{8}, {9, 10}}));

  EXPECT_THAT(
      ReadDocuments("w5\n\nw6\n", "one.txt", tokenizer).status().message(),
      HasSubstr("one.txt: no document has two sentences"));
  EXPECT_THAT(
      ReadDocuments("w5\nw6\n\xff\n", "bad.txt", tokenizer).status().message(),
      HasSubstr("bad.txt:3: "));
}

TEST(PretrainingDataTest, BadOptionsNameTheOption) {
  struct Case {
    void (*edit)(PretrainingDataOptions&);
    const char* message;
  };
  const Case cases[] = {
      {[](PretrainingDataOptions& o) { o.max_seq_length = 4; },
       "max_seq_length: 4: must be >= 5"},
      {[](PretrainingDataOptions& o) { o.max_predictions_per_seq = 0; },
       "max_predictions_per_seq: 0: must be >= 1"},
      {[](PretrainingDataOptions& o) { o.max_predictions_per_seq = 129; },
       "max_predictions_per_seq: 129 is over the limit of 128"},
      {[](PretrainingDataOptions& o) { o.dupe_factor = 0; },
       "dupe_factor: 0: must be >= 1"},
      {[](PretrainingDataOptions& o) { o.masked_lm_prob = 0; },
       "masked_lm_prob: 0: must be in (0, 1]"},
      {[](PretrainingDataOptions& o) { o.short_seq_prob = NAN; },
       "short_seq_prob: nan: must be in [0, 1]"},
  };
  for (const Case& c : cases) {
    PretrainingDataOptions o;
    c.edit(o);
    EXPECT_THAT(ValidatePretrainingOptions(o).message(), HasSubstr(c.message));
  }
  EXPECT_TRUE(ValidatePretrainingOptions({}).ok());
}

TEST(PretrainingDataTest, ExamplesPastTheBudgetAreRefused) {
  std::map<int32_t, Origin> origin;
  MemoryBudget budget;
  budget.bytes = 100 << 10;
  absl::StatusOr<PretrainingExamples> made = MakePretrainingExamples(
      TestCorpus(&origin), TestVocab(), PretrainingDataOptions(), budget);
  EXPECT_EQ(made.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(made.status().message(), HasSubstr("dupe_factor: 10 needs"));
}

}  // namespace
}  // namespace rill

// Greedy and beam-search decoding (models/decode.h) with the seq2seq
// goldens' weights: greedy against an argmax loop over the training
// graph's logits; a beam wide enough to keep every hypothesis against
// brute-force scoring of all of them; the cached and recomputing
// strategies against each other; bad options.

#include "models/decode.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/kernel_util.h"
#include "tests/graph/grad_check.h"
#include "tests/models/seq2seq_test_util.h"

namespace rill {
namespace {

constexpr int64_t kBos = 1, kEos = 2, kPad = 0;

// A model with its weights: the training graph (for teacher-forced logits)
// and the parameters the decoder takes.
struct Model {
  Seq2SeqOptions options;
  Graph train;
  std::map<std::string, Tensor> values;
  std::map<std::string, const Tensor*> parameters() const {
    std::map<std::string, const Tensor*> p;
    for (const auto& [name, t] : values) p[name] = &t;
    return p;
  }
};

Model GoldenModel(const Seq2SeqCase& c, DType dtype) {
  Model m;
  m.options = GoldenOptions(c, dtype);
  m.train = *BuildSeq2SeqTrainingGraph(m.options);
  LoadGoldenWeights(c, dtype, &m.train);
  for (const Node& n : m.train.node()) {
    if (n.op() != "Parameter") continue;
    m.values[n.name()] = ConvertFloat(
        Seq2SeqGolden(absl::StrCat(c.name, "_", TorchKey(n.name()))), dtype);
  }
  return m;
}

std::unique_ptr<Seq2SeqDecoder> MakeDecoder(const Model& m, int64_t beam,
                                            double penalty,
                                            DecodeStrategy strategy,
                                            Backend backend) {
  DecodeOptions o;
  o.beam_size = beam;
  o.length_penalty = penalty;
  o.strategy = strategy;
  o.executor.backend = backend;
  auto d = Seq2SeqDecoder::Create(m.options, o, m.parameters(), "golden");
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : nullptr;
}

// Three sources of the goldens' vocabulary, padded to S = 5.
Tensor Sources() {
  const int64_t rows[3][5] = {
      {3, 4, 5, 6, 2}, {4, 3, 2, 0, 0}, {6, 6, 0, 0, 0}};
  Tensor t = *Tensor::Allocate(DType::kI64, Shape{3, 5});
  std::copy(&rows[0][0], &rows[0][0] + 15, t.data<int64_t>());
  return t;
}

// log P(y_t | y_<t) from the training graph for each of `targets` (BOS
// first, then the hypothesis, padded) of source row `row`: [N, T, V]
// log-softmaxed.
std::vector<double> TeacherForcedLogProbs(
    Executor& train, const Tensor& src, int64_t row,
    const std::vector<std::vector<int64_t>>& targets, int64_t steps,
    int64_t vocab) {
  const int64_t n = static_cast<int64_t>(targets.size());
  const int64_t s = src.shape().dim(1);
  Tensor srcs = *Tensor::Allocate(DType::kI64, Shape{n, s});
  Tensor tgt_in = *Tensor::Allocate(DType::kI64, Shape{n, steps});
  Tensor tgt_out = *Tensor::Allocate(DType::kI64, Shape{n, steps});
  std::fill_n(tgt_out.data<int64_t>(), n * steps, kPad);
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(src.data<int64_t>() + row * s, s, srcs.data<int64_t>() + i * s);
    int64_t* in = tgt_in.data<int64_t>() + i * steps;
    std::fill_n(in, steps, kPad);
    in[0] = kBos;
    for (size_t k = 0;
         k + 1 < static_cast<size_t>(steps) && k < targets[i].size(); ++k) {
      in[k + 1] = targets[i][k];
    }
  }
  auto got =
      train.Run({{"src", srcs}, {"tgt_in", tgt_in}, {"tgt_out", tgt_out}},
                {"seq2seq/logits"});
  EXPECT_TRUE(got.ok()) << got.status();
  Tensor logits = ConvertFloat((*got)[0], DType::kF64);
  std::vector<double> logp(n * steps * vocab);
  for (int64_t r = 0; r < n * steps; ++r) {
    const double* x = logits.data<double>() + r * vocab;
    double max = *std::max_element(x, x + vocab), sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(x[v] - max);
    for (int64_t v = 0; v < vocab; ++v) {
      logp[r * vocab + v] = x[v] - max - std::log(sum);
    }
  }
  return logp;
}

TEST(Decode, GreedyIsTheArgmaxOfTheTrainingGraphAtEachStep) {
  Model m = GoldenModel(kSeq2SeqCases[0], DType::kF64);
  auto train = MakeExecutor(m.train, Backend::kReference);
  const Tensor src = Sources();
  const int64_t steps = m.options.tgt_length, vocab = m.options.vocab_size;
  for (DecodeStrategy strategy :
       {DecodeStrategy::kCache, DecodeStrategy::kRecompute}) {
    auto decoder = MakeDecoder(m, 1, 0, strategy, Backend::kReference);
    auto got = decoder->Decode(src);
    ASSERT_TRUE(got.ok()) << got.status();
    for (int64_t row = 0; row < 3; ++row) {
      std::vector<int64_t> want;
      for (int64_t t = 0; t < steps; ++t) {
        std::vector<double> logp =
            TeacherForcedLogProbs(*train, src, row, {want}, steps, vocab);
        const double* at = logp.data() + t * vocab;
        int64_t best = std::max_element(at, at + vocab) - at;
        if (best == kEos) break;
        want.push_back(best);
      }
      EXPECT_EQ((*got)[row], want) << "row " << row;
      std::printf("greedy row %lld: %s\n", static_cast<long long>(row),
                  absl::StrJoin((*got)[row], " ").c_str());
    }
  }
}

// Every hypothesis up to T tokens: EOS-ended ones of 0..T-1 tokens, and the
// T-token ones that never ended, each with its score.
struct Scored {
  std::vector<int64_t> tokens;
  double score;
};
std::vector<Scored> AllHypotheses(Executor& train, const Model& m,
                                  const Tensor& src, int64_t row,
                                  double penalty) {
  const int64_t steps = m.options.tgt_length, vocab = m.options.vocab_size;
  std::vector<std::vector<int64_t>> all = {{}};
  for (size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int64_t>(all[i].size()) == steps) continue;
    for (int64_t v = 0; v < vocab; ++v) {
      if (v == kEos) continue;
      std::vector<int64_t> next = all[i];
      next.push_back(v);
      all.push_back(next);
    }
  }
  std::vector<double> logp =
      TeacherForcedLogProbs(train, src, row, all, steps, vocab);
  std::vector<Scored> scored;
  for (size_t i = 0; i < all.size(); ++i) {
    const int64_t len = static_cast<int64_t>(all[i].size());
    double sum = 0;
    for (int64_t t = 0; t < len; ++t) {
      sum += logp[(i * steps + t) * vocab + all[i][t]];
    }
    const bool ended = len < steps;
    if (ended) sum += logp[(i * steps + len) * vocab + kEos];
    const double generated = static_cast<double>(len + (ended ? 1 : 0));
    scored.push_back({all[i], sum / std::pow((5 + generated) / 6, penalty)});
  }
  return scored;
}

class WideBeam : public testing::TestWithParam<Seq2SeqCase> {};

TEST_P(WideBeam, FindsTheBestOfAllHypotheses) {
  const Seq2SeqCase& c = GetParam();
  Model m = GoldenModel(c, DType::kF64);
  auto train = MakeExecutor(m.train, Backend::kReference);
  const Tensor src = Sources();
  for (double penalty : {0.0, 1.0, 3.0}) {
    // 6^4 = 1296 unended hypotheses plus 259 ended: a beam of 2000 keeps
    // them all, so beam search is exhaustive here.
    auto decoder = MakeDecoder(m, 2000, penalty, DecodeStrategy::kCache,
                               Backend::kReference);
    auto got = decoder->Decode(src);
    ASSERT_TRUE(got.ok()) << got.status();
    for (int64_t row = 0; row < 3; ++row) {
      std::vector<Scored> all = AllHypotheses(*train, m, src, row, penalty);
      ASSERT_EQ(all.size(), 1555u);
      auto best = std::max_element(
          all.begin(), all.end(),
          [](const Scored& a, const Scored& b) { return a.score < b.score; });
      EXPECT_EQ((*got)[row], best->tokens)
          << "row " << row << " penalty " << penalty;
      std::printf("%s penalty %.1f row %lld: best of %zu is [%s], score %.6f\n",
                  c.name, penalty, static_cast<long long>(row), all.size(),
                  absl::StrJoin(best->tokens, " ").c_str(), best->score);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Decode, WideBeam, testing::ValuesIn(kSeq2SeqCases),
                         [](const testing::TestParamInfo<Seq2SeqCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(Decode, CachedAndRecomputedStrategiesAgree) {
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    const DType dtype =
        backend == Backend::kReference ? DType::kF64 : DType::kF32;
    Model m = GoldenModel(kSeq2SeqCases[0], dtype);
    const Tensor src = Sources();
    for (int64_t beam : {1, 4}) {
      auto cached = MakeDecoder(m, beam, 0.6, DecodeStrategy::kCache, backend)
                        ->Decode(src);
      auto recomputed =
          MakeDecoder(m, beam, 0.6, DecodeStrategy::kRecompute, backend)
              ->Decode(src);
      ASSERT_TRUE(cached.ok()) << cached.status();
      ASSERT_TRUE(recomputed.ok()) << recomputed.status();
      EXPECT_EQ(*cached, *recomputed)
          << BackendName(backend) << " beam " << beam;
    }
  }
}

TEST(Decode, BatchesOfAnySizeGiveTheSameResult) {
  Model m = GoldenModel(kSeq2SeqCases[1], DType::kF64);
  DecodeOptions o;
  o.beam_size = 3;
  o.executor.backend = Backend::kReference;
  std::vector<std::vector<std::vector<int64_t>>> results;
  for (int64_t batch : {1, 2, 64}) {
    o.batch_size = batch;
    std::vector<std::pair<int64_t, int64_t>> progress;
    o.progress = [&](int64_t done, int64_t total) {
      progress.push_back({done, total});
    };
    auto d = Seq2SeqDecoder::Create(m.options, o, m.parameters(), "golden");
    ASSERT_TRUE(d.ok()) << d.status();
    auto got = (*d)->Decode(Sources());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*d)->stats().sentences, 3);
    // After each batch: 1, 2, 3 of 3; 2, 3; or 3 at once.
    ASSERT_EQ(static_cast<int64_t>(progress.size()), (3 + batch - 1) / batch);
    EXPECT_EQ(progress.back(), std::make_pair(int64_t{3}, int64_t{3}));
    EXPECT_EQ(progress.front().first, std::min<int64_t>(batch, 3));
    results.push_back(*got);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// `rill decode --precision` reaches both decoding executors, the size
// threshold included: the goldens' tiny matmuls stay f32 under bf16 and run
// on bf16 under bf16_all.
TEST(Decode, PrecisionAndItsSizeThresholdReachTheDecoder) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  Model m = GoldenModel(kSeq2SeqCases[0], DType::kF32);
  for (const char* precision : {"bf16", "bf16_all"}) {
    DecodeOptions o;
    ASSERT_TRUE(SetPrecision(precision, &o.executor).ok());
    auto d = Seq2SeqDecoder::Create(m.options, o, m.parameters(), "golden");
    ASSERT_TRUE(d.ok()) << d.status();
    auto got = (*d)->Decode(Sources());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*d)->precision_note(), "");
    if (std::string(precision) == "bf16") {
      EXPECT_EQ((*d)->bf16_kernels(), 0);
    } else {
      EXPECT_GT((*d)->bf16_kernels(), 0);
    }
  }
}

TEST(Decode, BadOptionsAndInputsAreClearErrors) {
  Model m = GoldenModel(kSeq2SeqCases[0], DType::kF32);
  struct Bad {
    const char* field;
    std::function<void(DecodeOptions&)> spoil;
  };
  const Bad kBad[] = {
      {"beam_size", [](DecodeOptions& o) { o.beam_size = 0; }},
      {"batch_size", [](DecodeOptions& o) { o.batch_size = 0; }},
      {"length_penalty", [](DecodeOptions& o) { o.length_penalty = -1; }},
      {"eos_id", [](DecodeOptions& o) { o.eos_id = 7; }},
      {"bos_id", [](DecodeOptions& o) { o.bos_id = -1; }},
  };
  for (const Bad& bad : kBad) {
    DecodeOptions o;
    bad.spoil(o);
    auto d = Seq2SeqDecoder::Create(m.options, o, m.parameters(), "golden");
    ASSERT_FALSE(d.ok()) << bad.field;
    EXPECT_NE(d.status().message().find(absl::StrCat(bad.field, ":")),
              std::string::npos)
        << d.status();
  }
  // A parameter missing from the checkpoint is named.
  std::map<std::string, const Tensor*> partial = m.parameters();
  partial.erase("seq2seq/embedding.weight");
  auto missing = Seq2SeqDecoder::Create(m.options, {}, partial, "ckpt.rckpt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(
                "ckpt.rckpt: not a checkpoint of this graph: parameter "
                "'seq2seq/embedding.weight'"),
            std::string::npos)
      << missing.status();
  // Sources of the wrong shape or dtype.
  auto d = Seq2SeqDecoder::Create(m.options, {}, m.parameters(), "golden");
  ASSERT_TRUE(d.ok()) << d.status();
  auto wrong = (*d)->Decode(*Tensor::Allocate(DType::kI64, Shape{2, 4}));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("i64[N, 5]"), std::string::npos)
      << wrong.status();
}

}  // namespace
}  // namespace rill

// The seq2seq Transformer against a torch model made of nn.Embedding,
// nn.Transformer and F.cross_entropy (loss, logits and the gradient of
// every parameter; goldens: make_seq2seq_goldens.py); the decoding graphs
// (recomputed and cached) against the training graph's logits; a float64
// gradient check; and bad options.

#include "models/seq2seq.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"
#include "tests/models/seq2seq_test_util.h"

namespace rill {
namespace {

class Seq2SeqGoldens : public testing::TestWithParam<Seq2SeqCase> {};

TEST_P(Seq2SeqGoldens, LossLogitsAndEveryParameterGradient) {
  const Seq2SeqCase& c = GetParam();
  for (DType dtype : {DType::kF64, DType::kF32}) {
    auto g = BuildSeq2SeqTrainingGraph(GoldenOptions(c, dtype));
    ASSERT_TRUE(g.ok()) << g.status();
    LoadGoldenWeights(c, dtype, &*g);
    auto valid = ValidateGraph({*g, {}});
    ASSERT_TRUE(valid.ok()) << valid.status();
    GradientRequest request;
    request.losses = {"loss"};
    request.wrt_params = true;
    auto grad = BuildGradientGraph(*valid, request);
    ASSERT_TRUE(grad.ok()) << grad.status();
    // f64 on the reference loops, f32 on oneDNN.
    const bool f64 = dtype == DType::kF64;
    auto ex = Executor::Create(std::move(grad->graph),
                               {f64 ? Backend::kReference : Backend::kOneDnn});
    ASSERT_TRUE(ex.ok()) << ex.status();
    std::vector<std::string> fetches = {"loss", "seq2seq/logits"};
    std::vector<std::string> goldens = {"loss", "logits"};
    for (size_t k = 0; k < grad->wrt.size(); ++k) {
      fetches.push_back(grad->gradients[k]);
      goldens.push_back("d_" + TorchKey(grad->wrt[k]));
    }
    auto got = (*ex)->Run(GoldenTokens(c), fetches);
    ASSERT_TRUE(got.ok()) << got.status();
    double worst = 0;
    for (size_t k = 0; k < fetches.size(); ++k) {
      Tensor want = ConvertFloat(
          Seq2SeqGolden(absl::StrCat(c.name, "_", goldens[k])), dtype);
      double err = MaxError((*got)[k], want, goldens[k]);
      EXPECT_LT(err, f64 ? 1e-10 : 1e-4) << goldens[k];
      worst = std::max(worst, err);
    }
    std::printf(
        "%-10s %s: loss, logits and %zu gradients: max abs error %.3g\n",
        c.name, f64 ? "f64 reference" : "f32 oneDNN", grad->wrt.size(), worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Seq2Seq, Seq2SeqGoldens,
                         testing::ValuesIn(kSeq2SeqCases),
                         [](const testing::TestParamInfo<Seq2SeqCase>& info) {
                           return std::string(info.param.name);
                         });

Tensor Constant(DType dtype, const Shape& shape, double value) {
  Tensor t = *Tensor::Allocate(DType::kF64, shape);
  std::fill_n(t.data<double>(), t.num_elements(), value);
  return ConvertFloat(t, dtype);
}

class Seq2SeqDecoding : public testing::TestWithParam<Seq2SeqCase> {};

// Teacher forcing through the decoding graphs gives the training graph's
// logits: the recomputing graph in one run, the cached one a position at a
// time, on both backends.
TEST_P(Seq2SeqDecoding, RecomputedAndCachedStepsMatchTheTrainingGraph) {
  const Seq2SeqCase& c = GetParam();
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    const DType dtype =
        backend == Backend::kReference ? DType::kF64 : DType::kF32;
    // f32: relative to the largest logit.
    const double tolerance = dtype == DType::kF64 ? 1e-12 : 1e-5;
    const Seq2SeqOptions o = GoldenOptions(c, dtype);
    auto train = BuildSeq2SeqTrainingGraph(o);
    auto d = BuildSeq2SeqDecodingGraphs(o);
    ASSERT_TRUE(train.ok()) << train.status();
    ASSERT_TRUE(d.ok()) << d.status();
    for (Graph* g : {&*train, &d->encode, &d->recompute, &d->cached}) {
      LoadGoldenWeights(c, dtype, g);
    }
    std::map<std::string, Tensor> tokens = GoldenTokens(c);
    auto want = MakeExecutor(*train, backend)->Run(tokens, {"seq2seq/logits"});
    ASSERT_TRUE(want.ok()) << want.status();
    const Tensor& logits = (*want)[0];  // [B, T, V]

    std::vector<std::string> fetches = {d->memory, d->src_lengths};
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      fetches.push_back(d->memory_keys[i]);
      fetches.push_back(d->memory_values[i]);
    }
    auto enc = MakeExecutor(d->encode, backend)
                   ->Run({{"src", tokens["src"]}}, fetches);
    ASSERT_TRUE(enc.ok()) << enc.status();

    auto full = MakeExecutor(d->recompute, backend)
                    ->Run({{"memory", (*enc)[0]},
                           {"src_lengths", (*enc)[1]},
                           {"tgt_in", tokens["tgt_in"]}},
                          {d->recompute_logits});
    ASSERT_TRUE(full.ok()) << full.status();
    double scale = 1;
    for (int64_t i = 0; i < logits.num_elements(); ++i) {
      scale = std::max(scale, std::abs(logits.dtype() == DType::kF64
                                           ? logits.data<double>()[i]
                                           : logits.data<float>()[i]));
    }
    EXPECT_LT(MaxError((*full)[0], logits, "recomputed") / scale, tolerance);

    const int64_t batch = 2, steps = o.tgt_length, vocab = o.vocab_size;
    std::map<std::string, Tensor> feeds = {{"src_lengths", (*enc)[1]}};
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      feeds[absl::StrCat("memory_key.", i)] = (*enc)[2 + 2 * i];
      feeds[absl::StrCat("memory_value.", i)] = (*enc)[3 + 2 * i];
      for (const char* cache : {"cache_key.", "cache_value."}) {
        // Garbage in the rows not yet written must not matter.
        feeds[absl::StrCat(cache, i)] =
            Constant(dtype, Shape{batch, steps, o.d_model}, 1e3);
      }
    }
    std::vector<std::string> step_fetches = {d->cached_logits};
    for (int64_t i = 0; i < o.decoder_layers; ++i) {
      step_fetches.push_back(d->new_cache_keys[i]);
      step_fetches.push_back(d->new_cache_values[i]);
    }
    auto cached = MakeExecutor(d->cached, backend);
    double worst = 0;
    for (int64_t t = 0; t < steps; ++t) {
      Tensor token = *Tensor::Allocate(DType::kI64, Shape{batch, 1});
      for (int64_t b = 0; b < batch; ++b) {
        token.data<int64_t>()[b] =
            tokens["tgt_in"].data<int64_t>()[b * steps + t];
      }
      Tensor position = *Tensor::Allocate(DType::kI64, Shape{1});
      *position.data<int64_t>() = t;
      feeds["token"] = token;
      feeds["position"] = position;
      auto step = cached->Run(feeds, step_fetches);
      ASSERT_TRUE(step.ok()) << step.status();
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t v = 0; v < vocab; ++v) {
          double got = (*step)[0].dtype() == DType::kF64
                           ? (*step)[0].data<double>()[b * vocab + v]
                           : (*step)[0].data<float>()[b * vocab + v];
          double expected =
              logits.dtype() == DType::kF64
                  ? logits.data<double>()[(b * steps + t) * vocab + v]
                  : logits.data<float>()[(b * steps + t) * vocab + v];
          worst = std::max(worst, std::abs(got - expected));
        }
      }
      for (int64_t i = 0; i < o.decoder_layers; ++i) {
        feeds[absl::StrCat("cache_key.", i)] = (*step)[1 + 2 * i];
        feeds[absl::StrCat("cache_value.", i)] = (*step)[2 + 2 * i];
      }
    }
    EXPECT_LT(worst / scale, tolerance);
    std::printf(
        "%-10s %s: cached steps max abs error %.3g (largest logit %.3g)\n",
        c.name, BackendName(backend), worst, scale);
  }
}

INSTANTIATE_TEST_SUITE_P(Seq2Seq, Seq2SeqDecoding,
                         testing::ValuesIn(kSeq2SeqCases),
                         [](const testing::TestParamInfo<Seq2SeqCase>& info) {
                           return std::string(info.param.name);
                         });

// One layer each, GELU (ReLU's kink upsets finite differences), learned
// positions and an untied output with label smoothing: every Parameter.
TEST(Seq2Seq, WholeModelGradientCheckInFloat64) {
  Seq2SeqCase c = kSeq2SeqCases[1];
  c.label_smoothing = 0.2;
  Seq2SeqOptions o = GoldenOptions(c, DType::kF64);
  o.encoder_layers = o.decoder_layers = 1;
  auto g = BuildSeq2SeqTrainingGraph(o);
  ASSERT_TRUE(g.ok()) << g.status();
  LoadGoldenWeights(c, DType::kF64, &*g);
  std::map<std::string, Tensor> feeds = ParametersToInputs(&*g);
  std::vector<std::string> wrt;
  for (const auto& [name, t] : feeds) wrt.push_back(name);
  for (auto& [name, t] : GoldenTokens(c)) feeds[name] = t;
  auto check = CheckGradients(*g, "loss", wrt, feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf("%zu parameters: max relative error %.3g\n", wrt.size(),
              check->max_error);
}

TEST(Seq2Seq, BadOptionsNameTheField) {
  struct Bad {
    const char* field;
    void (*spoil)(Seq2SeqOptions&);
  };
  const Bad kBad[] = {
      {"vocab_size", [](Seq2SeqOptions& o) { o.vocab_size = 1; }},
      {"d_model", [](Seq2SeqOptions& o) { o.d_model = 5; }},
      {"heads", [](Seq2SeqOptions& o) { o.heads = 0; }},
      {"src_length", [](Seq2SeqOptions& o) { o.src_length = 0; }},
      {"pad_id", [](Seq2SeqOptions& o) { o.pad_id = 7; }},
      {"dropout", [](Seq2SeqOptions& o) { o.dropout = 1; }},
      {"label_smoothing", [](Seq2SeqOptions& o) { o.label_smoothing = -0.1; }},
      {"prefix", [](Seq2SeqOptions& o) { o.prefix = "9x"; }},
  };
  for (const Bad& bad : kBad) {
    Seq2SeqOptions o = GoldenOptions(kSeq2SeqCases[0], DType::kF32);
    bad.spoil(o);
    auto train = BuildSeq2SeqTrainingGraph(o);
    ASSERT_FALSE(train.ok()) << bad.field;
    EXPECT_EQ(train.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(train.status().message(),
                                  absl::StrCat(bad.field, ":")))
        << train.status();
    EXPECT_FALSE(BuildSeq2SeqDecodingGraphs(o).ok()) << bad.field;
  }
}

}  // namespace
}  // namespace rill

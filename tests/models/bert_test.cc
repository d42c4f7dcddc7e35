// BERT (models/bert.h) against a BertForPreTraining written by hand in
// PyTorch (make_bert_goldens.py): the five outputs and every parameter's
// gradient, f64 reference to 1e-9 and oneDNN f32 to 1e-4 normwise, for the
// erf and tanh GELU; the tied word embedding's gradient; the HF names,
// config.json and state_dict interop (models/bert_hf.h); and errors that
// name the field or entry.

#include "models/bert.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "google/protobuf/util/message_differencer.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "models/bert_hf.h"
#include "models/model_spec.h"
#include "ops/kernel_util.h"
#include "ops/parameter_value.h"
#include "runtime/executor.h"
#include "tests/models/model_test_util.h"
#include "text/pretraining_data.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;

const std::string kDir = "tests/models/testdata/bert";
const std::string kHf = kDir + "/hf";
constexpr char kWord[] = "bert.embeddings.word_embeddings.weight";

Tensor Golden(const std::string& name) {
  auto t = ReadNpy(absl::StrCat(kDir, "/", name, ".npy"), 1 << 22);
  EXPECT_TRUE(t.ok()) << name << ": " << t.status();
  return t.ok() ? *t : Tensor();
}

BertSpec HfSpec(const std::string& act) {
  auto spec = ReadHfBertConfig(kHf + "/config.json");
  EXPECT_TRUE(spec.ok()) << spec.status();
  BertSpec s = spec.ok() ? *spec : BertSpec();
  s.set_hidden_act(act);
  s.set_seq_length(12);
  s.set_max_predictions_per_seq(3);
  return s;
}

BertOptions Options(const BertSpec& s, DType dtype) {
  ModelSpec spec;
  *spec.mutable_bert() = s;
  spec.set_dtype(dtype == DType::kF64 ? "f64" : "f32");
  auto o = BertOptionsFromSpec(spec);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : BertOptions();
}

// The golden model's graph: built, with the golden weights imported.
Graph GoldenGraph(const std::string& act, DType dtype) {
  auto g = BuildBertGraph(Options(HfSpec(act), dtype));
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Graph();
  absl::Status s = ImportHfBertWeights(kHf, &*g);
  EXPECT_TRUE(s.ok()) << s;
  return *g;
}

Tensor AsDType(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype || t.dtype() == DType::kI64) return t;
  Tensor out = *Tensor::Allocate(dtype, t.shape());
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (dtype == DType::kF32) {
      out.data<float>()[i] = static_cast<float>(t.ElementAsDouble(i));
    } else {
      out.data<double>()[i] = t.ElementAsDouble(i);
    }
  }
  return out;
}

std::map<std::string, Tensor> Feeds(DType dtype) {
  std::map<std::string, Tensor> feeds;
  for (const char* in : kBertInputs) feeds[in] = AsDType(Golden(in), dtype);
  return feeds;
}

// ||got - want|| / max(||want||, 1): relative, except for gradients that
// are zero in exact arithmetic (a key bias does not change the softmax),
// where PyTorch's f64 holds rounding noise (1e-17) and f32 its own (1e-8).
double NormwiseError(const Tensor& got, const Tensor& want,
                     const std::string& what) {
  EXPECT_EQ(got.shape(), want.shape()) << what;
  if (got.shape() != want.shape()) return INFINITY;
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const double w = want.ElementAsDouble(i);
    diff += std::pow(got.ElementAsDouble(i) - w, 2);
    norm += w * w;
  }
  return std::sqrt(diff / std::max(norm, 1.0));
}

struct Fetched {
  std::vector<std::string> names;  // Golden stems, fetch by fetch.
  std::vector<Tensor> values;
  int bf16_kernels = 0;
  int bf16_copies_reused = 0;
  int views = 0;
};

// A model's goldens: its outputs, feeds and the stem prefix of its files.
struct GoldenModel {
  std::vector<std::string> outputs;
  std::map<std::string, Tensor> feeds;
  std::string prefix;  // "" or "classify/".
};

GoldenModel Pretraining(DType dtype) {
  return {
      {"sequence_output", "pooled_output", "mlm_logits", "nsp_logits", "loss"},
      Feeds(dtype),
      ""};
}

// The five outputs and every Parameter's gradient (the model's, when
// given), of the last of `steps` runs; between runs each Parameter takes
// a plain gradient step, p -= 0.5 g, as an optimizer would.
Fetched RunWithGradients(Graph graph, DType dtype,
                         const ExecutorOptions& options, const std::string& act,
                         GoldenModel model = {}, int steps = 1) {
  if (model.outputs.empty()) model = Pretraining(dtype);
  Fetched run;
  auto valid = ValidateGraph({graph, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return run;
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  if (!grad.ok()) return run;
  std::vector<std::string> fetches;
  for (const std::string& out : model.outputs) {
    fetches.push_back(out);
    run.names.push_back(absl::StrCat(model.prefix, act, "_", out));
  }
  for (size_t k = 0; k < grad->wrt.size(); ++k) {
    fetches.push_back(grad->gradients[k]);
    run.names.push_back(absl::StrCat(model.prefix, act, "_d_", grad->wrt[k]));
  }
  auto ex = Executor::Create(std::move(grad->graph), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  if (!ex.ok()) return run;
  for (int step = 0; step < steps; ++step) {
    auto got = (*ex)->Run(model.feeds, fetches);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return run;
    run.values = *got;
    if (step + 1 == steps) break;
    for (size_t k = 0; k < grad->wrt.size(); ++k) {
      Tensor* p = (*ex)->mutable_value(grad->wrt[k]);
      EXPECT_NE(p, nullptr) << grad->wrt[k];
      if (p == nullptr) return run;
      const Tensor& g = run.values[model.outputs.size() + k];
      for (int64_t i = 0; i < p->num_elements(); ++i) {
        p->data<float>()[i] -= 0.5f * g.data<float>()[i];
      }
    }
  }
  run.bf16_kernels = (*ex)->last_plan_stats().bf16_kernels;
  run.bf16_copies_reused = (*ex)->last_plan_stats().bf16_copies_reused;
  run.views = (*ex)->last_plan_stats().views;
  return run;
}

class BertGoldens : public testing::TestWithParam<const char*> {};

TEST_P(BertGoldens, Float64ReferenceMatchesPyTorchTo1e9) {
  const std::string act = GetParam();
  Fetched run = RunWithGradients(GoldenGraph(act, DType::kF64), DType::kF64,
                                 {Backend::kReference}, act);
  ASSERT_EQ(run.values.size(), run.names.size());
  // 5 outputs; 5 embedding, 16 per layer, 2 pooler, 5 MLM, 2 NSP params.
  ASSERT_EQ(run.names.size(), 5u + 5 + 16 * 2 + 2 + 5 + 2);
  double worst = 0;
  for (size_t k = 0; k < run.values.size(); ++k) {
    const double err =
        MaxError(run.values[k], Golden(run.names[k]), run.names[k]);
    EXPECT_LT(err, 1e-9) << run.names[k];
    worst = std::max(worst, err);
  }
  std::printf(
      "%s f64 reference: 5 outputs and %zu gradients, max abs error "
      "%.3g\n",
      act.c_str(), run.values.size() - 5, worst);
}

// The worst normwise error of a run against the goldens, and where.
std::pair<double, std::string> WorstNormwiseError(const Fetched& run) {
  EXPECT_EQ(run.values.size(), run.names.size());
  std::pair<double, std::string> worst = {0, ""};
  for (size_t k = 0; k < run.values.size() && k < run.names.size(); ++k) {
    worst = std::max(worst, {NormwiseError(run.values[k], Golden(run.names[k]),
                                           run.names[k]),
                             run.names[k]});
  }
  return worst;
}

// f32 on oneDNN to f32's rounding; bf16 mixed precision (every matrix
// product on bf16 operands, f32 accumulation) within bf16's 2^-9 relative
// per operand grown through two layers and the backward pass, and
// measurably further off than f32, so that bf16 did run.
TEST_P(BertGoldens, Float32AndBf16OneDnnMatchPyTorchNormwise) {
  const std::string act = GetParam();
  const Fetched f32 = RunWithGradients(GoldenGraph(act, DType::kF32),
                                       DType::kF32, {Backend::kOneDnn}, act);
  ASSERT_FALSE(f32.values.empty());
  const double f32_err = WorstNormwiseError(f32).first;
  EXPECT_LT(f32_err, 1e-4);
  std::printf("%s f32 oneDNN: worst normwise relative error %.3g\n",
              act.c_str(), f32_err);
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  ExecutorOptions options{Backend::kOneDnn};
  options.precision = Precision::kBf16;
  options.bf16_min_multiply_adds = 0;  // The goldens' model is tiny.
  const Fetched bf16 = RunWithGradients(GoldenGraph(act, DType::kF32),
                                        DType::kF32, options, act);
  ASSERT_FALSE(bf16.values.empty());
  EXPECT_GT(bf16.bf16_kernels, 0);
  const auto [bf16_err, where] = WorstNormwiseError(bf16);
  EXPECT_LT(bf16_err, 3e-2);
  EXPECT_GT(bf16_err, 10 * f32_err);
  std::printf(
      "%s bf16 oneDNN: worst normwise relative error %.3g, of %s (%d "
      "kernels on bf16)\n",
      act.c_str(), bf16_err, where.c_str(), bf16.bf16_kernels);
}

// The bf16 step against the f32 step on oneDNN, both on the goldens'
// model and inputs: the loss within 1e-2 relative, every gradient within
// 3e-2 normwise (bf16 keeps 8 significant bits; the errors grow through
// two layers and the backward pass: a third of the gradients are within
// 1e-2, the worst at 2.5e-2).
TEST_P(BertGoldens, Bf16StepMatchesF32Step) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const std::string act = GetParam();
  const Fetched f32 = RunWithGradients(GoldenGraph(act, DType::kF32),
                                       DType::kF32, {Backend::kOneDnn}, act);
  ExecutorOptions options{Backend::kOneDnn};
  options.precision = Precision::kBf16;
  options.bf16_min_multiply_adds = 0;  // The goldens' model is tiny.
  const Fetched bf16 = RunWithGradients(GoldenGraph(act, DType::kF32),
                                        DType::kF32, options, act);
  ASSERT_EQ(bf16.values.size(), f32.values.size());
  ASSERT_EQ(bf16.values.size(), bf16.names.size());
  EXPECT_GT(bf16.bf16_kernels, 0);
  int within_1e2 = 0, gradients = 0;
  double worst = 0;
  for (size_t k = 0; k < f32.values.size(); ++k) {
    const std::string& name = bf16.names[k];
    const double err = NormwiseError(bf16.values[k], f32.values[k], name);
    if (absl::EndsWith(name, "_loss")) {
      const double want = f32.values[k].ElementAsDouble(0);
      EXPECT_LT(std::abs(bf16.values[k].ElementAsDouble(0) - want),
                1e-2 * std::abs(want));
    }
    if (name.find("_d_") == std::string::npos) continue;
    ++gradients;
    within_1e2 += err < 1e-2;
    worst = std::max(worst, err);
    EXPECT_LT(err, 3e-2) << name;
  }
  std::printf(
      "%s bf16 step against f32: %d of %d gradients within 1e-2 normwise, "
      "worst %.3g\n",
      act.c_str(), within_1e2, gradients, worst);
}

// Each tensor's bf16 copy, made once per run by the first product that
// reads it and read by the later ones (ExecutorOptions::share_conversions),
// is never stale: over two steps with the parameters changed between them,
// every output and gradient of the second step equals, bit for bit, that
// of a run where every product rounds its own operands.
TEST_P(BertGoldens, SharedBf16CopiesChangeNoBitOverTwoSteps) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const std::string act = GetParam();
  ExecutorOptions options{Backend::kOneDnn};
  options.precision = Precision::kBf16;
  options.bf16_min_multiply_adds = 0;
  options.share_conversions = false;
  const Fetched own = RunWithGradients(GoldenGraph(act, DType::kF32),
                                       DType::kF32, options, act, {}, 2);
  options.share_conversions = true;
  const Fetched shared = RunWithGradients(GoldenGraph(act, DType::kF32),
                                          DType::kF32, options, act, {}, 2);
  const Fetched first = RunWithGradients(GoldenGraph(act, DType::kF32),
                                         DType::kF32, options, act, {}, 1);
  ASSERT_EQ(shared.values.size(), own.values.size());
  ASSERT_EQ(first.values.size(), own.values.size());
  ASSERT_FALSE(own.values.empty());
  EXPECT_EQ(own.bf16_copies_reused, 0);
  // The weights (forward, then dX = dY W^T), activations (forward, then
  // dW = X^T dY) and output gradients (dX and dW) of every product.
  EXPECT_GT(shared.bf16_copies_reused, shared.bf16_kernels / 2);
  // The step changed the parameters: the second step's loss is not the
  // first's.
  EXPECT_FALSE(shared.values[4].BitwiseEquals(first.values[4]));
  for (size_t k = 0; k < shared.values.size(); ++k) {
    EXPECT_TRUE(shared.values[k].BitwiseEquals(own.values[k]))
        << shared.names[k];
  }
}

// Identity and Reshape results that share their input's buffer
// (ExecutorOptions::views) change no bit of the outputs or gradients, the
// tied word embeddings' summed gradient among them, on either backend.
TEST_P(BertGoldens, ViewsChangeNoBitOfTheStep) {
  const std::string act = GetParam();
  for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
    ExecutorOptions options{backend};
    options.views = false;
    const Fetched copies = RunWithGradients(GoldenGraph(act, DType::kF32),
                                            DType::kF32, options, act);
    options.views = true;
    const Fetched views = RunWithGradients(GoldenGraph(act, DType::kF32),
                                           DType::kF32, options, act);
    ASSERT_EQ(views.values.size(), copies.values.size());
    ASSERT_FALSE(views.values.empty());
    EXPECT_EQ(copies.views, 0);
    EXPECT_GT(views.views, 10) << BackendName(backend);
    for (size_t k = 0; k < views.values.size(); ++k) {
      EXPECT_TRUE(views.values[k].BitwiseEquals(copies.values[k]))
          << views.names[k] << " on " << BackendName(backend);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Bert, BertGoldens,
                         testing::Values("gelu", "gelu_new"));

// BertForSequenceClassification (num_labels 3) against PyTorch's: the
// shared encoder and pooler, then the classifier on the pooled output.
const std::string kClassifyHf = kDir + "/classify/hf";

GoldenModel Classifier(DType dtype) {
  GoldenModel m{
      {"sequence_output", "pooled_output", "logits", "loss"}, {}, "classify/"};
  for (const char* in : kBertClassifierInputs) {
    m.feeds[in] = Golden(std::string(in) == "labels" ? "classify/labels" : in);
  }
  return m;
}

Graph ClassifierGraph(const std::string& act, DType dtype) {
  BertSpec s = HfSpec(act);
  s.set_num_labels(3);
  s.set_max_predictions_per_seq(0);
  auto g = BuildBertGraph(Options(s, dtype));
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Graph();
  absl::Status status = ImportHfBertWeights(kClassifyHf, &*g);
  EXPECT_TRUE(status.ok()) << status;
  return *g;
}

TEST_P(BertGoldens, ClassifierMatchesPyTorch) {
  const std::string act = GetParam();
  Fetched f64 =
      RunWithGradients(ClassifierGraph(act, DType::kF64), DType::kF64,
                       {Backend::kReference}, act, Classifier(DType::kF64));
  // 4 outputs; 5 embedding, 16 per layer, 2 pooler, 2 classifier params.
  ASSERT_EQ(f64.names.size(), 4u + 5 + 16 * 2 + 2 + 2);
  ASSERT_EQ(f64.values.size(), f64.names.size());
  for (size_t k = 0; k < f64.values.size(); ++k) {
    EXPECT_LT(MaxError(f64.values[k], Golden(f64.names[k]), f64.names[k]), 1e-9)
        << f64.names[k];
  }
  const Fetched f32 =
      RunWithGradients(ClassifierGraph(act, DType::kF32), DType::kF32,
                       {Backend::kOneDnn}, act, Classifier(DType::kF32));
  ASSERT_EQ(f32.values.size(), f64.names.size());
  const auto [err, where] = WorstNormwiseError(f32);
  EXPECT_LT(err, 1e-4) << where;
  std::printf("%s classifier: f64 within 1e-9, f32 oneDNN normwise %.3g\n",
              act.c_str(), err);
}

// The encoder and pooler are the pretraining graph's: the same Parameters
// (names, shapes, initial values), only the heads differ.
TEST(Bert, ClassifierSharesTheEncoderWithPretraining) {
  BertSpec s = HfSpec("gelu");
  s.set_initializer_range(0.02);
  auto pretraining = BuildBertGraph(Options(s, DType::kF32));
  s.set_num_labels(4);
  auto classifier = BuildBertGraph(Options(s, DType::kF32));
  ASSERT_TRUE(pretraining.ok() && classifier.ok());
  std::vector<std::string> heads;
  for (const Node& n : classifier->node()) {
    if (n.op() != "Parameter") continue;
    Node* same = FindNode(&*pretraining, n.name());
    if (same == nullptr) {
      heads.push_back(n.name());
      continue;
    }
    EXPECT_EQ(SourceValue(n, 1 << 22)->shape(),
              SourceValue(*same, 1 << 22)->shape())
        << n.name();
    EXPECT_TRUE(MessageDifferencer::Equals(n, *same)) << n.name();
  }
  EXPECT_EQ(heads,
            (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
  for (const Node& n : pretraining->node()) {
    if (n.op() == "Parameter" && n.name().rfind("cls.", 0) == 0) {
      EXPECT_EQ(FindNode(&*classifier, n.name()), nullptr) << n.name();
    }
  }
  std::vector<std::string> inputs,
      outputs(classifier->output().begin(), classifier->output().end());
  for (const Node& n : classifier->node()) {
    if (n.op() == "Input") inputs.push_back(n.name());
  }
  EXPECT_EQ(inputs, std::vector<std::string>(std::begin(kBertClassifierInputs),
                                             std::end(kBertClassifierInputs)));
  EXPECT_EQ(outputs,
            (std::vector<std::string>{"sequence_output", "pooled_output",
                                      "logits", "loss"}));
  // Classifier dropout defaults to hidden_dropout_prob.
  s.set_hidden_dropout_prob(0.1);
  auto dropped = BuildBertGraph(Options(s, DType::kF32));
  ASSERT_TRUE(dropped.ok());
  EXPECT_NE(FindNode(&*dropped, "classifier/dropout"), nullptr);
  s.set_classifier_dropout(0);
  dropped = BuildBertGraph(Options(s, DType::kF32));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(FindNode(&*dropped, "classifier/dropout"), nullptr);
  ModelSpec spec;
  *spec.mutable_bert() = s;
  const std::vector<Metric> metrics = DefaultMetrics(spec);
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].name(), "accuracy");
  EXPECT_EQ(metrics[1].kind(), "macro_f1");
  EXPECT_EQ(metrics[1].logits(), "logits");
  EXPECT_EQ(metrics[1].labels(), "labels");
}

// A label outside [0, num_labels) is refused with its row before anything
// runs.
TEST(Bert, ClassifierLabelOutOfRangeIsRefusedNamingTheRow) {
  auto valid = ValidateGraph({ClassifierGraph("gelu", DType::kF64), {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::map<std::string, Tensor> feeds = Classifier(DType::kF64).feeds;
  ASSERT_TRUE((*ex)->Run(feeds, {"loss"}).ok());
  feeds["labels"].data<int64_t>()[2] = 3;
  auto bad = (*ex)->Run(feeds, {"loss"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "feed 'labels': row 2, element 0 is 3, but the input allows only "
            "0, 1, 2");
}

// The word embeddings' gradient sums the lookup's and the decoder's: with
// the decoder reading an untied copy it is the lookup's alone (PyTorch's,
// from an untied model), and the tied one differs from both parts.
TEST(Bert, TiedWordEmbeddingGetsBothUsesGradients) {
  Graph tied = GoldenGraph("gelu", DType::kF64);
  Graph untied = tied;
  Node* word = FindNode(&untied, kWord);
  ASSERT_NE(word, nullptr);
  Node* copy = untied.add_node();
  *copy = *word;
  copy->set_name("decoder_copy");
  copy->set_op("Const");
  Node* decoder = FindNode(&untied, "cls.predictions/decoder");
  ASSERT_NE(decoder, nullptr);
  ASSERT_EQ(decoder->input(1), kWord);
  decoder->set_input(1, "decoder_copy");
  auto gradient_of_word = [](const Fetched& run) {
    for (size_t k = 0; k < run.names.size(); ++k) {
      if (run.names[k] == absl::StrCat("gelu_d_", kWord)) return run.values[k];
    }
    ADD_FAILURE() << "no gradient of " << kWord;
    return Tensor();
  };
  Tensor both = gradient_of_word(
      RunWithGradients(tied, DType::kF64, {Backend::kReference}, "gelu"));
  Tensor lookup = gradient_of_word(
      RunWithGradients(untied, DType::kF64, {Backend::kReference}, "gelu"));
  EXPECT_LT(MaxError(both, Golden(absl::StrCat("gelu_d_", kWord)), "tied"),
            1e-9);
  EXPECT_LT(MaxError(lookup, Golden("gelu_d_word_lookup"), "lookup"), 1e-9);
  EXPECT_GT(MaxError(both, Golden("gelu_d_word_lookup"), "tied - lookup"),
            1e-3);
  EXPECT_GT(MaxError(both, Golden("gelu_d_word_decoder"), "tied - decoder"),
            1e-3);
}

TEST(Bert, InputsAreThePretrainingDataFiles) {
  ASSERT_EQ(std::size(kBertInputs), std::size(kPretrainingInputs));
  for (size_t i = 0; i < std::size(kBertInputs); ++i) {
    EXPECT_EQ(std::string(kBertInputs[i]), kPretrainingInputs[i]);
  }
}

// An attention_mask value other than 0 or 1 would silently scale the
// -10000 offset; the graph declares the two, so a feed is refused naming
// its row, on every run.
TEST(Bert, AttentionMaskOtherThanZeroOrOneIsRefusedNamingTheRow) {
  Graph graph = GoldenGraph("gelu", DType::kF64);
  auto valid = ValidateGraph({graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::map<std::string, Tensor> feeds = Feeds(DType::kF64);
  ASSERT_TRUE((*ex)->Run(feeds, {"loss"}).ok());
  Tensor& mask = feeds["attention_mask"];
  const int64_t seq = mask.shape().dim(1);
  mask.data<int64_t>()[seq + 4] = 2;  // Row 1, position 4.
  auto bad = (*ex)->Run(feeds, {"loss"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "feed 'attention_mask': row 1, element 4 is 2, but the input "
            "allows only 0, 1");
}

// Issue 16: a token id >= vocab_size, a token type >= type_vocab_size or a
// masked position >= seq_length is refused before anything runs, naming the
// input, the row and the id.
TEST(Bert, TokenIdsOutsideTheVocabularyAreRefusedNamingTheRow) {
  Graph graph = GoldenGraph("gelu", DType::kF64);
  auto valid = ValidateGraph({graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  const BertOptions o = Options(HfSpec("gelu"), DType::kF64);
  auto ex = Executor::Create(*std::move(valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  struct Case {
    const char* input;
    int64_t size;
  };
  for (const Case& c : {Case{"input_ids", o.vocab_size},
                        Case{"token_type_ids", o.type_vocab_size},
                        Case{"masked_lm_positions", o.seq_length}}) {
    SCOPED_TRACE(c.input);
    std::map<std::string, Tensor> feeds = Feeds(DType::kF64);
    Tensor& ids = feeds[c.input];
    ids.data<int64_t>()[ids.shape().dim(1)] = c.size;  // Row 1, element 0.
    auto bad = (*ex)->Run(feeds, {"loss"});
    ASSERT_FALSE(bad.ok());
    const std::string want = absl::StrCat(
        "feed '", c.input, "': row 1, element 0: index ", c.size,
        " is outside [0, ", c.size, "); input '", c.input, "' feeds ");
    EXPECT_EQ(bad.status().message().substr(0, want.size()), want)
        << bad.status();
    EXPECT_NE(bad.status().message().find("(Gather)"), std::string::npos)
        << bad.status();
  }
}

// Every Parameter carries its HF state_dict name and shape, in HF's order,
// and HF's saved state_dict holds exactly those plus the known extras.
TEST(Bert, ParametersHaveHfNamesShapesAndInit) {
  const BertOptions o = Options(HfSpec("gelu"), DType::kF32);
  auto g = BuildBertGraph(o);
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<BertParameter> want = BertParameters(o);
  std::vector<const Node*> params;
  for (const Node& n : g->node()) {
    if (n.op() == "Parameter") params.push_back(&n);
  }
  ASSERT_EQ(params.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(params[i]->name(), want[i].name);
    auto t = SourceValue(*params[i], 1 << 20);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->shape(), want[i].shape) << want[i].name;
    auto golden =
        ReadNpy(absl::StrCat(kHf, "/", want[i].name, ".npy"), 1 << 20);
    ASSERT_TRUE(golden.ok()) << golden.status();
    EXPECT_EQ(golden->shape(), want[i].shape) << want[i].name;
    // normal(0, 0.02) weights, zero biases, LayerNorm 1 and 0.
    double sum = 0, sq = 0;
    for (int64_t k = 0; k < t->num_elements(); ++k) {
      sum += t->ElementAsDouble(k);
      sq += t->ElementAsDouble(k) * t->ElementAsDouble(k);
    }
    const double n = t->num_elements();
    const std::string& name = want[i].name;
    if (name.find("LayerNorm.weight") != std::string::npos) {
      EXPECT_EQ(sum, n) << name;
    } else if (name.size() > 4 && name.substr(name.size() - 4) == "bias") {
      EXPECT_EQ(sq, 0) << name;
    } else if (n >= 256) {
      EXPECT_NEAR(std::sqrt(sq / n), 0.02, 0.003) << name;
      EXPECT_NEAR(sum / n, 0, 0.004) << name;
    }
  }
  int npy = 0;
  for (const auto& e : fs::directory_iterator(kHf)) {
    npy += e.path().extension() == ".npy";
  }
  EXPECT_EQ(npy, static_cast<int>(want.size()) + 3);  // 2 tied, position_ids
}

TEST(Bert, DropoutWhereHfPutsIt) {
  BertSpec s = HfSpec("gelu");
  s.set_hidden_dropout_prob(0.1);
  s.set_attention_probs_dropout_prob(0.1);
  auto g = BuildBertGraph(Options(s, DType::kF32));
  ASSERT_TRUE(g.ok()) << g.status();
  int dropouts = 0;
  for (const Node& n : g->node()) dropouts += n.op() == "Dropout";
  // Embeddings; per layer the attention probabilities and two hidden.
  EXPECT_EQ(dropouts, 1 + 3 * 2);
  s.set_hidden_dropout_prob(0);
  s.set_attention_probs_dropout_prob(0);
  g = BuildBertGraph(Options(s, DType::kF32));
  ASSERT_TRUE(g.ok());
  for (const Node& n : g->node()) EXPECT_NE(n.op(), "Dropout") << n.name();
}

void ExpectError(const absl::Status& s, const std::string& part) {
  EXPECT_FALSE(s.ok()) << "expected an error with '" << part << "'";
  EXPECT_NE(std::string(s.message()).find(part), std::string::npos) << s;
}

TEST(Bert, SpecErrorsNameTheField) {
  auto build = [](const std::function<void(BertSpec&)>& edit) {
    ModelSpec spec;
    *spec.mutable_bert() = HfSpec("gelu");
    edit(*spec.mutable_bert());
    return BuildModel(spec).status();
  };
  ExpectError(build([](BertSpec& s) { s.set_hidden_size(15); }),
              "bert.hidden_size: 15: must be divisible by num_attention_heads");
  ExpectError(build([](BertSpec& s) { s.set_hidden_act("relu"); }),
              "bert.hidden_act: 'relu'");
  ExpectError(build([](BertSpec& s) { s.set_num_labels(1); }),
              "bert.num_labels: 1: must be >= 2");
  ExpectError(build([](BertSpec& s) { s.set_num_labels(-3); }),
              "bert.num_labels: -3");
  ExpectError(build([](BertSpec& s) {
                s.set_num_labels(2);
                s.set_classifier_dropout(1.5);
              }),
              "bert.classifier_dropout: 1.5: must be in [0, 1)");
  ExpectError(build([](BertSpec& s) { s.set_seq_length(17); }),
              "bert.seq_length: 17: must be <= max_position_embeddings 16");
  ExpectError(build([](BertSpec& s) { s.set_vocab_size(0); }),
              "bert.vocab_size: 0: must be >= 1");
  ExpectError(build([](BertSpec& s) { s.set_hidden_dropout_prob(1); }),
              "bert.hidden_dropout_prob");
  ExpectError(build([](BertSpec& s) { s.set_max_predictions_per_seq(13); }),
              "bert.max_predictions_per_seq");
  ExpectError(build([](BertSpec& s) { s.set_vocab_size(int64_t{1} << 40); }),
              "bert.vocab_size");
  ModelSpec both;
  *both.mutable_bert() = HfSpec("gelu");
  both.mutable_seq2seq()->set_vocab_size(5);
  ExpectError(BuildModel(both).status(), "bert: stands alone");
}

TEST(Bert, ConfigJsonErrorsNameTheField) {
  const std::string good = *ReadFileCapped(kHf + "/config.json", 1 << 20);
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return BertSpecFromHfConfig(text, "c.json").status();
  };
  ExpectError(edited("\"hidden_size\": 16", "\"hidden_size\": 15"),
              "c.json: hidden_size: 15: must be divisible by "
              "num_attention_heads 2");
  ExpectError(edited("\"vocab_size\": 50,", ""), "c.json: vocab_size: missing");
  ExpectError(edited("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 2.5"),
              "c.json: num_hidden_layers: 2.5: expected a whole number");
  ExpectError(edited("\"hidden_act\": \"gelu\"", "\"hidden_act\": 1"),
              "c.json: hidden_act: expected a string");
  ExpectError(edited("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\""),
              "c.json: hidden_act: 'swish'");
  ExpectError(edited("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\""),
              "c.json: model_type: 'gpt2'");
  ExpectError(edited("{", "["), "c.json: not a JSON object");
  auto spec = BertSpecFromHfConfig(good, "c.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->hidden_size(), 16);
  EXPECT_EQ(spec->layer_norm_eps(), 1e-12);
  EXPECT_EQ(spec->hidden_dropout_prob(), 0);
}

// A copy of the golden state_dict to spoil.
std::string CopyOfHf(const std::string& name) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/", name);
  fs::remove_all(dir);
  fs::copy(kHf, dir);
  return dir;
}

TEST(Bert, ImportErrorsNameTheEntryAndLeaveTheGraph) {
  auto g = BuildBertGraph(Options(HfSpec("gelu"), DType::kF32));
  ASSERT_TRUE(g.ok());
  const std::string before = g->SerializeAsString();
  std::string dir = CopyOfHf("missing");
  fs::remove(dir + "/bert.encoder.layer.1.output.dense.bias.npy");
  ExpectError(ImportHfBertWeights(dir, &*g),
              "missing entry 'bert.encoder.layer.1.output.dense.bias'");
  dir = CopyOfHf("extra");
  fs::copy(kHf + "/cls.predictions.bias.npy", dir + "/cls.extra.bias.npy");
  ExpectError(ImportHfBertWeights(dir, &*g), "extra entry 'cls.extra.bias'");
  dir = CopyOfHf("misshapen");
  fs::copy(kHf + "/cls.seq_relationship.bias.npy",
           dir + "/bert.pooler.dense.bias.npy",
           fs::copy_options::overwrite_existing);
  ExpectError(ImportHfBertWeights(dir, &*g),
              "bert.pooler.dense.bias.npy (Parameter bert.pooler.dense.bias): "
              "shape [2], expected [16]");
  // A file larger than its Parameter is refused unread, still named.
  fs::copy(kHf + "/cls.predictions.bias.npy",
           dir + "/bert.pooler.dense.bias.npy",
           fs::copy_options::overwrite_existing);
  ExpectError(ImportHfBertWeights(dir, &*g),
              "bert.pooler.dense.bias.npy (Parameter bert.pooler.dense.bias)");
  dir = CopyOfHf("untied");
  ASSERT_TRUE(WriteNpy(dir + "/cls.predictions.decoder.bias.npy",
                       Golden("hf/bert.pooler.dense.bias"))
                  .ok());
  ExpectError(ImportHfBertWeights(dir, &*g),
              "entry 'cls.predictions.decoder.bias' (tied to "
              "cls.predictions.bias)");
  EXPECT_EQ(g->SerializeAsString(), before);
}

// Exports `g` to a new `out` and checks each file equals the golden
// <golden_prefix><stem>; returns the number of files.
int ExportMatchingGoldens(const Graph& g, const std::string& out,
                          const std::string& golden_prefix) {
  fs::remove_all(out);
  fs::create_directories(out);
  absl::Status s = ExportHfBertWeights(g, {}, out);
  EXPECT_TRUE(s.ok()) << s;
  int files = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    ++files;
    const std::string stem = e.path().stem().string();
    auto got = ReadNpy(e.path().string(), 1 << 20);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) continue;
    EXPECT_EQ(MaxError(*got, Golden(golden_prefix + stem), stem), 0) << stem;
  }
  return files;
}

// A classifier's state_dict (bert.* and classifier.*, no tied entries)
// round-trips through export and import.
TEST(Bert, ClassifierExportsAndImportsHfNames) {
  Graph g = ClassifierGraph("gelu", DType::kF64);
  const std::string out = absl::StrCat(testing::TempDir(), "/classifier");
  EXPECT_EQ(ExportMatchingGoldens(g, out, "classify/hf/"), 5 + 16 * 2 + 2 + 2);
  auto spec = ReadHfBertConfig(kClassifyHf + "/config.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->has_classifier_dropout());  // null: hidden's.
  // A pretraining directory has no classifier; a classifier's has cls.*
  // entries the pretraining graph lacks.
  ExpectError(ImportHfBertWeights(kHf, &g),
              "missing entry 'classifier.weight'");
  fs::copy(kHf + "/cls.seq_relationship.bias.npy",
           out + "/cls.seq_relationship.bias.npy");
  ExpectError(ImportHfBertWeights(out, &g),
              "extra entry 'cls.seq_relationship.bias': not a parameter of "
              "BertForSequenceClassification");
  fs::remove(out + "/cls.seq_relationship.bias.npy");
  Graph fresh = ClassifierGraph("gelu", DType::kF64);
  ASSERT_TRUE(ImportHfBertWeights(out, &fresh).ok());
}

// Export writes the Parameters and the tied entries, equal to what was
// imported; a BertModel's directory (no "bert." prefix, no heads) imports
// the encoder alone.
TEST(Bert, ExportRoundTripsAndBertModelImports) {
  Graph g = GoldenGraph("gelu", DType::kF64);
  const std::string out = absl::StrCat(testing::TempDir(), "/exported");
  EXPECT_EQ(ExportMatchingGoldens(g, out, "hf/"), 5 + 16 * 2 + 2 + 5 + 2 + 2);
  const std::string model = absl::StrCat(testing::TempDir(), "/bert_model");
  fs::remove_all(model);
  fs::create_directories(model);
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("bert.", 0) == 0)
      fs::copy(e.path(), model + "/" + name.substr(5));
  }
  auto fresh = BuildBertGraph(Options(HfSpec("gelu"), DType::kF64));
  ASSERT_TRUE(fresh.ok());
  const Node before = *FindNode(&*fresh, "cls.seq_relationship.weight");
  absl::Status s = ImportHfBertWeights(model, &*fresh);
  ASSERT_TRUE(s.ok()) << s;
  auto word = SourceValue(*FindNode(&*fresh, kWord), 1 << 20);
  EXPECT_EQ(MaxError(*word, Golden(absl::StrCat("hf/", kWord)), "word"), 0);
  // Equal as messages: the attr map's serialized order is not fixed.
  EXPECT_TRUE(MessageDifferencer::Equals(
      *FindNode(&*fresh, "cls.seq_relationship.weight"), before));
}

// config.json from a graph (what `rill bert export-hf` writes beside the
// weights) reads back as the spec the graph was built from: the golden
// config's, one with dropout, the tanh GELU and other eps and range, and
// classifiers (whose classifier_dropout defaults to the hidden one's).
TEST(Bert, ConfigJsonFromTheGraphRoundTrips) {
  BertSpec golden = HfSpec("gelu");
  BertSpec other = golden;
  other.set_hidden_act("gelu_new");
  other.set_hidden_dropout_prob(0.125);
  other.set_attention_probs_dropout_prob(0.25);
  other.set_layer_norm_eps(1e-7);
  other.set_initializer_range(0.03);
  BertSpec classifier = other;
  classifier.set_num_labels(3);
  BertSpec own_dropout = golden;
  own_dropout.set_num_labels(4);
  own_dropout.set_classifier_dropout(0.375);
  for (const BertSpec& spec : {golden, other, classifier, own_dropout}) {
    SCOPED_TRACE(spec.hidden_act());
    auto g = BuildBertGraph(Options(spec, DType::kF32));
    ASSERT_TRUE(g.ok()) << g.status();
    auto from_graph = BertSpecFromGraph(*g);
    ASSERT_TRUE(from_graph.ok()) << from_graph.status();
    const std::string json = HfBertConfigJson(*from_graph);
    auto back = BertSpecFromHfConfig(json, "config.json");
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << json;
    BertSpec want = spec;
    want.clear_seq_length();
    want.clear_max_predictions_per_seq();
    want.clear_seed();
    if (!want.has_initializer_range()) want.set_initializer_range(0.02);
    // The head is the caller's choice on import (--num_labels).
    EXPECT_EQ(from_graph->num_labels(), spec.num_labels());
    want.clear_num_labels();
    if (spec.num_labels() > 0 && !want.has_classifier_dropout()) {
      want.set_classifier_dropout(want.hidden_dropout_prob());
    }
    EXPECT_TRUE(MessageDifferencer::Equals(*back, want))
        << back->DebugString() << "\nwant\n"
        << want.DebugString();
  }
  ExpectError(BertSpecFromGraph(Graph()).status(), "not a BERT graph");
}

}  // namespace
}  // namespace rill

// Validation metrics: exact counts across batches (MetricCounts), macro-F1
// by hand, the trainer's metric columns, keep_best and early stopping, the
// model specs' default metrics, and config errors that name the field.

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "config/train_config.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "graph/graph_builder.h"
#include "gtest/gtest.h"
#include "models/model_spec.h"
#include "tests/test_util.h"
#include "train/metric_counts.h"
#include "train/trainer.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

Tensor I64(std::vector<int64_t> values) {
  Tensor t = *Tensor::Allocate(DType::kI64,
                               Shape{static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
  return t;
}

Tensor F32(std::vector<float> values) {
  Tensor t = *Tensor::Allocate(DType::kF32,
                               Shape{static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

// Batch 1: two positions that count, both right (ratio 1). Batch 2: six
// positions, four that count (weight 1), one of them right (ratio 1/4).
// Exact: 3 right of 6 = 0.5; the mean of the batch ratios would be 0.625.
TEST(MetricCounts, AccuracyIsExactAcrossBatchesOfUnequalWeight) {
  MetricCounts counts(MetricKind::kAccuracy, 3);
  ASSERT_TRUE(counts.Add(I64({1, 2}), I64({1, 2}), nullptr, 0).ok());
  Tensor weights = F32({1, 1, 1, 1, 0, 0});
  ASSERT_TRUE(
      counts.Add(I64({0, 0, 1, 1, 2, 0}), I64({0, 1, 2, 0, 2, 1}), &weights, 2)
          .ok());
  EXPECT_DOUBLE_EQ(counts.Value(), 0.5);
  counts.Reset();
  EXPECT_TRUE(std::isnan(counts.Value()));  // Nothing counted.
}

TEST(MetricCounts, IgnoreLabelPositionsDoNotCount) {
  MetricCounts counts(MetricKind::kAccuracy, 3, -100);
  ASSERT_TRUE(
      counts.Add(I64({0, 1, 2, 0}), I64({0, -100, 1, -100}), nullptr, 0).ok());
  EXPECT_DOUBLE_EQ(counts.Value(), 0.5);
}

// labels [0 0 1 1 2], predictions [0 1 1 1 0], 4 classes:
//   class 0: TP 1, FP 1 (the 2 taken for 0), FN 1 -> F1 2/4 = 0.5
//   class 1: TP 2, FP 1, FN 0                     -> F1 4/5 = 0.8
//   class 2: TP 0, FP 0, FN 1                     -> F1 0
//   class 3: neither a label nor a prediction     -> left out
// macro-F1 = (0.5 + 0.8 + 0) / 3, as scikit-learn's f1_score(y, p,
// average="macro") gives with its default labels (those present).
TEST(MetricCounts, MacroF1ByHandInAnyBatching) {
  const double want = (0.5 + 0.8 + 0) / 3;
  MetricCounts whole(MetricKind::kMacroF1, 4);
  ASSERT_TRUE(
      whole.Add(I64({0, 1, 1, 1, 0}), I64({0, 0, 1, 1, 2}), nullptr, 0).ok());
  EXPECT_DOUBLE_EQ(whole.Value(), want);
  MetricCounts split(MetricKind::kMacroF1, 4);
  ASSERT_TRUE(split.Add(I64({0}), I64({0}), nullptr, 0).ok());
  ASSERT_TRUE(split.Add(I64({1, 1, 1, 0}), I64({0, 1, 1, 2}), nullptr, 1).ok());
  EXPECT_DOUBLE_EQ(split.Value(), want);
}

TEST(MetricCounts, BadLabelsAndWeightsNameTheirRowAndAddNothing) {
  MetricCounts counts(MetricKind::kAccuracy, 3);
  absl::Status s = counts.Add(I64({0, 1}), I64({0, 3}), nullptr, 10);
  EXPECT_THAT(s.message(), HasSubstr("labels row 11: 3 is outside [0, 3)"));
  Tensor w = F32({1, -1});
  s = counts.Add(I64({0, 1}), I64({0, 1}), &w, 0);
  EXPECT_THAT(s.message(), HasSubstr("weights row 1: -1"));
  EXPECT_TRUE(std::isnan(counts.Value()));
  EXPECT_THAT(ParseMetricKind("f1").status().message(),
              HasSubstr("'f1': choose accuracy or macro_f1"));
}

// ---- The trainer ----

// Points in [-1, 1]^2 labelled by region (0: x0 > 0.3; else 1: x1 > 0;
// else 2), a linear classifier, and a 0/1 weight per example.
struct Toy {
  ValidGraph graph;
  TrainData data;
};

// x [n, 2], labels [n], keep [n].
std::vector<Tensor> ToyTensors(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{n, 2});
  Tensor labels = *Tensor::Allocate(DType::kI64, Shape{n});
  Tensor weights = *Tensor::Allocate(DType::kF32, Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    float a = u(rng), b = u(rng);
    x.data<float>()[2 * i] = a;
    x.data<float>()[2 * i + 1] = b;
    labels.data<int64_t>()[i] = a > 0.3f ? 0 : b > 0 ? 1 : 2;
    weights.data<float>()[i] = i % 3 == 0 ? 0.f : 1.f;
  }
  return {x, labels, weights};
}

Dataset ToyData(std::vector<Tensor> t) {
  Dataset d;
  d.inputs = {"x", "labels", "keep"};
  d.arrays = {DataArray(t[0]), DataArray(t[1]), DataArray(t[2])};
  return d;
}

Toy MakeToy(std::vector<Tensor> validation) {
  GraphBuilder b("toy", "");
  std::string x = b.Input("x", DType::kF32, {-1, 2});
  std::string labels = b.Input("labels", DType::kI64, {-1});
  b.Input("keep", DType::kF32, {-1});
  Tensor w = *Tensor::Allocate(DType::kF32, Shape{3, 2});
  Tensor bias = *Tensor::Allocate(DType::kF32, Shape{3});
  for (int i = 0; i < 6; ++i) w.data<float>()[i] = 0.1f * (i % 4) - 0.15f;
  for (int i = 0; i < 3; ++i) bias.data<float>()[i] = 0;
  std::string logits =
      b.Linear("logits", x, b.Parameter("w", w), b.Parameter("b", bias));
  b.Op("loss", "SoftmaxCrossEntropy", {logits, labels});
  Graph g;
  EXPECT_TRUE(b.Commit(&g).ok());
  auto valid = ValidateGraph(LoadedGraph{g, SourceMap("toy")});
  EXPECT_TRUE(valid.ok()) << valid.status();
  return Toy{*std::move(valid),
             {ToyData(ToyTensors(64, 1)), ToyData(std::move(validation))}};
}

TrainConfig ToyConfig(const std::string& extra = "") {
  TrainConfig c;
  const std::string text = std::string("loss: 'loss' batch_size: 4 ") +
                           "optimizer { learning_rate: 0.5 sgd {} } " +
                           "steps: 20 eval_every: 5 seed: 1 " +
                           "metric { name: 'accuracy' logits: 'logits' " +
                           "labels: 'labels' weights: 'keep' } " +
                           "metric { name: 'f1' logits: 'logits' " +
                           "labels: 'labels' kind: 'macro_f1' } " + extra;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c));
  return c;
}

absl::StatusOr<std::unique_ptr<Trainer>> MakeTrainer(
    const TrainConfig& config, const std::string& out = "",
    std::vector<std::string>* log = nullptr, int64_t validation = 10) {
  Toy toy = MakeToy(ToyTensors(validation, 2));
  TrainOptions options;
  options.config = config;
  options.out_dir = out;
  options.log = [log](const std::string& line) {
    if (log != nullptr) log->push_back(line);
  };
  return Trainer::Create(std::move(toy.graph), std::move(toy.data), options);
}

// The validation set of 10 runs as batches of 4, 4 and 2 (with 2, 3 and 1
// weighted examples); the figures equal those of all 10 at once, computed
// here from the logits of one forward run.
TEST(TrainerMetrics, EvaluationCountsTheWholeValidationSet) {
  auto t = MakeTrainer(ToyConfig());
  ASSERT_TRUE(t.ok()) << t.status();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*t)->Step().ok());
  auto e = (*t)->EvaluateAll();
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->metrics.size(), 2u);
  EXPECT_EQ(e->metrics[0].first, "val_accuracy");
  EXPECT_EQ(e->metrics[1].first, "val_f1");

  std::vector<Tensor> v = ToyTensors(10, 2);
  auto out = (*t)->executor().Run({{"x", v[0]}}, {"logits"});
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<int64_t> predicted;
  for (int i = 0; i < 10; ++i) {
    const float* row = (*out)[0].data<float>() + 3 * i;
    predicted.push_back(std::max_element(row, row + 3) - row);
  }
  double right = 0, counted = 0;
  for (int i = 0; i < 10; ++i) {
    if (i % 3 == 0) continue;  // Weight 0.
    counted += 1;
    right += predicted[i] == v[1].data<int64_t>()[i];
  }
  EXPECT_DOUBLE_EQ(e->metrics[0].second, right / counted);
  MetricCounts f1(MetricKind::kMacroF1, 3);
  ASSERT_TRUE(f1.Add(I64(predicted), v[1], nullptr, 0).ok());
  EXPECT_DOUBLE_EQ(e->metrics[1].second, f1.Value());
}

TEST(TrainerMetrics, MetricsGoToTheLogAndMetricsCsv) {
  const std::string out = TestTempPath("metrics_csv");
  fs::remove_all(out);
  std::vector<std::string> log;
  auto t = MakeTrainer(ToyConfig(), out, &log);
  ASSERT_TRUE(t.ok()) << t.status();
  auto summary = (*t)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  std::vector<std::string> rows =
      absl::StrSplit(ReadTestFile(out + "/metrics.csv"), '\n');
  EXPECT_EQ(rows[0], "step,loss,lr,grad_norm,val_loss,val_accuracy,val_f1");
  ASSERT_EQ(rows.size(), 22u);  // Header, 20 steps, "" after the last \n.
  for (int step = 1; step <= 20; ++step) {
    std::vector<std::string> f = absl::StrSplit(rows[step], ',');
    ASSERT_EQ(f.size(), 7u) << rows[step];
    EXPECT_EQ(f[6].empty(), step % 5 != 0) << rows[step];
    EXPECT_EQ(f[5].empty(), step % 5 != 0) << rows[step];
  }
  std::vector<std::string> last = absl::StrSplit(rows[20], ',');
  EXPECT_EQ(std::stod(last[5]), summary->val_metrics[0].second);
  int lines_with_metrics = 0;
  for (const std::string& line : log) {
    lines_with_metrics += line.find("val_accuracy") != std::string::npos &&
                          line.find("val_f1") != std::string::npos;
  }
  EXPECT_EQ(lines_with_metrics, 4);
  // The classes are learnable: accuracy ends well above chance.
  EXPECT_GT(summary->val_metrics[0].second, 0.6);
}

// TensorBoard's validation run gets each metric under its name, read back
// by the independent reader tests/train/read_tfevents.py.
TEST(TrainerMetrics, MetricsGoToTensorBoard) {
  const std::string tb = TestTempPath("metrics_tb");
  fs::remove_all(tb);
  Toy toy = MakeToy(ToyTensors(10, 2));
  TrainOptions options;
  options.config = ToyConfig();
  options.tensorboard_dir = tb;
  options.log = [](const std::string&) {};
  auto t = Trainer::Create(std::move(toy.graph), std::move(toy.data), options);
  ASSERT_TRUE(t.ok()) << t.status();
  auto summary = (*t)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  std::vector<std::string> files = ListDir(tb + "/validation");
  ASSERT_EQ(files.size(), 1u);
  const std::string out = TestTempPath("metrics_tb.txt");
  const std::string command =
      absl::StrCat("/usr/bin/python3 tests/train/read_tfevents.py ", tb,
                   "/validation/", files[0], " > ", out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadTestFile(out);
  std::vector<std::string> lines = absl::StrSplit(ReadTestFile(out), '\n');
  std::map<std::string, double> at_20;
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() == 3 && f[0] == "20") at_20[f[1]] = std::stod(f[2]);
  }
  ASSERT_EQ(at_20.size(), 3u) << ReadTestFile(out);  // loss, accuracy, f1.
  // Stored as float32.
  EXPECT_EQ(at_20["accuracy"],
            static_cast<float>(summary->val_metrics[0].second));
  EXPECT_EQ(at_20["f1"], static_cast<float>(summary->val_metrics[1].second));
  EXPECT_EQ(at_20["loss"], static_cast<float>(summary->val_loss));
}

// A resumed run writes the same metrics.csv as an uninterrupted one.
TEST(TrainerMetrics, ResumeKeepsMetricsCsvConsistent) {
  const std::string a = TestTempPath("metrics_straight");
  const std::string b = TestTempPath("metrics_resumed");
  fs::remove_all(a);
  fs::remove_all(b);
  auto straight = MakeTrainer(ToyConfig(), a);
  ASSERT_TRUE((*straight)->Run().ok());
  TrainConfig half = ToyConfig();
  half.set_steps(10);  // At an evaluation, as the end of a run is.
  ASSERT_TRUE((*MakeTrainer(half, b))->Run().ok());
  auto resumed = MakeTrainer(ToyConfig(), b);
  ASSERT_TRUE((*resumed)->Restore(b).ok());
  ASSERT_TRUE((*resumed)->Run().ok());
  EXPECT_EQ(ReadTestFile(b + "/metrics.csv"), ReadTestFile(a + "/metrics.csv"));
}

// The best val_accuracy's checkpoint is the one in best/, and restoring it
// measures that value again.
TEST(TrainerMetrics, KeepBestKeepsTheBestCheckpoint) {
  const std::string out = TestTempPath("keep_best");
  fs::remove_all(out);
  TrainConfig config = ToyConfig("keep_best { metric: 'val_accuracy' }");
  config.set_eval_every(2);
  auto t = MakeTrainer(config, out);
  ASSERT_TRUE(t.ok()) << t.status();
  auto summary = (*t)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  double best = -1;
  int64_t best_step = -1;
  std::vector<std::string> rows =
      absl::StrSplit(ReadTestFile(out + "/metrics.csv"), '\n');
  for (const std::string& row : rows) {
    std::vector<std::string> f = absl::StrSplit(row, ',');
    if (f.size() != 7 || f[5].empty() || f[0] == "step") continue;
    if (std::stod(f[5]) > best) {  // The first of equal values wins.
      best = std::stod(f[5]);
      best_step = std::stoll(f[0]);
    }
  }
  EXPECT_EQ(summary->best_step, best_step);
  EXPECT_DOUBLE_EQ(summary->best_value, best);
  std::vector<std::string> files = ListDir(out + "/best");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], absl::StrFormat("ckpt-%08d.rckpt", best_step));
  auto again = MakeTrainer(config);
  ASSERT_TRUE((*again)->Restore(out + "/best").ok());
  EXPECT_EQ((*again)->step(), best_step);
  auto e = (*again)->EvaluateAll();
  ASSERT_TRUE(e.ok());
  EXPECT_DOUBLE_EQ(e->metrics[0].second, best);
}

// A learning rate of 1e-30 leaves the f32 parameters unchanged, so the
// validation loss never improves on the first evaluation's: patience 2
// stops the run at the third evaluation.
TEST(TrainerMetrics, EarlyStoppingSaysWhy) {
  const std::string out = TestTempPath("early_stop");
  fs::remove_all(out);
  TrainConfig config = ToyConfig("early_stopping_patience: 2");
  config.mutable_optimizer()->set_learning_rate(1e-30);
  std::vector<std::string> log;
  auto t = MakeTrainer(config, out, &log);
  ASSERT_TRUE(t.ok()) << t.status();
  auto summary = (*t)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->early_stopped);
  EXPECT_EQ(summary->steps, 15);
  EXPECT_EQ(summary->best_step, 5);
  EXPECT_THAT(summary->stop_reason,
              HasSubstr("early stopping at step 15: val_loss has not "
                        "improved for 2 evaluations"));
  EXPECT_EQ(log.back(), summary->stop_reason);
  EXPECT_EQ(ListDir(out),
            (std::vector<std::string>{"ckpt-00000015.rckpt", "metrics.csv"}));
  // Without patience the same run goes on to the end.
  config.set_early_stopping_patience(0);
  auto whole = MakeTrainer(config);
  auto all = (*whole)->Run();
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->early_stopped);
  EXPECT_EQ(all->steps, 20);
}

// The best value and the evaluations since it are in the checkpoint: a
// run resumed at step 10 stops at 15 as the uninterrupted one does, unless
// it watches another metric, whose tracking starts anew.
TEST(TrainerMetrics, EarlyStoppingContinuesAcrossAResume) {
  const std::string out = TestTempPath("early_stop_resumed");
  for (const char* keep : {"", "keep_best { metric: 'val_accuracy' }"}) {
    SCOPED_TRACE(keep);
    fs::remove_all(out);
    TrainConfig config = ToyConfig("early_stopping_patience: 2");
    config.mutable_optimizer()->set_learning_rate(1e-30);
    TrainConfig half = config;
    half.set_steps(10);
    ASSERT_TRUE((*MakeTrainer(half, out))->Run().ok());
    TrainConfig rest =
        ToyConfig(std::string("early_stopping_patience: 2 ") + keep);
    rest.mutable_optimizer()->set_learning_rate(1e-30);
    auto resumed = MakeTrainer(rest, out);
    ASSERT_TRUE((*resumed)->Restore(out).ok());
    auto summary = (*resumed)->Run();
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->early_stopped, std::string(keep).empty());
    EXPECT_EQ(summary->steps, std::string(keep).empty() ? 15 : 20);
  }
}

TEST(TrainerMetrics, BadConfigsNameTheField) {
  struct Case {
    std::string config, want;
  };
  const std::string m = "metric { name: 'a' logits: 'logits' labels: 'labels' ";
  std::vector<Case> cases = {
      {"metric { name: 'b' logits: 'nope' labels: 'labels' }",
       "metric[2].logits: 'nope' is not a tensor of the graph"},
      {"metric { name: 'b' logits: 'logits' labels: 'x' }",
       "metric[2].labels: 'x' is f32 but must be i32 or i64"},
      {"metric { name: 'b' logits: 'loss' labels: 'labels' }",
       "metric[2].logits: 'loss' is f32[] but must be floats [..., C]"},
      {"metric { name: 'b' logits: 'logits' labels: 'gone' }",
       "metric[2].labels: 'gone' is not an Input of the graph"},
      {"metric { name: 'b' logits: 'logits' labels: 'labels' weights: 'x' }",
       "metric[2].weights: 'x' has shape [?, 2] but must have the logits' "
       "shape without its last axis, [?]"},
      {"metric { name: 'accuracy' logits: 'logits' labels: 'labels' }",
       "metric[2].name: 'accuracy' is used twice"},
      {"metric { name: 'Top-1' logits: 'logits' labels: 'labels' }",
       "metric[2].name: 'Top-1': give lowercase letters"},
      {m + "kind: 'auc' }", "metric[2].kind: 'auc': choose accuracy or"},
      {"keep_best { metric: 'val_bleu' }",
       "keep_best.metric: 'val_bleu' is not measured; choose one of "
       "val_loss, val_accuracy, val_f1"},
      {"early_stopping_patience: -1",
       "early_stopping_patience: -1: must be >= 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config);
    auto t = MakeTrainer(ToyConfig(c.config));
    ASSERT_FALSE(t.ok());
    EXPECT_THAT(t.status().message(), HasSubstr(c.want));
  }
  auto t = MakeTrainer(ToyConfig(), "", nullptr, 0);  // No validation data.
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(),
              HasSubstr("metric[0]: needs validation data"));
  // A negative weight in the validation data names the metric and row (a
  // label outside [0, C) is the loss's error first; MetricCounts' own test
  // covers it).
  std::vector<Tensor> v = ToyTensors(10, 2);
  v[2].data<float>()[7] = -1;
  Toy toy = MakeToy(std::move(v));
  TrainOptions options;
  options.config = ToyConfig();
  options.log = [](const std::string&) {};
  auto bad =
      Trainer::Create(std::move(toy.graph), std::move(toy.data), options);
  ASSERT_TRUE(bad.ok()) << bad.status();
  auto e = (*bad)->EvaluateAll();
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(),
              HasSubstr("metric[0] (val_accuracy), validation data: weights "
                        "row 7: -1 (weights must be >= 0)"));
}

// A resume whose config has other metrics than the saved run's keeps the
// values of the columns both have; the others stay empty.
TEST(MetricsLog, AResumeWithOtherMetricsRemapsTheColumns) {
  const std::string path = TestTempPath("remap_metrics.csv");
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(
      "step,loss,lr,grad_norm,val_loss,val_old\n"
      "1,0.5,0.1,2,0.4,0.7\n2,0.3,0.1,1,,\n3,0.2,0.1,1,0.1,0.9\n",
      f);
  std::fclose(f);
  auto log = MetricsLog::Open(path, 2, {"val_new"});
  ASSERT_TRUE(log.ok()) << log.status();
  log->Append(3, 0.25, 0.1, 1, 0.2, {0.75});
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(ReadTestFile(path),
            "step,loss,lr,grad_norm,val_loss,val_new\n"
            "1,0.5,0.1,2,0.4,\n2,0.3,0.1,1,,\n3,0.25,0.1,1,0.2,0.75\n");
}

// ---- Model specs' default metrics ----

TEST(DefaultMetrics, BertAndRecurrentSpecsOfferAccuracy) {
  ModelSpec bert;
  bert.mutable_bert();
  std::vector<Metric> m = DefaultMetrics(bert);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name(), "mlm_accuracy");
  EXPECT_EQ(m[0].weights(), "masked_lm_weights");
  EXPECT_EQ(m[1].name(), "nsp_accuracy");
  EXPECT_EQ(m[1].labels(), "next_sentence_labels");
  ModelSpec rnn;
  rnn.mutable_loss()->mutable_cross_entropy();
  m = DefaultMetrics(rnn);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].logits(), "head/output");
  ModelSpec mse;
  mse.mutable_loss()->mutable_mse();
  EXPECT_TRUE(DefaultMetrics(mse).empty());
}

// The recurrent default names tensors that the spec's graph has, in the
// shapes a metric needs, for a head on the last step and on every step.
TEST(DefaultMetrics, RecurrentDefaultFitsTheSpecsGraph) {
  for (const char* every : {"false", "true"}) {
    SCOPED_TRACE(every);
    ModelSpec spec;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        absl::StrCat("input { features: 2 steps: 4 } recurrent { cell: "
                     "'rnn_tanh' hidden_size: 3 seed: 1 } head { outputs: 5 "
                     "every_step: ",
                     every, " } loss { cross_entropy { } }"),
        &spec));
    auto graph = BuildModel(spec);
    ASSERT_TRUE(graph.ok()) << graph.status();
    auto valid = ValidateGraph(LoadedGraph{*graph, SourceMap("spec")});
    ASSERT_TRUE(valid.ok()) << valid.status();
    std::vector<Metric> m = DefaultMetrics(spec);
    ASSERT_EQ(m.size(), 1u);
    auto logits = valid->Resolve(m[0].logits());
    ASSERT_TRUE(logits.ok()) << logits.status();
    const Shape& shape = valid->info(logits->node).shapes[logits->output];
    EXPECT_EQ(shape.dim(shape.rank() - 1), 5);
    const int labels = valid->FindNode(m[0].labels());
    ASSERT_GE(labels, 0);
    EXPECT_EQ(valid->info(labels).shapes[0].rank(), shape.rank() - 1);
  }
}

// The tiny BERT memorising its two sequences, validated on the same two:
// the defaults measure MLM accuracy over the weighted masked positions and
// NSP accuracy, and both reach 1.
TEST(DefaultMetrics, TinyBertMeasuresMlmAndNspAccuracy) {
  auto config = LoadTrainConfig("examples/bert/tiny/tiny_bert.train.pbtxt");
  ASSERT_TRUE(config.ok()) << config.status();
  *config->mutable_validation_data() = config->data();
  config->set_eval_every(20);
  config->set_threads(2);
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto t = CreateTrainer(*config, "examples/bert/tiny", options);
  ASSERT_TRUE(t.ok()) << t.status();
  auto first = (*t)->EvaluateAll();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->metrics.size(), 2u);
  EXPECT_EQ(first->metrics[0].first, "val_mlm_accuracy");
  EXPECT_EQ(first->metrics[1].first, "val_nsp_accuracy");
  auto summary = (*t)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->val_metrics[0].second, 1.0);
  EXPECT_EQ(summary->val_metrics[1].second, 1.0);
  EXPECT_LT(first->metrics[0].second, 1.0);
}

}  // namespace
}  // namespace rill

// Data-parallel training over MPI, run by mpi_train_test.sh under
// `mpirun -np N` (N = 2 and 3): every rank trains the sine MLP of
// examples/train; rank 0 also trains it in one process with the same
// global batch and compares. Each test calls the collectives in the same
// order on every rank, so a failure on one rank cannot hang the others.

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/train_config.h"
#include "core/checkpoint.h"
#include "google/protobuf/text_format.h"
#include "graph/graph_builder.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"
#include "train/mpi_communicator.h"

namespace rill {
namespace {

Communicator* g_world = nullptr;

// The global batch, 24, divides among 2 and 3 ranks.
TrainConfig SineConfig(int64_t steps, int64_t accumulation) {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_batch_size(24);
  config->set_steps(steps);
  config->set_accumulation_steps(accumulation);
  config->set_threads(1);
  config->mutable_schedule()->mutable_cosine()->set_warmup_steps(5);
  return *config;
}

// In f32 on the default backend, or widened to f64 (WidenToF64)
// on the reference backend.
absl::StatusOr<std::unique_ptr<Trainer>> Make(const TrainConfig& config,
                                              Communicator* communicator,
                                              bool f64 = false) {
  TrainOptions options;
  options.log = [](const std::string&) {};
  options.communicator = communicator;
  if (!f64) return CreateTrainer(config, "examples/train", options);
  options.backend = Backend::kReference;
  ASSIGN_OR_RETURN(TrainSetup setup,
                   LoadTrainSetup(config, "examples/train", options));
  ASSIGN_OR_RETURN(setup, WidenToF64(std::move(setup)));
  return Trainer::Create(std::move(setup.graph), std::move(setup.data),
                         std::move(setup.options));
}

// max |a - b| / max |b| over every parameter element; every parameter must
// be of `dtype`.
double RelativeDifference(const Checkpoint& a, const Checkpoint& b,
                          DType dtype) {
  auto pa = CheckpointParameters(a), pb = CheckpointParameters(b);
  EXPECT_EQ(pa.size(), pb.size());
  double diff = 0, scale = 0;
  for (const auto& [name, want] : pb) {
    const Tensor* got = pa[name];
    if (got == nullptr || got->num_elements() != want->num_elements() ||
        got->dtype() != dtype || want->dtype() != dtype) {
      ADD_FAILURE() << name;
      return INFINITY;
    }
    for (int64_t k = 0; k < want->num_elements(); ++k) {
      const double w = want->ElementAsDouble(k), g = got->ElementAsDouble(k);
      diff = std::max(diff, std::abs(g - w));
      scale = std::max(scale, std::abs(w));
    }
  }
  return diff / scale;
}

bool SameBits(const Checkpoint& a, const Checkpoint& b) {
  if (a.tensors.size() != b.tensors.size() || a.step != b.step) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor& x = a.tensors[i].second;
    const Tensor& y = b.tensors[i].second;
    if (a.tensors[i].first != b.tensors[i].first ||
        x.byte_size() != y.byte_size() ||
        std::memcmp(x.raw_data(), y.raw_data(), x.byte_size()) != 0) {
      return false;
    }
  }
  return true;
}

// Buckets of 128 bytes: the sine MLP's six gradients (1,348 bytes in f32)
// go in four or more (w1 and w2 alone), most while the backward pass goes
// on.
constexpr double kSmallBucketMb = 128.0 / (1 << 20);

void CompareWithOneProcess(int64_t accumulation, bool f64 = false,
                           double bucket_cap_mb = 0) {
  const int steps = 30;
  TrainConfig config = SineConfig(steps, accumulation);
  config.set_bucket_cap_mb(bucket_cap_mb);
  auto parallel = Make(config, g_world, f64);
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  const std::string tag = absl::StrCat(f64 ? "f64_" : "", "acc", accumulation,
                                       bucket_cap_mb > 0 ? "_small" : "", "_n",
                                       g_world->size(), "_rank");
  Checkpoint mine =
      TrainAndSave(**parallel, steps, tag + std::to_string(g_world->rank()));
  // Files on one machine: rank 0 reads every rank's state.
  double done = 1;
  ASSERT_TRUE(g_world->AllreduceSum(&done, 1).ok());
  ASSERT_EQ(done, g_world->size());
  if (g_world->rank() != 0) return;
  for (int r = 1; r < g_world->size(); ++r) {
    auto other = ReadCheckpoint(TestTempPath(tag + std::to_string(r)));
    ASSERT_TRUE(other.ok()) << other.status();
    // Parameters, optimizer state and data position: bit for bit.
    EXPECT_TRUE(SameBits(mine, *other)) << "rank " << r << " differs";
  }
  auto single = Make(config, nullptr, f64);
  ASSERT_TRUE(single.ok()) << single.status();
  Checkpoint want = TrainAndSave(**single, steps, tag + "_single");
  EXPECT_EQ(mine.rng_state, want.rng_state);  // The same global batches.
  const double difference =
      RelativeDifference(mine, want, f64 ? DType::kF64 : DType::kF32);
  std::printf(
      "%s, ranks %d, accumulation %lld: max |difference| / max |param| "
      "= %.3g after %d steps\n",
      f64 ? "f64" : "f32", g_world->size(),
      static_cast<long long>(accumulation), difference, steps);
  if (f64) {
    // One process sums each gradient element over the global batch's B
    // examples (times A accumulation steps); N ranks sum B/N each, then
    // allreduce sums the N partial means: the same terms in another
    // order. A sum of n terms in another order differs by at most about
    // n units of rounding (u = 2^-53) of the sum of magnitudes, so a step's
    // gradient, and Adam's update (a smooth function of it, of size at most
    // lr), move by a few u times B * A relative; over K steps the
    // differences add. Bound: 4 u B A K of the parameters' scale, 3.2e-13
    // here (B 24, A 1, K 30), 6.4e-13 with A 2. f32 summation (the f32 run
    // below measures 1.3e-7) fails it by six orders of magnitude.
    const double u = std::ldexp(1.0, -53);
    EXPECT_LT(difference, 4 * u * config.batch_size() * accumulation * steps);
    return;
  }
  // f32 throughout (the optimizer takes f32 only): the ranks' mean
  // gradients averaged differ from the mean over the whole batch by
  // summation order, a few units in the last place (2^-24 ~ 6e-8) per
  // gradient element; Adam turns a relative gradient error into about the
  // same relative error of the update, so 30 updates of lr 0.01 move a
  // parameter by far less than 1e-6 of the parameters' scale (measured:
  // 1.3e-7 at 2 ranks, 1.8e-7 at 3).
  EXPECT_LT(difference, 1e-6);
}

TEST(MpiTrain, MatchesOneProcessWithTheGlobalBatch) {
  CompareWithOneProcess(1);
}

TEST(MpiTrain, MatchesOneProcessWithAccumulation) { CompareWithOneProcess(2); }

// The equivalence test: the reference backend in f64.
TEST(MpiTrain, MatchesOneProcessInF64ToSummationOrder) {
  CompareWithOneProcess(1, /*f64=*/true);
}

TEST(MpiTrain, MatchesOneProcessInF64WithAccumulation) {
  CompareWithOneProcess(2, /*f64=*/true);
}

// Small buckets, sent while the backward pass goes on, keep the bound.
TEST(MpiTrain, MatchesOneProcessInF64WithSmallBuckets) {
  CompareWithOneProcess(1, /*f64=*/true, kSmallBucketMb);
  CompareWithOneProcess(2, /*f64=*/true, kSmallBucketMb);
}

// Small buckets overlapped with the backward pass against one bucket, sent
// after it: at 2 ranks every sum is a + b whatever the buckets, so the
// parameters are the same bits; at 3 ranks the reduction's order may
// differ with the message size, so they agree to f32 rounding. Small
// buckets start before the backward pass ends; one bucket never does (the
// last kernel writes a gradient).
TEST(MpiTrain, SmallBucketsOverlapTheBackwardPassAndChangeNothing) {
  for (int64_t accumulation : {1, 2}) {
    SCOPED_TRACE(absl::StrCat("accumulation ", accumulation));
    const int steps = 10;
    std::vector<Checkpoint> runs;
    std::vector<std::unique_ptr<Trainer>> trainers;
    for (double cap_mb : {kSmallBucketMb, 0.0}) {
      TrainConfig config = SineConfig(steps, accumulation);
      config.set_bucket_cap_mb(cap_mb);
      auto t = Make(config, g_world);
      ASSERT_TRUE(t.ok()) << t.status();
      runs.push_back(TrainAndSave(
          **t, steps,
          absl::StrCat("overlap", accumulation, cap_mb > 0 ? "_small" : "",
                       "_n", g_world->size(), "_rank", g_world->rank())));
      trainers.push_back(*std::move(t));
    }
    const DataParallel& small = *trainers[0]->data_parallel();
    const DataParallel& one = *trainers[1]->data_parallel();
    EXPECT_GE(small.averager().buckets().size(), 4u);
    EXPECT_GT(small.buckets_started_early(), 0);
    // At most every bucket but the last of each step.
    const int64_t buckets = small.averager().buckets().size();
    EXPECT_LE(small.buckets_started_early(), steps * (buckets - 1));
    EXPECT_EQ(one.averager().buckets().size(), 1u);
    EXPECT_EQ(one.buckets_started_early(), 0);
    std::printf(
        "ranks %d, accumulation %lld: %zu buckets, %lld of %lld "
        "started before the backward pass ended\n",
        g_world->size(), static_cast<long long>(accumulation),
        small.averager().buckets().size(),
        static_cast<long long>(small.buckets_started_early()),
        static_cast<long long>(small.averager().buckets_started()));
    if (g_world->size() == 2) {
      EXPECT_TRUE(SameBits(runs[0], runs[1]));
    } else {
      const double difference =
          RelativeDifference(runs[0], runs[1], DType::kF32);
      std::printf("small buckets against one: %.3g\n", difference);
      EXPECT_LT(difference, 1e-6);
    }
  }
}

// ---- Evaluation split across the ranks ----

constexpr int64_t kEvalBatch = 6;    // The global batch; 2 and 3 divide it.
constexpr int64_t kValidation = 29;  // Batches 6, 6, 6, 6, 5.

// Points labelled by region (0: x0 > 0.3, else 1: x1 > 0, else 2), in f64
// (so that the runs agree to summation order), with `scrambled` rows
// relabelled and moved.
Dataset Points(int64_t n, int64_t offset, const std::vector<bool>& scrambled) {
  Tensor x = *Tensor::Allocate(DType::kF64, Shape{n, 2});
  Tensor labels = *Tensor::Allocate(DType::kI64, Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::sin(1.3 * (i + offset)),
                 b = std::cos(0.7 * (i + offset));
    x.data<double>()[2 * i] = a;
    x.data<double>()[2 * i + 1] = b;
    labels.data<int64_t>()[i] = a > 0.3 ? 0 : b > 0 ? 1 : 2;
    if (i < static_cast<int64_t>(scrambled.size()) && scrambled[i]) {
      x.data<double>()[2 * i] = -a;
      labels.data<int64_t>()[i] = (labels.data<int64_t>()[i] + 1) % 3;
    }
  }
  Dataset d;
  d.inputs = {"x", "labels"};
  d.arrays = {DataArray(x), DataArray(labels)};
  return d;
}

// A linear classifier trained with SGD; accuracy and macro-F1 measured
// every 5 of 10 steps. On each rank, the validation rows of the batches
// another rank evaluates (batch k is rank k mod N's) are scrambled: only a
// split evaluation with reduced counts still gives one process's figures.
absl::StatusOr<std::unique_ptr<Trainer>> MakeClassifier(
    Communicator* communicator, const std::string& out) {
  GraphBuilder b("classifier", "");
  std::string x = b.Input("x", DType::kF64, {-1, 2});
  std::string labels = b.Input("labels", DType::kI64, {-1});
  Tensor w = *Tensor::Allocate(DType::kF64, Shape{3, 2});
  Tensor bias = *Tensor::Allocate(DType::kF64, Shape{3});
  for (int i = 0; i < 6; ++i) w.data<double>()[i] = 0.1 * (i % 4) - 0.15;
  for (int i = 0; i < 3; ++i) bias.data<double>()[i] = 0;
  std::string logits =
      b.Linear("logits", x, b.Parameter("w", w), b.Parameter("b", bias));
  b.Op("loss", "SoftmaxCrossEntropy", {logits, labels});
  Graph g;
  RETURN_IF_ERROR(b.Commit(&g));
  ASSIGN_OR_RETURN(ValidGraph graph,
                   ValidateGraph(LoadedGraph{g, SourceMap("classifier")}));
  std::vector<bool> scrambled(kValidation, false);
  if (communicator != nullptr) {
    for (int64_t i = 0; i < kValidation; ++i) {
      scrambled[i] =
          (i / kEvalBatch) % communicator->size() != communicator->rank();
    }
  }
  TrainOptions options;
  options.backend = Backend::kReference;
  options.communicator = communicator;
  options.out_dir = out;
  options.log = [](const std::string&) {};
  const std::string text = absl::StrCat(
      "loss: 'loss' batch_size: ", kEvalBatch,
      " optimizer { learning_rate: 0.5 sgd {} } steps: 10 eval_every: 5 ",
      "seed: 1 metric { name: 'accuracy' logits: 'logits' labels: 'labels' } ",
      "metric { name: 'f1' logits: 'logits' labels: 'labels' kind: ",
      "'macro_f1' }");
  if (!google::protobuf::TextFormat::ParseFromString(text, &options.config)) {
    return absl::InvalidArgumentError(text);
  }
  return Trainer::Create(
      std::move(graph),
      {Points(60, 0, {}), Points(kValidation, 1000, scrambled)}, options);
}

// metrics.csv's rows that have validation figures: val_loss, val_accuracy,
// val_f1.
std::vector<std::vector<double>> ValidationRows(const std::string& out) {
  std::vector<std::vector<double>> rows;
  for (absl::string_view line :
       absl::StrSplit(ReadTestFile(out + "/metrics.csv"), '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() != 7 || fields[4].empty() || fields[0] == "step") {
      continue;
    }
    rows.push_back(
        {std::stod(fields[4]), std::stod(fields[5]), std::stod(fields[6])});
  }
  return rows;
}

TEST(MpiTrain, EvaluationIsSplitAcrossTheRanksAndReduced) {
  const std::string out = TestTempPath(absl::StrCat("eval_n", g_world->size()));
  // One rank clears the directory (the ranks share it), then all go on.
  if (g_world->rank() == 0) std::filesystem::remove_all(out);
  double cleared = 1;
  ASSERT_TRUE(g_world->AllreduceSum(&cleared, 1).ok());
  auto parallel = MakeClassifier(g_world, out);
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  // At the same parameters, every rank gets one process's figures: the
  // counts exactly, the loss to summation order.
  auto single = MakeClassifier(nullptr, "");
  ASSERT_TRUE(single.ok()) << single.status();
  auto got = (*parallel)->EvaluateAll();
  auto want = (*single)->EvaluateAll();
  ASSERT_TRUE(got.ok() && want.ok()) << got.status() << want.status();
  EXPECT_NEAR(got->loss, want->loss, 1e-14 * want->loss);
  ASSERT_EQ(got->metrics.size(), 2u);
  EXPECT_EQ(got->metrics, want->metrics);
  // The logged figures of a run: rank 0's metrics.csv against one
  // process's run, whose parameters differ by summation order only.
  auto run = (*parallel)->Run();
  ASSERT_TRUE(run.ok()) << run.status();
  if (g_world->rank() != 0) return;
  const std::string single_out =
      TestTempPath(absl::StrCat("eval_single_n", g_world->size()));
  std::filesystem::remove_all(single_out);
  auto alone = MakeClassifier(nullptr, single_out);
  ASSERT_TRUE(alone.ok()) << alone.status();
  ASSERT_TRUE((*alone)->Run().ok());
  std::vector<std::vector<double>> logged = ValidationRows(out);
  std::vector<std::vector<double>> expected = ValidationRows(single_out);
  ASSERT_EQ(logged.size(), 2u);  // Steps 5 and 10.
  ASSERT_EQ(expected.size(), 2u);
  for (size_t r = 0; r < logged.size(); ++r) {
    // metrics.csv prints 9 digits: one unit of the last may flip.
    EXPECT_NEAR(logged[r][0], expected[r][0], 1e-8 * expected[r][0]);
    EXPECT_EQ(logged[r][1], expected[r][1]) << "val_accuracy, row " << r;
    EXPECT_EQ(logged[r][2], expected[r][2]) << "val_f1, row " << r;
  }
  std::printf(
      "ranks %d: val_loss %.17g (one process %.17g), val_accuracy "
      "%g, val_f1 %g\n",
      g_world->size(), logged[1][0], expected[1][0], logged[1][1],
      logged[1][2]);
}

TEST(MpiTrain, AConfigThatDiffersOnOneRankFailsOnEveryRank) {
  TrainConfig config = SineConfig(5, 1);
  if (g_world->rank() == g_world->size() - 1) config.set_seed(8);
  auto t = Make(config, g_world);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(
      t.status().message(),
      absl::StrCat("1 of the ", g_world->size(),
                   " ranks have another config, graph or number of "
                   "training examples than rank 0")))
      << t.status();
}

TEST(MpiTrain, ABatchThatDoesNotDivideAmongTheRanksIsAnError) {
  TrainConfig config = SineConfig(5, 1);
  config.set_batch_size(g_world->size() * 8 + 1);
  auto t = Make(config, g_world);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(
      t.status().message(),
      absl::StrCat("batch_size: ", config.batch_size(),
                   " is not a multiple of the ", g_world->size(), " ranks")))
      << t.status();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  auto world = rill::MpiCommunicator::Init(&argc, &argv);
  if (!world.ok()) {
    std::fprintf(stderr, "%s\n", std::string(world.status().message()).c_str());
    return 1;
  }
  rill::g_world = world->get();
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  // Any rank's failure fails the job.
  double failures = failed;
  if (!rill::g_world->AllreduceSum(&failures, 1).ok()) return 1;
  return failures > 0 ? 1 : 0;
}

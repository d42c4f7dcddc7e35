// AddCrossEntropyLoss against torch.nn.functional.cross_entropy (loss and
// d loss / d logits, with and without label smoothing, ignored rows, 3-D
// logits and i32 labels) on both backends, the all-ignored case, float64
// gradient checks and the option errors. Goldens:
// make_cross_entropy_goldens.py.

#include "models/cross_entropy.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/npy.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

Tensor Golden(const std::string& name) {
  auto t = ReadNpy(
      absl::StrCat("tests/models/testdata/cross_entropy_", name, ".npy"),
      1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

// As in the script.
struct GoldenCase {
  const char* name;
  double smoothing;
  int64_t ignore_index;
};
const GoldenCase kGoldenCases[] = {{"eps0", 0, -100},
                                   {"eps01", 0.1, -100},
                                   {"seq", 0.2, 0},
                                   {"i32", 0.3, -100},
                                   {"wide", 0.1, -100}};

// Inputs "logits" [-1, ..., C] (every dim but C symbolic) and "labels"
// [-1, ...] of the given dtypes, then the loss "ce".
struct LossGraph {
  Graph graph;
  std::string loss;
};
LossGraph BuildLoss(const Shape& logits_shape, DType labels_dtype,
                    const CrossEntropyOptions& o) {
  LossGraph m;
  const int rank = logits_shape.rank();
  std::vector<int64_t> logits_dims(rank, -1);
  logits_dims.back() = logits_shape.dim(rank - 1);
  AddInput(&m.graph, "logits", logits_dims, o.dtype);
  AddInput(&m.graph, "labels", std::vector<int64_t>(rank - 1, -1),
           labels_dtype);
  auto loss = AddCrossEntropyLoss("logits", "labels", o, &m.graph);
  EXPECT_TRUE(loss.ok()) << loss.status();
  if (loss.ok()) m.loss = *loss;
  return m;
}

CrossEntropyOptions Options(double smoothing, int64_t ignore_index,
                            DType dtype) {
  CrossEntropyOptions o;
  o.prefix = "ce";
  o.label_smoothing = smoothing;
  o.ignore_index = ignore_index;
  o.dtype = dtype;
  return o;
}

struct LossAndGradient {
  Tensor loss, d_logits;
  int onednn_kernels = 0;
};
// Runs the loss and its gradient with respect to logits, with every
// kernel's output checked for NaN and Inf.
LossAndGradient RunLoss(const LossGraph& m, const Tensor& logits,
                        const Tensor& labels, Backend backend) {
  LossAndGradient out;
  auto valid = ValidateGraph({m.graph, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return out;
  GradientRequest request;
  request.losses = {m.loss};
  request.wrt = {"logits"};
  auto grad = BuildGradientGraph(*valid, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  if (!grad.ok()) return out;
  ExecutorOptions options;
  options.backend = backend;
  options.check_numerics = true;
  auto ex = Executor::Create(std::move(grad->graph), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  if (!ex.ok()) return out;
  auto got = (*ex)->Run({{"logits", logits}, {"labels", labels}},
                        {m.loss, grad->gradients[0]});
  EXPECT_TRUE(got.ok()) << got.status();
  if (!got.ok()) return out;
  out.loss = (*got)[0];
  out.d_logits = (*got)[1];
  out.onednn_kernels = (*ex)->last_plan_stats().onednn_kernels;
  return out;
}

struct Precision {
  DType dtype;
  Backend backend;
  double tolerance;
};
const Precision kF64Reference = {DType::kF64, Backend::kReference, 1e-10};
const Precision kF32OneDnn = {DType::kF32, Backend::kOneDnn, 1e-5};

void CheckAgainstGoldens(const GoldenCase& cs, const Precision& p) {
  const std::string c = cs.name;
  Tensor logits = Golden(c + "_logits");
  Tensor labels = Golden(c + "_labels");
  LossGraph m = BuildLoss(logits.shape(), labels.dtype(),
                          Options(cs.smoothing, cs.ignore_index, p.dtype));
  LossAndGradient got =
      RunLoss(m, ConvertFloat(logits, p.dtype), labels, p.backend);
  ASSERT_TRUE(got.loss.valid() && got.d_logits.valid());
  EXPECT_EQ(got.loss.dtype(), p.dtype);
  double loss_err = MaxError(got.loss, Golden(c + "_loss"), c + "_loss");
  double grad_err =
      MaxError(got.d_logits, Golden(c + "_d_logits"), c + "_d_logits");
  EXPECT_LT(loss_err, p.tolerance) << c;
  EXPECT_LT(grad_err, p.tolerance) << c;
  std::printf(
      "%-6s %s %-9s loss error %.3g, d_logits error %.3g (%d oneDNN "
      "kernels)\n",
      cs.name, DTypeName(p.dtype), BackendName(p.backend), loss_err, grad_err,
      got.onednn_kernels);
}

class CrossEntropyGoldens : public testing::TestWithParam<GoldenCase> {};

TEST_P(CrossEntropyGoldens, Float64Reference) {
  CheckAgainstGoldens(GetParam(), kF64Reference);
}

TEST_P(CrossEntropyGoldens, Float32OneDnn) {
  CheckAgainstGoldens(GetParam(), kF32OneDnn);
}

TEST_P(CrossEntropyGoldens, GradientMatchesNumericalDerivatives) {
  const GoldenCase& cs = GetParam();
  const std::string c = cs.name;
  Tensor logits = Golden(c + "_logits");
  Tensor labels = Golden(c + "_labels");
  LossGraph m = BuildLoss(logits.shape(), labels.dtype(),
                          Options(cs.smoothing, cs.ignore_index, DType::kF64));
  auto check = CheckGradients(m.graph, m.loss, {"logits"},
                              {{"logits", logits}, {"labels", labels}});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-6) << check->worst;
  std::printf("%-6s max relative error %.3g against numerical derivatives\n",
              cs.name, check->max_error);
}

INSTANTIATE_TEST_SUITE_P(CrossEntropy, CrossEntropyGoldens,
                         testing::ValuesIn(kGoldenCases),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(CrossEntropy, WithoutSmoothingItIsOneSoftmaxCrossEntropyNode) {
  Graph g;
  AddInput(&g, "logits", {-1, 5});
  AddInput(&g, "labels", {-1}, DType::kI64);
  const int before = g.node_size();
  auto loss =
      AddCrossEntropyLoss("logits", "labels", Options(0, 7, DType::kF64), &g);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_EQ(*loss, "ce/loss");
  ASSERT_EQ(g.node_size(), before + 1);
  const Node& n = g.node(before);
  EXPECT_EQ(n.name(), "ce/loss");
  EXPECT_EQ(n.op(), "SoftmaxCrossEntropy");
  EXPECT_EQ(n.attr().at("ignore_index").i(), 7);
  EXPECT_EQ(n.attr().at("reduction").s(), "mean");
}

// [3, 4] logits whose every label is ignore_index: the loss is 0 and its
// gradient zeros, in both precisions, with and without smoothing (the run
// checks every kernel's output for NaN and Inf).
TEST(CrossEntropy, EveryRowIgnoredGivesZeroLossAndZeroGradient) {
  for (double smoothing : {0.0, 0.1}) {
    for (const Precision& p : {kF64Reference, kF32OneDnn}) {
      SCOPED_TRACE(
          absl::StrCat("smoothing ", smoothing, ", ", BackendName(p.backend)));
      Tensor logits = *Tensor::Allocate(DType::kF64, Shape{3, 4});
      for (int64_t i = 0; i < 12; ++i) {
        logits.data<double>()[i] = std::sin(0.7 * i) * 3;
      }
      Tensor labels = *Tensor::Allocate(DType::kI32, Shape{3});
      for (int64_t r = 0; r < 3; ++r) labels.data<int32_t>()[r] = -1;
      LossGraph m = BuildLoss(logits.shape(), DType::kI32,
                              Options(smoothing, -1, p.dtype));
      LossAndGradient got =
          RunLoss(m, ConvertFloat(logits, p.dtype), labels, p.backend);
      ASSERT_TRUE(got.loss.valid() && got.d_logits.valid());
      EXPECT_EQ(got.loss.ElementAsDouble(0), 0);
      ASSERT_EQ(got.d_logits.shape(), logits.shape());
      for (int64_t i = 0; i < 12; ++i) {
        EXPECT_EQ(got.d_logits.ElementAsDouble(i), 0) << i;
      }
    }
  }
}

// An ignore_index outside int32 matches no i32 label: the loss is that of
// ignore_index -100 on labels that hold no -100.
TEST(CrossEntropy, IgnoreIndexBeyondI32MatchesNoI32Label) {
  Tensor logits = Golden("i32_logits");
  Tensor labels = Golden("i32_labels");
  for (int64_t r = 0; r < labels.num_elements(); ++r) {
    if (labels.data<int32_t>()[r] < 0) labels.data<int32_t>()[r] = 0;
  }
  std::vector<double> losses;
  for (int64_t ignore : {int64_t{-100}, int64_t{1} << 40}) {
    LossGraph m = BuildLoss(logits.shape(), DType::kI32,
                            Options(0.3, ignore, DType::kF64));
    LossAndGradient got = RunLoss(m, logits, labels, Backend::kReference);
    ASSERT_TRUE(got.loss.valid());
    losses.push_back(got.loss.ElementAsDouble(0));
  }
  EXPECT_GT(losses[0], 0);
  EXPECT_EQ(losses[0], losses[1]);
}

struct BadCase {
  const char* name;
  void (*change)(CrossEntropyOptions&, std::string& logits);
  const char* message;  // A part of the error.
};
const BadCase kBadCases[] = {
    {"negative_smoothing",
     [](CrossEntropyOptions& o, std::string&) { o.label_smoothing = -0.1; },
     "label_smoothing -0.1 is not in [0, 1)"},
    {"smoothing_one",
     [](CrossEntropyOptions& o, std::string&) { o.label_smoothing = 1; },
     "label_smoothing 1 is not in [0, 1)"},
    {"smoothing_nan",
     [](CrossEntropyOptions& o, std::string&) {
       o.label_smoothing = std::numeric_limits<double>::quiet_NaN();
     },
     "is not in [0, 1)"},
    {"prefix_digit",
     [](CrossEntropyOptions& o, std::string&) { o.prefix = "9ce"; },
     "prefix '9ce' is not a node name"},
    {"prefix_empty",
     [](CrossEntropyOptions& o, std::string&) { o.prefix = ""; },
     "prefix '' is not a node name"},
    {"dtype_i64",
     [](CrossEntropyOptions& o, std::string&) { o.dtype = DType::kI64; },
     "dtype must be f32 or f64"},
    {"no_logits",
     [](CrossEntropyOptions&, std::string& logits) { logits.clear(); },
     "logits and labels must both be given"},
};

class CrossEntropyBadOptions : public testing::TestWithParam<BadCase> {};

TEST_P(CrossEntropyBadOptions, FailClearlyAndLeaveTheGraphAlone) {
  Graph g;
  AddInput(&g, "logits", {-1, 5});
  AddInput(&g, "labels", {-1}, DType::kI64);
  const std::string before = g.SerializeAsString();
  CrossEntropyOptions o = Options(0.1, -100, DType::kF32);
  std::string logits = "logits";
  GetParam().change(o, logits);
  auto loss = AddCrossEntropyLoss(logits, "labels", o, &g);
  ASSERT_FALSE(loss.ok());
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(loss.status().message()).find(GetParam().message),
            std::string::npos)
      << loss.status();
  EXPECT_NE(std::string(loss.status().message()).find("cross-entropy loss"),
            std::string::npos)
      << loss.status();
  EXPECT_EQ(g.SerializeAsString(), before);
}

INSTANTIATE_TEST_SUITE_P(CrossEntropy, CrossEntropyBadOptions,
                         testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

// A clash on any node, not only the first, adds nothing.
TEST(CrossEntropy, NameClashesFailAndLeaveTheGraphAlone) {
  for (double smoothing : {0.0, 0.1}) {
    Graph g;
    AddInput(&g, "logits", {-1, 5});
    AddInput(&g, "labels", {-1}, DType::kI64);
    const CrossEntropyOptions o = Options(smoothing, -100, DType::kF32);
    ASSERT_TRUE(AddCrossEntropyLoss("logits", "labels", o, &g).ok());
    const std::string after = g.SerializeAsString();
    auto again = AddCrossEntropyLoss("logits", "labels", o, &g);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_NE(std::string(again.status().message()).find("ce/"),
              std::string::npos)
        << again.status();
    EXPECT_EQ(g.SerializeAsString(), after);
  }
  Graph g;
  AddInput(&g, "logits", {-1, 5});
  AddInput(&g, "labels", {-1}, DType::kI64);
  AddInput(&g, "ce/kept_count", {1});
  const std::string before = g.SerializeAsString();
  auto clash = AddCrossEntropyLoss("logits", "labels",
                                   Options(0.1, -100, DType::kF64), &g);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(std::string(clash.status().message()).find("'ce/kept_count'"),
            std::string::npos)
      << clash.status();
  EXPECT_EQ(g.SerializeAsString(), before);
}

}  // namespace
}  // namespace rill

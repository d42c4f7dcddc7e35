#include "runtime/executor.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/threads.h"
#include "gtest/gtest.h"
#include "ops/kernel_util.h"

namespace rill {
namespace {

// h = tanh(x . w + b); p = softmax(h * sigmoid(h)); x is [?, 3].
constexpr char kGraph[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 3 } }
    }
  }
  node {
    name: "w"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: 3
          dims: 2
          float_val: [ 0.5, -1, 0.25, 2, -0.75, 1 ]
        }
      }
    }
  }
  node {
    name: "b"
    op: "Const"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: 2
          float_val: [ 0.1, -0.2 ]
        }
      }
    }
  }
  node { name: "xw" op: "MatMul" input: "x" input: "w" }
  node { name: "pre" op: "Add" input: "xw" input: "b" }
  node { name: "h" op: "Tanh" input: "pre" }
  node { name: "g" op: "Sigmoid" input: "h" }
  node { name: "hg" op: "Mul" input: "h" input: "g" }
  node { name: "p" op: "Softmax" input: "hg" }
  output: "p"
)pb";

std::unique_ptr<Executor> Make(const std::string& text, Backend backend,
                               int64_t budget = int64_t{1} << 30) {
  auto loaded = ParseGraphText(text, "test.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  ValidateOptions options;
  options.memory_budget = budget;
  auto g = ValidateGraph(*std::move(loaded), options);
  EXPECT_TRUE(g.ok()) << g.status();
  auto ex = Executor::Create(*std::move(g), {backend});
  EXPECT_TRUE(ex.ok()) << ex.status();
  return *std::move(ex);
}

Tensor Batch(int rows) {
  Tensor t = *Tensor::Allocate(DType::kF32, {rows, 3});
  for (int64_t i = 0; i < t.num_elements(); ++i)
    t.data<float>()[i] = std::sin(i + 1.f);
  return t;
}

// The same computation written out by hand in double.
std::vector<double> Expected(const Tensor& x) {
  const double w[3][2] = {{0.5, -1}, {0.25, 2}, {-0.75, 1}};
  const double b[2] = {0.1, -0.2};
  std::vector<double> out;
  for (int r = 0; r < x.shape().dim(0); ++r) {
    double hg[2];
    for (int j = 0; j < 2; ++j) {
      double s = b[j];
      for (int k = 0; k < 3; ++k) s += x.data<float>()[r * 3 + k] * w[k][j];
      double h = std::tanh(s);
      hg[j] = h / (1 + std::exp(-h));
    }
    double m = std::max(hg[0], hg[1]);
    double e0 = std::exp(hg[0] - m), e1 = std::exp(hg[1] - m);
    out.push_back(e0 / (e0 + e1));
    out.push_back(e1 / (e0 + e1));
  }
  return out;
}

TEST(Executor, BothBackendsMatchHandComputation) {
  Tensor x = Batch(4);
  std::vector<double> want = Expected(x);
  for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
    auto ex = Make(kGraph, backend);
    auto out = ex->Run({{"x", x}}, {"p"});
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor& p = (*out)[0];
    ASSERT_EQ(p.shape(), Shape({4, 2}));
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(p.data<float>()[i], want[i], 1e-6) << i;
    // On oneDNN, MatMul -> Add -> Tanh runs as one fused kernel.
    const PlanStats& stats = ex->last_plan_stats();
    if (backend == Backend::kOneDnn) {
      EXPECT_EQ(stats.num_kernels, 4);
      EXPECT_EQ(stats.onednn_kernels, 4);
      EXPECT_EQ(stats.fused_chains, 1);
    } else {
      EXPECT_EQ(stats.num_kernels, 6);
      EXPECT_EQ(stats.onednn_kernels, 0);
      EXPECT_EQ(stats.fused_chains, 0);
    }
  }
}

TEST(Executor, ProfileTimesEveryKernelOfTheLastPlan) {
  auto plain = Make(kGraph, Backend::kOneDnn);
  ASSERT_TRUE(plain->Run({{"x", Batch(4)}}, {"p"}).ok());
  EXPECT_TRUE(plain->kernel_times().empty());

  auto loaded = ParseGraphText(kGraph, "test.pbtxt");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto g = ValidateGraph(*std::move(loaded));
  ASSERT_TRUE(g.ok()) << g.status();
  ExecutorOptions options;
  options.profile = true;
  auto ex = Executor::Create(*std::move(g), options);
  ASSERT_TRUE(ex.ok()) << ex.status();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*ex)->Run({{"x", Batch(4)}}, {"p"}).ok());
  }
  std::vector<std::string> ops;
  for (const KernelTime& t : (*ex)->kernel_times()) {
    ops.push_back(absl::StrCat(t.node, "=", t.op));
    EXPECT_EQ(t.runs, 3) << t.node;
    EXPECT_GE(t.ms, 0) << t.node;
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"h=MatMul+Add+Tanh", "g=Sigmoid",
                                           "hg=Mul", "p=Softmax"}));
  // Another signature has its own plan, and its own times.
  ASSERT_TRUE((*ex)->Run({{"x", Batch(2)}}, {"p"}).ok());
  ASSERT_EQ((*ex)->kernel_times().size(), 4u);
  EXPECT_EQ((*ex)->kernel_times()[0].runs, 1);
}

// Reshape and ExpandDims of a computed result share its buffer and run no
// kernel; a Reshape of an Input (which callers write in place) copies.
TEST(Executor, ReshapesOfComputedResultsAreViews) {
  const std::string graph = std::string(R"(
    node { name: "x" op: "Input"
      attr { key: "dtype" value { type: DT_FLOAT } }
      attr { key: "shape" value { shape { dim: -1 dim: 3 } } } }
    node { name: "t" op: "Tanh" input: "x" }
    node { name: "r" op: "Reshape" input: "t"
      attr { key: "shape" value { list { i: -1 } } } }
    node { name: "e" op: "ExpandDims" input: "r"
      attr { key: "axis" value { i: 0 } } }
    node { name: "s" op: "Sigmoid" input: "x" }
    node { name: "s2" op: "Mul" input: "s" input: "s" }
    node { name: "u" op: "Mul" input: "e" input: "e" }
    node { name: "q" op: "Reshape" input: "x"
      attr { key: "shape" value { list { i: -1 } } } }
    output: "u")");
  for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
    auto ex = Make(graph, backend);
    for (int rows : {4, 7}) {
      Tensor x = Batch(rows);
      auto out = ex->Run({{"x", x}}, {"e", "s2", "u", "q"});
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ((*out)[0].shape(), Shape({1, rows * 3}));
      for (int i = 0; i < rows * 3; ++i) {
        const double v = x.data<float>()[i], t = std::tanh(v);
        const double s = 1 / (1 + std::exp(-v));
        EXPECT_NEAR((*out)[0].data<float>()[i], t, 1e-6) << i;
        EXPECT_NEAR((*out)[1].data<float>()[i], s * s, 1e-6) << i;
        EXPECT_NEAR((*out)[2].data<float>()[i], t * t, 1e-6) << i;
        EXPECT_EQ((*out)[3].data<float>()[i], v) << i;
      }
      EXPECT_EQ(ex->last_plan_stats().views, 2);
      EXPECT_EQ(ex->last_plan_stats().num_kernels, 5);
    }
  }
}

// Graph text: an Input x of shape [?, 3], then `nodes`.
std::string WithInputX(const std::string& nodes) {
  return std::string(R"(
    node { name: "x" op: "Input"
      attr { key: "dtype" value { type: DT_FLOAT } }
      attr { key: "shape" value { shape { dim: -1 dim: 3 } } } })") +
         nodes;
}

// t = tanh(x), r = t reshaped to a vector, e = r as a row.
constexpr char kTanhReshapedExpanded[] = R"(
    node { name: "t" op: "Tanh" input: "x" }
    node { name: "r" op: "Reshape" input: "t"
      attr { key: "shape" value { list { i: -1 } } } }
    node { name: "e" op: "ExpandDims" input: "r"
      attr { key: "axis" value { i: 0 } } })";

std::unique_ptr<Executor> MakeWithViews(const std::string& text, bool views) {
  auto loaded = ParseGraphText(text, "test.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  auto g = ValidateGraph(*std::move(loaded), {});
  EXPECT_TRUE(g.ok()) << g.status();
  ExecutorOptions options;
  options.views = views;
  auto ex = Executor::Create(*std::move(g), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  return *std::move(ex);
}

// A chain of five views of t is read only after three kernels whose
// outputs have t's size: were t's buffer freed at its last direct reader,
// they would take it and overwrite the chain. The result is bit for bit
// the one with every view copied.
TEST(Executor, ViewChainsKeepTheirBaseAlive) {
  const std::string graph = WithInputX(std::string(kTanhReshapedExpanded) + R"(
    node { name: "q" op: "Squeeze" input: "e"
      attr { key: "axes" value { list { i: 0 } } } }
    node { name: "i" op: "Identity" input: "q" }
    node { name: "back" op: "Reshape" input: "i"
      attr { key: "shape" value { list { i: -1 i: 3 } } } }
    node { name: "s1" op: "Sigmoid" input: "x" }
    node { name: "s2" op: "Mul" input: "s1" input: "s1" }
    node { name: "s3" op: "Neg" input: "s2" }
    node { name: "u" op: "Mul" input: "back" input: "s3" }
    output: "u")");
  auto with_views = MakeWithViews(graph, true);
  auto copies = MakeWithViews(graph, false);
  for (int rows : {5, 30000}) {
    Tensor x = Batch(rows);
    auto got = with_views->Run({{"x", x}}, {"u"});
    auto want = copies->Run({{"x", x}}, {"u"});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(with_views->last_plan_stats().views, 5);
    EXPECT_EQ(copies->last_plan_stats().views, 0);
    EXPECT_EQ(with_views->last_plan_stats().num_kernels + 5,
              copies->last_plan_stats().num_kernels);
    EXPECT_TRUE((*got)[0].BitwiseEquals((*want)[0])) << rows;
    for (int k = 0; k < 3 * rows; k += 7) {
      const double v = x.data<float>()[k], s = 1 / (1 + std::exp(-v));
      EXPECT_NEAR((*got)[0].data<float>()[k], -std::tanh(v) * s * s, 1e-6);
    }
  }
}

// ReduceSumLike is a view where it sums only over axes of size 1 (x of
// like's size: a gradient built for a symbolic batch, run at batch 1) and
// a kernel where it really sums (batch 4). Its bf16 copy is then its own:
// under bf16_all, the MatMul of the sum must not read the copy made of its
// input for the other MatMul (the input and the sum share a value name
// only while the sum is a view).
TEST(Executor, ReduceSumLikeViewsItsInputOnlyWhereItSumsNothing) {
  const std::string graph = WithInputX(R"(
    node { name: "like" op: "Input"
      attr { key: "dtype" value { type: DT_FLOAT } }
      attr { key: "shape" value { shape { dim: 1 dim: 3 } } } }
    node { name: "w" op: "Const"
      attr { key: "value" value { tensor { dtype: DT_FLOAT dims: 3 dims: 2
        float_val: [ 0.5, -1, 0.25, 2, -0.75, 1 ] } } } }
    node { name: "t" op: "Tanh" input: "x" }
    node { name: "s" op: "ReduceSumLike" input: "t" input: "like" }
    node { name: "mt" op: "MatMul" input: "t" input: "w" }
    node { name: "ms" op: "MatMul" input: "s" input: "w" }
    output: "ms")");
  const bool bf16 = CpuRunsBf16();
  for (Precision precision : {Precision::kF32, Precision::kBf16}) {
    if (precision == Precision::kBf16 && !bf16) continue;
    auto loaded = ParseGraphText(graph, "test.pbtxt");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto g = ValidateGraph(*std::move(loaded), {});
    ASSERT_TRUE(g.ok()) << g.status();
    ExecutorOptions options{Backend::kOneDnn};
    options.precision = precision;
    options.bf16_min_multiply_adds = 0;  // bf16_all.
    auto ex = Executor::Create(*std::move(g), options);
    ASSERT_TRUE(ex.ok()) << ex.status();
    // bf16 rounds each operand to 8 bits of mantissa.
    const double tolerance = precision == Precision::kBf16 ? 2e-2 : 1e-6;
    for (int rows : {1, 4}) {
      Tensor x = Batch(rows);
      Tensor like = *Tensor::Allocate(DType::kF32, {1, 3});
      auto out = (*ex)->Run({{"x", x}, {"like", like}}, {"s", "ms", "mt"});
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ((*ex)->last_plan_stats().views, rows == 1 ? 1 : 0) << rows;
      const double w[3][2] = {{0.5, -1}, {0.25, 2}, {-0.75, 1}};
      double sum[3] = {0, 0, 0};
      for (int k = 0; k < 3 * rows; ++k) {
        sum[k % 3] += std::tanh(x.data<float>()[k]);
      }
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR((*out)[0].data<float>()[k], sum[k], 1e-6) << rows;
      }
      for (int j = 0; j < 2; ++j) {
        double want = 0;
        for (int k = 0; k < 3; ++k) want += sum[k] * w[k][j];
        EXPECT_NEAR((*out)[1].data<float>()[j], want,
                    tolerance * (1 + std::abs(want)))
            << rows << " " << j;
      }
    }
  }
}

// A Reshape of a Parameter copies it (the optimizer rewrites parameters in
// place); a Reshape of a copy of it may view the copy. Results fetched
// before the parameter changes keep the old values.
TEST(Executor, ViewsOfParametersAreCopies) {
  const std::string graph = std::string(R"(
    node { name: "p" op: "Parameter"
      attr { key: "value" value { tensor { dtype: DT_FLOAT dims: 2 dims: 3
        float_val: [ 1, 2, 3, 4, 5, 6 ] } } } }
    node { name: "r" op: "Reshape" input: "p"
      attr { key: "shape" value { list { i: -1 } } } }
    node { name: "c" op: "Identity" input: "p" }
    node { name: "rc" op: "Reshape" input: "c"
      attr { key: "shape" value { list { i: 3 i: 2 } } } }
    output: "r")");
  auto ex = MakeWithViews(graph, true);
  auto first = ex->RunNoCopy({}, {"r", "rc"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(ex->last_plan_stats().views, 1);  // rc only.
  const std::vector<Tensor> before = *first;
  float* p = ex->mutable_value("p")->data<float>();
  for (int k = 0; k < 6; ++k) p[k] *= -10;  // As an optimizer step does.
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(before[0].data<float>()[k], k + 1);
    EXPECT_EQ(before[1].data<float>()[k], k + 1);
  }
  auto second = ex->Run({}, {"r", "rc"});
  ASSERT_TRUE(second.ok()) << second.status();
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ((*second)[0].data<float>()[k], -10 * (k + 1));
    EXPECT_EQ((*second)[1].data<float>()[k], -10 * (k + 1));
  }
}

// Callers rewrite fetched buffers in place after a run (the trainer scales
// gradients to clip them): a fetched view whose base, or another view of
// it, is fetched too is a copy, so the rewrite reaches one fetch only. A
// fetched view with no fetched relative stays a view.
TEST(Executor, FetchedViewsShareNoBytesWithOtherFetches) {
  const std::string graph = WithInputX(std::string(kTanhReshapedExpanded) + R"(
    node { name: "i" op: "Identity" input: "t" }
    output: "e")");
  auto ex = MakeWithViews(graph, true);
  const Tensor x = Batch(4);
  auto alone = ex->RunNoCopy({{"x", x}}, {"e"});
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(ex->last_plan_stats().views, 2);
  auto all = ex->RunNoCopy({{"x", x}}, {"t", "r", "e", "i"});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(ex->last_plan_stats().views, 0);
  std::vector<Tensor> fetched = *all;
  for (int k = 0; k < 12; ++k) fetched[0].data<float>()[k] *= 2;
  const Tensor t = (*MakeWithViews(graph, false)->Run({{"x", x}}, {"t"}))[0];
  for (int k = 0; k < 12; ++k) {
    EXPECT_EQ(fetched[0].data<float>()[k], 2 * t.data<float>()[k]);
    for (int f = 1; f < 4; ++f) {
      EXPECT_EQ(fetched[f].data<float>()[k], t.data<float>()[k]) << f;
    }
  }
}

// Kernels under 2^18 elements run on one thread; larger ones on all, and
// the thread count is the same after a run as before it.
TEST(Executor, SmallKernelsRunOnOneThread) {
  ASSERT_TRUE(SetThreads(2, "threads").ok());
  auto ex = Make(kGraph, Backend::kOneDnn);
  for (int rows : {4, 80000}) {  // 2 + 3 elements per row and kernel, or so.
    Tensor x = Batch(rows);
    auto out = ex->Run({{"x", x}}, {"p"});
    ASSERT_TRUE(out.ok()) << out.status();
    std::vector<double> want = Expected(x);
    for (int i = 0; i < 2 * rows; i += 997)
      EXPECT_NEAR((*out)[0].data<float>()[i], want[i], 1e-6) << i;
    EXPECT_EQ(ex->last_plan_stats().single_threaded_kernels, rows == 4 ? 4 : 0)
        << rows;
    EXPECT_EQ(CurrentThreads(), 2);
  }
}

TEST(Executor, CompilesOncePerSignature) {
  auto ex = Make(kGraph, Backend::kOneDnn);
  ASSERT_TRUE(ex->Run({{"x", Batch(2)}}, {"p"}).ok());
  ASSERT_TRUE(ex->Run({{"x", Batch(2)}}, {"p"}).ok());
  EXPECT_EQ(ex->num_compiles(), 1);
  auto five =
      ex->Run({{"x", Batch(5)}}, {"p"});  // The symbolic batch binds to 5.
  ASSERT_TRUE(five.ok());
  EXPECT_EQ((*five)[0].shape(), Shape({5, 2}));
  EXPECT_EQ(ex->num_compiles(), 2);
  ASSERT_TRUE(ex->Run({{"x", Batch(2)}}, {"p", "h"}).ok());  // New fetch set.
  EXPECT_EQ(ex->num_compiles(), 3);
  ASSERT_TRUE(ex->Run({{"x", Batch(5)}}, {"p"}).ok());
  EXPECT_EQ(ex->num_compiles(), 3);
}

TEST(Executor, FetchesSurviveLaterRuns) {
  auto ex = Make(kGraph, Backend::kOneDnn);
  Tensor first = (*ex->Run({{"x", Batch(2)}}, {"p"}))[0];
  Tensor copy = *first.Clone();
  Tensor other = Batch(2);
  other.data<float>()[0] = 3.f;
  ASSERT_TRUE(ex->Run({{"x", other}}, {"p"}).ok());
  EXPECT_TRUE(first.BitwiseEquals(copy));
}

TEST(Executor, RunNoCopyReturnsViewsThatOutliveThePlan) {
  auto loaded = ParseGraphText(kGraph, "test.pbtxt");
  ExecutorOptions options;
  options.max_cached_plans = 1;  // The next signature evicts the plan.
  auto ex = *Executor::Create(*ValidateGraph(*std::move(loaded)), options);
  Tensor copy = (*ex->Run({{"x", Batch(2)}}, {"p"}))[0];
  auto views = ex->RunNoCopy({{"x", Batch(2)}}, {"p"});
  ASSERT_TRUE(views.ok()) << views.status();
  Tensor view = (*views)[0];
  EXPECT_TRUE(view.BitwiseEquals(copy));
  // A run with the same signature overwrites the view in place.
  Tensor other = Batch(2);
  other.data<float>()[0] = 5.f;
  Tensor second = (*ex->RunNoCopy({{"x", other}}, {"p"}))[0];
  EXPECT_EQ(second.raw_data(), view.raw_data());
  EXPECT_FALSE(view.BitwiseEquals(copy));
  // Another signature evicts that plan; the view keeps its buffer alive
  // (ASan would report a use after free otherwise).
  ASSERT_TRUE(ex->Run({{"x", Batch(3)}}, {"p"}).ok());
  float sum = 0;
  for (int64_t i = 0; i < view.num_elements(); ++i)
    sum += view.data<float>()[i];
  EXPECT_NEAR(sum, 2.f, 1e-5);  // Two softmax rows.
}

TEST(Executor, ChainReusesBuffers) {
  std::string text = R"pb(node {
                            name: "t0"
                            op: "Input"
                            attr {
                              key: "dtype"
                              value { type: DT_FLOAT }
                            }
                            attr {
                              key: "shape"
                              value { shape { dim: 256 } }
                            }
                          })pb";
  for (int i = 1; i <= 20; ++i) {
    text += "node { name: \"t" + std::to_string(i) +
            "\" op: \"Tanh\" input: \"t" + std::to_string(i - 1) + "\" }\n";
  }
  auto ex = Make(text, Backend::kReference);
  Tensor x = *Tensor::Allocate(DType::kF32, {256});
  x.data<float>()[7] = 0.5f;
  auto out = ex->Run({{"t0", x}}, {"t20"});
  ASSERT_TRUE(out.ok()) << out.status();
  float want = 0.5f;
  for (int i = 0; i < 20; ++i) want = std::tanh(want);
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[7], want);
  const PlanStats& s = ex->last_plan_stats();
  EXPECT_EQ(s.unshared_bytes, 21 * 1024);
  // The input lives through the run (PreparedRun writes it once); the rest
  // ping-pong between two buffers.
  EXPECT_EQ(s.planned_peak_bytes, 3 * 1024);
}

TEST(Executor, OnlyNeededNodesRun) {
  auto ex = Make(kGraph, Backend::kOneDnn);
  // Fetching "xw" needs x and w only: one kernel.
  auto out = ex->Run({{"x", Batch(1)}}, {"xw"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(ex->last_plan_stats().num_kernels, 1);
  // A parameter can be fetched directly, and nothing needs feeding.
  auto w = ex->Run({}, {"w"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FLOAT_EQ((*w)[0].data<float>()[3], 2.f);
}

TEST(Executor, ParametersChangeInPlace) {
  auto ex = Make(kGraph, Backend::kOneDnn);
  Tensor before = (*ex->Run({{"x", Batch(1)}}, {"xw"}))[0];
  Tensor* w = ex->mutable_value("w");
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 6; ++i) w->data<float>()[i] *= 2;
  Tensor after = (*ex->Run({{"x", Batch(1)}}, {"xw"}))[0];
  EXPECT_FLOAT_EQ(after.data<float>()[0], 2 * before.data<float>()[0]);
  EXPECT_EQ(ex->mutable_value("h"), nullptr);
}

struct BadRun {
  std::string name;
  std::map<std::string, Tensor> feeds;
  std::vector<std::string> fetches;
  absl::StatusCode code;
  std::string message;
};

TEST(Executor, BadFeedsAndFetches) {
  Tensor f64 = *Tensor::Allocate(DType::kF64, {2, 3});
  Tensor wrong_width = *Tensor::Allocate(DType::kF32, {2, 4});
  Tensor wrong_rank = *Tensor::Allocate(DType::kF32, {6});
  std::vector<BadRun> cases = {
      {"unknown fetch",
       {{"x", Batch(1)}},
       {"nope"},
       absl::StatusCode::kNotFound,
       "'nope' names no node"},
      {"bad output index",
       {{"x", Batch(1)}},
       {"p:1"},
       absl::StatusCode::kNotFound,
       "has 1 output"},
      {"missing feed",
       {},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "input 'x' is needed"},
      {"unknown feed",
       {{"x", Batch(1)}, {"y", Batch(1)}},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "feed 'y' names no Input"},
      {"feed of non-input",
       {{"x", Batch(1)}, {"h", Batch(1)}},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "feed 'h' names no Input"},
      {"wrong dtype",
       {{"x", f64}},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "is f64 but the input is declared f32"},
      {"wrong width",
       {{"x", wrong_width}},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "has shape [2, 4] but the input is declared [?, 3]"},
      {"wrong rank",
       {{"x", wrong_rank}},
       {"p"},
       absl::StatusCode::kInvalidArgument,
       "has shape [6]"},
      {"no fetches",
       {{"x", Batch(1)}},
       {},
       absl::StatusCode::kInvalidArgument,
       "nothing to fetch"},
  };
  auto ex = Make(kGraph, Backend::kOneDnn);
  for (const BadRun& c : cases) {
    SCOPED_TRACE(c.name);
    auto out = ex->Run(c.feeds, c.fetches);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), c.code) << out.status();
    EXPECT_NE(out.status().message().find(c.message), std::string::npos)
        << out.status();
  }
  // After all that, a good run still works.
  EXPECT_TRUE(ex->Run({{"x", Batch(3)}}, {"p"}).ok());
}

// An Input's allowed_values are checked on every run, not only when the
// plan for a shape is compiled.
TEST(Executor, FeedsOutsideAnInputsAllowedValuesAreRefusedOnEveryRun) {
  const std::string graph = absl::StrCat(
      "node { name: 'm' op: 'Input' ",
      "attr { key: 'dtype' value { type: DT_INT32 } } ",
      "attr { key: 'shape' value { shape { dim: -1 dim: 3 } } } ",
      "attr { key: 'allowed_values' value { list { i: [0, 1] } } } } ",
      "node { name: 'f' op: 'Cast' input: 'm' ",
      "attr { key: 'dtype' value { type: DT_FLOAT } } } output: 'f'");
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    auto ex = Make(graph, backend);
    Tensor m = *Tensor::Allocate(DType::kI32, {2, 3});
    for (int64_t i = 0; i < 6; ++i) m.data<int32_t>()[i] = i % 2;
    ASSERT_TRUE(ex->Run({{"m", m}}, {"f"}).ok());
    m.data<int32_t>()[5] = -1;
    auto out = ex->Run({{"m", m}}, {"f"});
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message(),
              "feed 'm': row 1, element 2 is -1, but the input allows only "
              "0, 1");
    m.data<int32_t>()[5] = 1;
    EXPECT_TRUE(ex->Run({{"m", m}}, {"f"}).ok());
  }
}

// A feed that indexes a Gather or labels a SoftmaxCrossEntropy is checked
// against the size the graph fixes before any kernel runs, naming the
// input, row and value (the kernels' own checks come too late and name the
// node only).
TEST(Executor, FeedsThatIndexOutOfRangeAreRefusedBeforeAnyKernelRuns) {
  const std::string graph = absl::StrCat(
      "node { name: 'table' op: 'Const' attr { key: 'value' value { tensor { ",
      "dtype: DT_FLOAT dims: [5, 2] float_val: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] ",
      "} } } } ", "node { name: 'ids' op: 'Input' ",
      "attr { key: 'dtype' value { type: DT_INT64 } } ",
      "attr { key: 'shape' value { shape { dim: -1 dim: 3 } } } } ",
      "node { name: 'rows' op: 'Gather' input: 'table' input: 'ids' } ",
      "node { name: 'logits' op: 'Input' ",
      "attr { key: 'dtype' value { type: DT_FLOAT } } ",
      "attr { key: 'shape' value { shape { dim: -1 dim: 4 } } } } ",
      "node { name: 'labels' op: 'Input' ",
      "attr { key: 'dtype' value { type: DT_INT32 } } ",
      "attr { key: 'shape' value { shape { dim: -1 } } } } ",
      "node { name: 'xent' op: 'SoftmaxCrossEntropy' input: 'logits' ",
      "input: 'labels' } output: 'rows' output: 'xent'");
  for (Backend backend : {Backend::kReference, Backend::kOneDnn}) {
    SCOPED_TRACE(BackendName(backend));
    auto ex = Make(graph, backend);
    Tensor ids = *Tensor::Allocate(DType::kI64, {2, 3});
    for (int64_t i = 0; i < 6; ++i) ids.data<int64_t>()[i] = i % 5;
    Tensor logits = *Tensor::Allocate(DType::kF32, {3, 4});
    for (int64_t i = 0; i < 12; ++i) logits.data<float>()[i] = 0.1f * i;
    Tensor labels = *Tensor::Allocate(DType::kI32, {3});
    labels.data<int32_t>()[0] = 3;
    labels.data<int32_t>()[1] = -100;  // ignore_index: allowed.
    labels.data<int32_t>()[2] = 0;
    std::map<std::string, Tensor> feeds = {
        {"ids", ids}, {"logits", logits}, {"labels", labels}};
    ASSERT_TRUE(ex->Run(feeds, {"rows", "xent"}).ok());

    feeds["ids"].data<int64_t>()[4] = 5;
    auto out = ex->Run(feeds, {"rows", "xent"});
    ASSERT_FALSE(out.ok());
    // Describe() may put the node's source position before its name.
    auto says = [&](const std::string& start, const std::string& node) {
      const std::string m(out.status().message());
      return m.rfind(start, 0) == 0 && m.find(node) != std::string::npos;
    };
    EXPECT_TRUE(
        says("feed 'ids': row 1, element 1: index 5 is outside "
             "[0, 5); input 'ids' feeds ",
             "node 'rows' (Gather)"))
        << out.status();
    feeds["ids"].data<int64_t>()[4] = -1;  // Gather does not wrap.
    out = ex->Run(feeds, {"rows", "xent"});
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("index -1 is outside [0, 5)"),
              std::string::npos)
        << out.status();
    feeds["ids"].data<int64_t>()[4] = 4;

    feeds["labels"].data<int32_t>()[2] = 4;
    out = ex->Run(feeds, {"rows", "xent"});
    ASSERT_FALSE(out.ok());
    EXPECT_TRUE(
        says("feed 'labels': row 2, element 0: label 4 is outside "
             "[0, 4) (and not ignore_index -100); input 'labels' "
             "feeds ",
             "node 'xent' (SoftmaxCrossEntropy)"))
        << out.status();
    feeds["labels"].data<int32_t>()[2] = 0;
    EXPECT_TRUE(ex->Run(feeds, {"rows", "xent"}).ok());
  }
}

TEST(Executor, ActivationsPastTheBudgetAreRefusedBeforeAllocating) {
  // A 1 MiB budget: a small feed runs, 1.2 MB in and out do not.
  auto g = Make(R"pb(
                  node {
                    name: "x"
                    op: "Input"
                    attr {
                      key: "dtype"
                      value { type: DT_FLOAT }
                    }
                    attr {
                      key: "shape"
                      value { shape { dim: -1 } }
                    }
                  }
                  node { name: "y" op: "Tanh" input: "x" })pb",
                Backend::kReference, 1 << 20);
  ASSERT_TRUE(
      g->Run({{"x", *Tensor::Allocate(DType::kF32, {1000})}}, {"y"}).ok());
  Tensor x = *Tensor::Allocate(DType::kF32, {300000});
  auto out = g->Run({{"x", x}}, {"y"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(out.status().message().find("memory budget"), std::string::npos);
}

TEST(Executor, ParseBackend) {
  EXPECT_EQ(*ParseBackend("onednn"), Backend::kOneDnn);
  EXPECT_EQ(*ParseBackend("reference"), Backend::kReference);
  EXPECT_FALSE(ParseBackend("cuda").ok());
}

}  // namespace
}  // namespace rill

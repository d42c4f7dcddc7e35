// The index, random and loss ops: values computed by hand, the statistics
// and reproducibility of the random ops, and one test per class of bad
// input, each asserting the status code and that the message names the node
// and the offending value or field.

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr Backend kBackends[] = {Backend::kOneDnn, Backend::kReference};

// An Input node `name` of `type` (DT_FLOAT, ...) and shape `dims`.
std::string In(const std::string& name, const std::string& type,
               std::initializer_list<int64_t> dims) {
  std::string shape;
  for (int64_t d : dims) absl::StrAppend(&shape, "dim: ", d, " ");
  return absl::StrCat("node { name: '", name,
                      "' op: 'Input' attr { key: 'dtype' value { type: ", type,
                      " } } attr { key: 'shape' value { shape { ", shape,
                      "} } } }\n");
}

absl::StatusOr<std::unique_ptr<Executor>> Build(const std::string& text,
                                                Backend backend,
                                                int64_t budget = 1 << 30) {
  ASSIGN_OR_RETURN(LoadedGraph loaded, ParseGraphText(text, "ops.pbtxt"));
  ValidateOptions options;
  options.memory_budget = budget;
  ASSIGN_OR_RETURN(ValidGraph g, ValidateGraph(std::move(loaded), options));
  ExecutorOptions run;
  run.backend = backend;
  run.training = true;  // Dropout drops, as its rows expect.
  return Executor::Create(std::move(g), run);
}

// Loads, validates and runs `text`; the first error on the way, if any.
absl::StatusOr<std::vector<Tensor>> RunGraph(
    const std::string& text, const std::map<std::string, Tensor>& feeds,
    std::vector<std::string> fetches = {"y"},
    Backend backend = Backend::kReference, int64_t budget = 1 << 30) {
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex, Build(text, backend, budget));
  return ex->Run(feeds, fetches);
}

template <typename T>
Tensor Make(Shape shape, std::vector<T> values) {
  Tensor t = *Tensor::Allocate(DTypeOf<T>::value, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

// The status is `code` and its message holds each of `parts`.
void ExpectError(const absl::Status& s, absl::StatusCode code,
                 std::initializer_list<std::string> parts) {
  EXPECT_EQ(s.code(), code) << s;
  for (const std::string& p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos)
        << "'" << p << "' not in: " << s.message();
  }
}

template <typename T>
absl::Status ErrorOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// ---- Known values ----

TEST(IndexOps, GatherKnownValues) {
  Tensor params = Make<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  std::string rows = In("p", "DT_FLOAT", {3, 2}) + In("i", "DT_INT32", {3}) +
                     "node { name: 'y' op: 'Gather' input: 'p' input: 'i' }";
  std::string cols = In("p", "DT_FLOAT", {3, 2}) + In("i", "DT_INT64", {2, 1}) +
                     "node { name: 'y' op: 'Gather' input: 'p' input: 'i' "
                     "attr { key: 'axis' value { i: -1 } } }";
  for (Backend b : kBackends) {
    auto y = RunGraph(
        rows, {{"p", params}, {"i", Make<int32_t>({3}, {2, 0, 2})}}, {"y"}, b);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].shape(), Shape({3, 2}));
    EXPECT_EQ(Values<float>((*y)[0]), std::vector<float>({5, 6, 1, 2, 5, 6}));
    y = RunGraph(cols, {{"p", params}, {"i", Make<int64_t>({2, 1}, {1, 0})}},
                 {"y"}, b);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].shape(), Shape({3, 2, 1}));
    EXPECT_EQ(Values<float>((*y)[0]), std::vector<float>({2, 1, 4, 3, 6, 5}));
  }
}

TEST(IndexOps, ScatterAddAccumulatesDuplicates) {
  std::string text = In("p", "DT_FLOAT", {3, 2}) + In("i", "DT_INT32", {3}) +
                     In("u", "DT_FLOAT", {3, 2}) +
                     "node { name: 'y' op: 'ScatterAdd' input: 'p' "
                     "input: 'i' input: 'u' }";
  auto y = RunGraph(text, {{"p", Make<float>({3, 2}, {9, 9, 9, 9, 9, 9})},
                           {"i", Make<int32_t>({3}, {2, 0, 2})},
                           {"u", Make<float>({3, 2}, {1, 10, 2, 20, 3, 30})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Values<float>((*y)[0]), std::vector<float>({2, 20, 0, 0, 4, 40}));
}

TEST(IndexOps, OneHotKnownValues) {
  Tensor ids = Make<int32_t>({3}, {1, -1, 3});  // -1 and 3: all off.
  std::string last = In("i", "DT_INT32", {3}) +
                     "node { name: 'y' op: 'OneHot' input: 'i' "
                     "attr { key: 'depth' value { i: 3 } } }";
  auto y = RunGraph(last, {{"i", ids}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].shape(), Shape({3, 3}));
  EXPECT_EQ(Values<float>((*y)[0]),
            std::vector<float>({0, 1, 0, 0, 0, 0, 0, 0, 0}));
  std::string first = In("i", "DT_INT32", {3}) +
                      "node { name: 'y' op: 'OneHot' input: 'i' "
                      "attr { key: 'depth' value { i: 2 } } "
                      "attr { key: 'axis' value { i: 0 } } "
                      "attr { key: 'on_value' value { f: 5 } } "
                      "attr { key: 'off_value' value { f: -2 } } "
                      "attr { key: 'dtype' value { type: DT_INT64 } } }";
  y = RunGraph(first, {{"i", Make<int32_t>({3}, {1, 0, 1})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].dtype(), DType::kI64);
  EXPECT_EQ(Values<int64_t>((*y)[0]),
            std::vector<int64_t>({-2, 5, -2, 5, -2, 5}));
}

TEST(IndexOps, MasksKnownValues) {
  std::string causal = In("x", "DT_DOUBLE", {2, 3, 4}) +
                       "node { name: 'y' op: 'CausalMask' input: 'x' }\n"
                       "node { name: 'k' op: 'CausalMask' input: 'x' "
                       "attr { key: 'additive' value { b: false } } }";
  auto y = RunGraph(causal, {{"x", *Tensor::Allocate(DType::kF64, {2, 3, 4})}},
                    {"y", "k"});
  ASSERT_TRUE(y.ok()) << y.status();
  const double m = -1e9;
  EXPECT_EQ((*y)[0].shape(), Shape({3, 4}));
  EXPECT_EQ(Values<double>((*y)[0]),
            std::vector<double>({0, m, m, m, 0, 0, m, m, 0, 0, 0, m}));
  EXPECT_EQ(Values<double>((*y)[1]),
            std::vector<double>({1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0}));
  std::string padding = In("n", "DT_INT64", {3}) +
                        In("x", "DT_FLOAT", {3, 5, 3}) +
                        "node { name: 'y' op: 'PaddingMask' input: 'n' "
                        "input: 'x' }";
  y = RunGraph(padding, {{"n", Make<int64_t>({3}, {2, 0, 3})},
                         {"x", *Tensor::Allocate(DType::kF32, {3, 5, 3})}});
  ASSERT_TRUE(y.ok()) << y.status();
  const float f = -1e9f;
  EXPECT_EQ((*y)[0].shape(), Shape({3, 3}));
  EXPECT_EQ(Values<float>((*y)[0]),
            std::vector<float>({0, 0, f, f, f, f, 0, 0, 0}));
}

// Rows: ln(1 + 1) = ln 2, and -log(3/4) for logits (0, ln 3) and label 1.
TEST(LossOps, SoftmaxCrossEntropyKnownValues) {
  Tensor logits = Make<float>({3, 2}, {0, 0, 0, std::log(3.f), 1000, 0});
  Tensor labels = Make<int32_t>({3}, {0, 1, -100});  // Row 2 is ignored.
  Tensor weights = Make<float>({3}, {1, 3, 100});
  double l0 = std::log(2.0), l1 = -std::log(0.75);
  std::string head = In("x", "DT_FLOAT", {3, 2}) + In("t", "DT_INT32", {3}) +
                     In("w", "DT_FLOAT", {3});
  auto loss = [&](const std::string& node) {
    auto y =
        RunGraph(head + node, {{"x", logits}, {"t", labels}, {"w", weights}});
    EXPECT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].shape(), Shape());
    return (*y)[0].data<float>()[0];
  };
  EXPECT_NEAR(loss("node { name: 'y' op: 'SoftmaxCrossEntropy' input: 'x' "
                   "input: 't' }"),
              (l0 + l1) / 2, 1e-6);
  EXPECT_NEAR(loss("node { name: 'y' op: 'SoftmaxCrossEntropy' input: 'x' "
                   "input: 't' attr { key: 'reduction' value { s: 'sum' } } }"),
              l0 + l1, 1e-6);
  EXPECT_NEAR(loss("node { name: 'y' op: 'SoftmaxCrossEntropy' input: 'x' "
                   "input: 't' input: 'w' }"),
              (l0 + 3 * l1) / 4, 1e-6);
}

TEST(LossOps, SoftmaxCrossEntropyIsStableAndAllIgnoredIsZero) {
  std::string text = In("x", "DT_DOUBLE", {2, 2}) + In("t", "DT_INT64", {2}) +
                     "node { name: 'y' op: 'SoftmaxCrossEntropy' input: 'x' "
                     "input: 't' }";
  Tensor logits = Make<double>({2, 2}, {1000, 0, -1000, 1000});
  auto y = RunGraph(text, {{"x", logits}, {"t", Make<int64_t>({2}, {1, 1})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_NEAR((*y)[0].data<double>()[0], 500, 1e-9);  // (1000 + 0) / 2
  y = RunGraph(text, {{"x", logits}, {"t", Make<int64_t>({2}, {-100, -100})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].data<double>()[0], 0);
}

TEST(LossOps, MeanSquaredErrorKnownValues) {
  std::string text = In("p", "DT_FLOAT", {3}) + In("t", "DT_FLOAT", {3}) +
                     "node { name: 'y' op: 'MeanSquaredError' input: 'p' "
                     "input: 't' }";
  auto y = RunGraph(text, {{"p", Make<float>({3}, {1, 2, 3})},
                           {"t", Make<float>({3}, {1, 0, 0})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_FLOAT_EQ((*y)[0].data<float>()[0], 13.f / 3);
}

// ---- Random ops ----

std::string Attr(const std::string& key, const std::string& value) {
  return absl::StrCat("attr { key: '", key, "' value { ", value, " } } ");
}

std::string Shape1(int64_t n) {
  return Attr("shape", absl::StrCat("shape { dim: ", n, " }"));
}

// One random node `name` (no inputs).
std::string RandomGraph(const std::string& op, const std::string& attrs,
                        const std::string& name = "y") {
  return absl::StrCat("node { name: '", name, "' op: '", op, "' ", attrs, "}");
}

struct Moments {
  double mean = 0, stddev = 0, min = INFINITY, max = -INFINITY;
};

template <typename T>
Moments MomentsOf(const Tensor& t) {
  Moments m;
  double sum = 0, sum2 = 0;
  for (T v : Values<T>(t)) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
    m.min = std::min<double>(m.min, v);
    m.max = std::max<double>(m.max, v);
  }
  double n = static_cast<double>(t.num_elements());
  m.mean = sum / n;
  m.stddev = std::sqrt(sum2 / n - m.mean * m.mean);
  return m;
}

// Each value drawn in f32 is the f64 draw rounded.
void ExpectF32IsRoundedF64(const std::string& op, const std::string& attrs) {
  auto f32 = RunGraph(RandomGraph(op, attrs), {});
  auto f64 =
      RunGraph(RandomGraph(op, attrs + Attr("dtype", "type: DT_DOUBLE")), {});
  ASSERT_TRUE(f32.ok() && f64.ok()) << f32.status() << f64.status();
  std::vector<float> narrow = Values<float>((*f32)[0]);
  std::vector<double> wide = Values<double>((*f64)[0]);
  ASSERT_EQ(narrow.size(), wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    ASSERT_EQ(narrow[i], static_cast<float>(wide[i])) << op << " " << i;
  }
}

// 100k samples: standard errors are about 0.004 for the mean and 0.003 for
// the stddev, so the tolerances below are more than 3 of them.
TEST(RandomOps, UniformStatistics) {
  std::string attrs = Shape1(100000) + Attr("minval", "f: -1") +
                      Attr("maxval", "f: 3") + Attr("seed", "i: 5");
  auto y = RunGraph(RandomGraph("RandomUniform", attrs), {});
  ASSERT_TRUE(y.ok()) << y.status();
  Moments m = MomentsOf<float>((*y)[0]);
  EXPECT_NEAR(m.mean, 1, 0.02);
  EXPECT_NEAR(m.stddev, 4 / std::sqrt(12.0), 0.01);
  EXPECT_GE(m.min, -1);
  EXPECT_LT(m.max, 3);
  ExpectF32IsRoundedF64("RandomUniform", Shape1(1001) + Attr("seed", "i: 1"));
}

TEST(RandomOps, NormalStatistics) {
  std::string attrs = Shape1(100001) + Attr("mean", "f: 2") +
                      Attr("stddev", "f: 0.5") + Attr("seed", "i: 6");
  auto y = RunGraph(RandomGraph("RandomNormal", attrs), {});
  ASSERT_TRUE(y.ok()) << y.status();
  Moments m = MomentsOf<float>((*y)[0]);
  EXPECT_NEAR(m.mean, 2, 0.01);
  EXPECT_NEAR(m.stddev, 0.5, 0.005);
  ExpectF32IsRoundedF64("RandomNormal", attrs);
}

TEST(RandomOps, TruncatedNormalStatistics) {
  std::string attrs = Shape1(100000) + Attr("seed", "i: 7");
  auto y = RunGraph(RandomGraph("TruncatedNormal", attrs), {});
  ASSERT_TRUE(y.ok()) << y.status();
  Moments m = MomentsOf<float>((*y)[0]);
  EXPECT_NEAR(m.mean, 0, 0.01);
  // The stddev of a standard normal truncated to [-2, 2].
  EXPECT_NEAR(m.stddev, 0.8796, 0.01);
  EXPECT_GE(m.min, -2);
  EXPECT_LE(m.max, 2);
  EXPECT_LT(m.min, -1.99);  // The tails are reached, not cut short.
  EXPECT_GT(m.max, 1.99);
  auto scaled =
      RunGraph(RandomGraph("TruncatedNormal", attrs + Attr("mean", "f: 1") +
                                                  Attr("stddev", "f: 3")),
               {});
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  m = MomentsOf<float>((*scaled)[0]);
  EXPECT_GE(m.min, 1 - 6 - 1e-5);
  EXPECT_LE(m.max, 1 + 6 + 1e-5);
  ExpectF32IsRoundedF64("TruncatedNormal", attrs);
}

bool Same(const Tensor& a, const Tensor& b) { return a.BitwiseEquals(b); }

TEST(RandomOps, SeedsRunsAndBackends) {
  for (const char* op : {"RandomUniform", "RandomNormal", "TruncatedNormal"}) {
    SCOPED_TRACE(op);
    std::string text = RandomGraph(op, Shape1(1000) + Attr("seed", "i: 42"));
    auto onednn = Build(text, Backend::kOneDnn);
    auto reference = Build(text, Backend::kReference);
    ASSERT_TRUE(onednn.ok() && reference.ok());
    Tensor a1 = (*(*onednn)->Run({}, {"y"}))[0];
    Tensor b1 = (*(*onednn)->Run({}, {"y"}))[0];
    Tensor a2 = (*(*reference)->Run({}, {"y"}))[0];
    Tensor b2 = (*(*reference)->Run({}, {"y"}))[0];
    EXPECT_TRUE(Same(a1, a2)) << "same seed, same first run";
    EXPECT_TRUE(Same(b1, b2)) << "same seed, same second run";
    EXPECT_FALSE(Same(a1, b1)) << "each run draws new numbers";
    auto other_seed =
        RunGraph(RandomGraph(op, Shape1(1000) + Attr("seed", "i: 43")), {});
    auto other_node = RunGraph(
        RandomGraph(op, Shape1(1000) + Attr("seed", "i: 42"), "z"), {}, {"z"});
    ASSERT_TRUE(other_seed.ok() && other_node.ok());
    EXPECT_FALSE(Same(a1, (*other_seed)[0]));
    EXPECT_FALSE(Same(a1, (*other_node)[0])) << "nodes draw independently";
  }
}

TEST(RandomOps, DropoutKeepsOneMinusRateAndScales) {
  const int n = 100000;
  std::vector<float> xs(n);
  for (int i = 0; i < n; ++i) xs[i] = 1 + i % 7;
  Tensor x = Make<float>({n}, xs);
  auto graph = [](const std::string& attrs) {
    return In("x", "DT_FLOAT", {n}) +
           "node { name: 'y' op: 'Dropout' input: 'x' " + attrs + "}";
  };
  auto out = RunGraph(graph(Attr("rate", "f: 0.3") + Attr("seed", "i: 1")),
                      {{"x", x}}, {"y", "y:1"});
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<float> y = Values<float>((*out)[0]);
  std::vector<float> mask = Values<float>((*out)[1]);
  const float scale = 1 / (1 - 0.3f);
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(mask[i] == 0 || mask[i] == scale) << mask[i];
    ASSERT_EQ(y[i], xs[i] * mask[i]);
    kept += mask[i] != 0;
  }
  EXPECT_NEAR(kept / double{n}, 0.7, 0.01);
  // The same elements are dropped in f64.
  Tensor x64 = *Tensor::Allocate(DType::kF64, {n});
  for (int i = 0; i < n; ++i) x64.data<double>()[i] = xs[i];
  auto out64 = RunGraph(In("x", "DT_DOUBLE", {n}) +
                            "node { name: 'y' op: 'Dropout' input: 'x' " +
                            Attr("rate", "f: 0.3") + Attr("seed", "i: 1") + "}",
                        {{"x", x64}}, {"y:1"});
  ASSERT_TRUE(out64.ok()) << out64.status();
  std::vector<double> mask64 = Values<double>((*out64)[0]);
  for (int i = 0; i < n; ++i) ASSERT_EQ(mask64[i] != 0, mask[i] != 0) << i;
  for (const std::string& attrs :
       {Attr("training", "b: false"), Attr("rate", "f: 0")}) {
    auto id = RunGraph(graph(attrs), {{"x", x}}, {"y", "y:1"});
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(Same((*id)[0], x));
    EXPECT_EQ(Values<float>((*id)[1]), std::vector<float>(n, 1.f));
  }
}

// ---- Bad input: each names the node and the offending value or field ----

// The indices pass through an Identity: fed straight to the Gather, the
// executor would refuse them before the kernel runs (executor_test), and
// this checks the kernel's own check, which computed indices still need.
const std::string kGather = In("p", "DT_FLOAT", {3, 2}) +
                            In("i", "DT_INT32", {-1, 2}) +
                            "node { name: 'j' op: 'Identity' input: 'i' } "
                            "node { name: 'y' op: 'Gather' input: 'p' "
                            "input: 'j' }";

TEST(IndexOpsErrors, GatherIndexOutOfRange) {
  Tensor p = *Tensor::Allocate(DType::kF32, {3, 2});
  for (Backend b : kBackends) {
    auto y = RunGraph(kGather,
                      {{"p", p}, {"i", Make<int32_t>({2, 2}, {0, 1, 2, 3})}},
                      {"y"}, b);
    ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
                {"node 'y' (Gather)", "indices[1, 1] = 3", "size 3"});
    y = RunGraph(kGather, {{"p", p}, {"i", Make<int32_t>({1, 2}, {0, -1})}},
                 {"y"}, b);
    ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
                {"node 'y'", "indices[0, 1] = -1", "do not wrap"});
  }
}

TEST(IndexOpsErrors, GatherBadAxisRankAndDtype) {
  std::string p = In("p", "DT_FLOAT", {3, 2});
  ExpectError(ErrorOf(RunGraph(p + In("i", "DT_INT32", {2}) +
                                   "node { name: 'y' op: 'Gather' input: 'p' "
                                   "input: 'i' " +
                                   Attr("axis", "i: 2") + "}",
                               {})),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'axis' = 2"});
  ExpectError(
      ErrorOf(RunGraph(In("p", "DT_FLOAT", {}) + In("i", "DT_INT32", {2}) +
                           "node { name: 'y' op: 'Gather' input: 'p' "
                           "input: 'i' }",
                       {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'params' must have rank >= 1"});
  ExpectError(ErrorOf(RunGraph(p + In("i", "DT_FLOAT", {2}) +
                                   "node { name: 'y' op: 'Gather' input: 'p' "
                                   "input: 'i' }",
                               {})),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "'indices'", "f32"});
}

TEST(IndexOpsErrors, ScatterAdd) {
  std::string head = In("p", "DT_FLOAT", {3, 2}) + In("i", "DT_INT64", {4});
  std::string node =
      "node { name: 'y' op: 'ScatterAdd' input: 'p' input: 'i' input: 'u' }";
  ExpectError(ErrorOf(RunGraph(head + In("u", "DT_FLOAT", {4, 3}) + node, {})),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "'updates' has shape [4, 3]", "[4, 2]"});
  auto y = RunGraph(head + In("u", "DT_FLOAT", {4, 2}) + node,
                    {{"p", *Tensor::Allocate(DType::kF32, {3, 2})},
                     {"i", Make<int64_t>({4}, {0, 2, 3, 1})},
                     {"u", *Tensor::Allocate(DType::kF32, {4, 2})}});
  ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
              {"node 'y' (ScatterAdd)", "indices[2] = 3"});
}

const std::string kSparse =
    In("r", "DT_INT64", {-1}) + In("c", "DT_INT64", {-1}) +
    In("v", "DT_DOUBLE", {-1}) + In("x", "DT_DOUBLE", {-1, 3}) +
    "node { name: 'y' op: 'SparseMatMul' input: 'r' input: 'c' input: 'v' "
    "input: 'x' " +
    Attr("out_features", "i: 2") + "}";

// W = [[0, 2, 0], [-1, 0, 0.5]] (row 1's entries given out of order, and
// row 1, column 2 given twice: they add), times x = [1, 10, 100] and
// [3, 0, -2].
TEST(SparseOps, SparseMatMulKnownValues) {
  auto y =
      RunGraph(kSparse, {{"r", Make<int64_t>({4}, {0, 1, 1, 1})},
                         {"c", Make<int64_t>({4}, {1, 2, 0, 2})},
                         {"v", Make<double>({4}, {2, 0.25, -1, 0.25})},
                         {"x", Make<double>({2, 3}, {1, 10, 100, 3, 0, -2})}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Values<double>((*y)[0]), (std::vector<double>{20, 49, 0, -4}));
}

TEST(IndexOpsErrors, SparseMatMulEntryOutsideMatrix) {
  auto y = RunGraph(kSparse, {{"r", Make<int64_t>({2}, {0, 2})},
                              {"c", Make<int64_t>({2}, {0, 1})},
                              {"v", Make<double>({2}, {1, 1})},
                              {"x", Make<double>({1, 3}, {1, 2, 3})}});
  ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
              {"node 'y' (SparseMatMul)", "entry 1 at (2, 1)", "[2, 3]"});
  y = RunGraph(kSparse, {{"r", Make<int64_t>({1}, {0})},
                         {"c", Make<int64_t>({1}, {-1})},
                         {"v", Make<double>({1}, {1})},
                         {"x", Make<double>({1, 3}, {1, 2, 3})}});
  ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
              {"entry 0 at (0, -1)"});
  y = RunGraph(kSparse, {{"r", Make<int64_t>({2}, {0, 1})},
                         {"c", Make<int64_t>({1}, {0})},
                         {"v", Make<double>({1}, {1})},
                         {"x", Make<double>({1, 3}, {1, 2, 3})}});
  ExpectError(ErrorOf(y), absl::StatusCode::kInvalidArgument,
              {"vectors of one length"});
}

TEST(IndexOpsErrors, OneHotAttrs) {
  auto one_hot = [](const std::string& attrs, int64_t budget = 1 << 30) {
    return RunGraph(In("i", "DT_INT32", {4}) +
                        "node { name: 'y' op: 'OneHot' input: 'i' " + attrs +
                        "}",
                    {}, {"y"}, Backend::kReference, budget);
  };
  ExpectError(ErrorOf(one_hot(Attr("depth", "i: -1"))),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'depth' = -1"});
  ExpectError(ErrorOf(one_hot(Attr("depth", "i: 3") + Attr("axis", "i: 2"))),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'axis' = 2"});
  ExpectError(
      ErrorOf(one_hot(Attr("depth", "i: 3") + Attr("dtype", "type: DT_BOOL"))),
      absl::StatusCode::kInvalidArgument, {"node 'y'", "attr 'dtype' is bool"});
  ExpectError(
      ErrorOf(one_hot(Attr("depth", "i: 3") + Attr("dtype", "type: DT_INT32") +
                      Attr("on_value", "f: 1.5"))),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "attr 'on_value' = 1.5 is not an i32 integer"});
  ExpectError(ErrorOf(one_hot(Attr("depth", "i: 1000000"), 1 << 20)),
              absl::StatusCode::kResourceExhausted,
              {"node 'y'", "16000000 bytes", "memory budget"});
  ExpectError(ErrorOf(one_hot(Attr("depth", "i: 4611686018427387904"))),
              absl::StatusCode::kInvalidArgument, {"node 'y'", "int64"});
}

TEST(IndexOpsErrors, Masks) {
  ExpectError(
      ErrorOf(RunGraph(In("x", "DT_FLOAT", {5}) +
                           "node { name: 'y' op: 'CausalMask' input: 'x' }",
                       {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'x' must have rank >= 2", "[5]"});
  std::string padding = In("n", "DT_INT32", {-1}) + In("x", "DT_FLOAT", {5}) +
                        "node { name: 'y' op: 'PaddingMask' input: 'n' "
                        "input: 'x' }";
  Tensor x = *Tensor::Allocate(DType::kF32, {5});
  ExpectError(
      ErrorOf(RunGraph(padding, {{"n", Make<int32_t>({2}, {5, 6})}, {"x", x}})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y' (PaddingMask)", "lengths[1] = 6", "length 5"});
  ExpectError(
      ErrorOf(RunGraph(padding, {{"n", Make<int32_t>({1}, {-1})}, {"x", x}})),
      absl::StatusCode::kInvalidArgument, {"node 'y'", "lengths[0] = -1"});
  ExpectError(
      ErrorOf(RunGraph(In("n", "DT_INT32", {2, 2}) + In("x", "DT_FLOAT", {5}) +
                           "node { name: 'y' op: 'PaddingMask' input: 'n' "
                           "input: 'x' }",
                       {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'lengths' must have rank 1"});
}

TEST(RandomOpsErrors, Attrs) {
  auto random = [](const std::string& op, const std::string& attrs,
                   int64_t budget = 1 << 30) {
    return ErrorOf(RunGraph(RandomGraph(op, attrs), {}, {"y"},
                            Backend::kReference, budget));
  };
  ExpectError(random("RandomNormal", Shape1(-1)),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'shape'", "is -1"});
  ExpectError(
      random("RandomUniform",
             Attr("shape", "shape { dim: 4611686018427387904 dim: 4 }")),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "attr 'shape'", "int64"});
  ExpectError(random("RandomUniform", Shape1(1000000), 1 << 20),
              absl::StatusCode::kResourceExhausted,
              {"node 'y'", "output 0 f32[1000000] needs 4000000 bytes",
               "memory budget"});
  ExpectError(random("RandomUniform", Shape1(3) + Attr("minval", "f: 2") +
                                          Attr("maxval", "f: 1")),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'minval' = 2"});
  ExpectError(random("TruncatedNormal", Shape1(3) + Attr("stddev", "f: -1")),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'stddev' = -1"});
  ExpectError(random("RandomNormal", Shape1(3) + Attr("mean", "f: inf")),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'mean' = inf"});
  ExpectError(
      random("RandomNormal", Shape1(3) + Attr("dtype", "type: DT_INT32")),
      absl::StatusCode::kInvalidArgument, {"node 'y'", "attr 'dtype' is i32"});
  ExpectError(random("RandomNormal", ""), absl::StatusCode::kInvalidArgument,
              {"node 'y'", "missing required attr 'shape'"});
  std::string dropout = In("x", "DT_FLOAT", {4}) +
                        "node { name: 'y' op: 'Dropout' input: 'x' " +
                        Attr("rate", "f: 1") + "}";
  ExpectError(ErrorOf(RunGraph(dropout, {})),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "attr 'rate' = 1", "[0, 1)"});
}

TEST(LossOpsErrors, SoftmaxCrossEntropy) {
  // The labels pass through an Identity so that the kernel's own check is
  // what runs (fed straight in, the executor refuses them first).
  std::string head = In("x", "DT_FLOAT", {-1, 3}) + In("t", "DT_INT32", {-1}) +
                     "node { name: 'u' op: 'Identity' input: 't' } ";
  std::string node =
      "node { name: 'y' op: 'SoftmaxCrossEntropy' input: 'x' input: 'u' ";
  Tensor x = *Tensor::Allocate(DType::kF32, {2, 3});
  for (Backend b : kBackends) {
    ExpectError(
        ErrorOf(RunGraph(head + node + "}",
                         {{"x", x}, {"t", Make<int32_t>({2}, {0, 3})}}, {"y"},
                         b)),
        absl::StatusCode::kInvalidArgument,
        {"node 'y' (SoftmaxCrossEntropy)", "labels[1] = 3", "3 classes"});
  }
  ExpectError(ErrorOf(RunGraph(head + node + "}",
                               {{"x", x}, {"t", Make<int32_t>({2}, {-1, 0})}})),
              absl::StatusCode::kInvalidArgument,
              {"node 'y'", "labels[0] = -1"});
  ExpectError(
      ErrorOf(RunGraph(In("x", "DT_FLOAT", {2, 3}) + In("t", "DT_INT32", {4}) +
                           "node { name: 'u' op: 'Identity' "
                           "input: 't' } " +
                           node + "}",
                       {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'labels' has shape [4]", "[2]"});
  ExpectError(
      ErrorOf(RunGraph(
          head + In("w", "DT_FLOAT", {2, 1}) + node + "input: 'w' }", {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'weights' has shape [2, 1]"});
  ExpectError(ErrorOf(RunGraph(head + In("w", "DT_FLOAT", {2}) + node +
                                   "input: 'w' input: 'w' }",
                               {})),
              absl::StatusCode::kInvalidArgument, {"node 'y'", "got 4"});
  ExpectError(
      ErrorOf(RunGraph(head + node + Attr("reduction", "s: 'avg'") + "}", {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "attr 'reduction' = \"avg\""});
  ExpectError(
      ErrorOf(RunGraph(In("x", "DT_FLOAT", {2, 3}) + In("t", "DT_FLOAT", {2}) +
                           "node { name: 'u' op: 'Identity' "
                           "input: 't' } " +
                           node + "}",
                       {})),
      absl::StatusCode::kInvalidArgument, {"node 'y'", "'labels'", "f32"});
}

TEST(LossOpsErrors, MeanSquaredErrorShapes) {
  ExpectError(
      ErrorOf(RunGraph(In("p", "DT_FLOAT", {3}) + In("t", "DT_FLOAT", {4}) +
                           "node { name: 'y' op: 'MeanSquaredError' "
                           "input: 'p' input: 't' }",
                       {})),
      absl::StatusCode::kInvalidArgument,
      {"node 'y'", "'prediction' [3] and 'target' [4]"});
}

}  // namespace
}  // namespace rill

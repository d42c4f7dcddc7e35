// Reductions and normalisation: hand-computed values on both backends,
// numerical stability, empty reductions, and one test per bad-input class.

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr Backend kBackends[] = {Backend::kOneDnn, Backend::kReference};

// An Input node; a dim of -1 is symbolic.
std::string InputNode(const std::string& name, std::vector<int64_t> dims,
                      const std::string& dtype = "DT_FLOAT") {
  std::string shape;
  for (int64_t d : dims) absl::StrAppend(&shape, " dim: ", d);
  return absl::StrCat(
      "node { name: '", name,
      "' op: 'Input' attr { key: ", "'dtype' value { type: ", dtype,
      " } } attr { key: ", "'shape' value { shape {", shape, " } } } }\n");
}

// A node of `op` on `inputs`, with attrs given as text ("key: 'k' value {..}").
std::string OpNode(const std::string& name, const std::string& op,
                   std::vector<std::string> inputs,
                   std::vector<std::string> attrs = {}) {
  std::string text = absl::StrCat("node { name: '", name, "' op: '", op, "'");
  for (const std::string& in : inputs)
    absl::StrAppend(&text, " input: '", in, "'");
  for (const std::string& a : attrs)
    absl::StrAppend(&text, " attr { ", a, " }");
  return text + " }\n";
}

std::string AxesAttr(std::vector<int64_t> axes) {
  return absl::StrCat("key: 'axes' value { list { i: [",
                      absl::StrJoin(axes, ", "), "] } }");
}
const char kKeepDims[] = "key: 'keepdims' value { b: true }";

absl::StatusOr<ValidGraph> Validate(const std::string& text) {
  ASSIGN_OR_RETURN(LoadedGraph loaded, ParseGraphText(text, "reduce.pbtxt"));
  return ValidateGraph(std::move(loaded));
}

absl::StatusOr<std::vector<Tensor>> RunGraph(
    const std::string& text, const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches, Backend backend) {
  ASSIGN_OR_RETURN(ValidGraph g, Validate(text));
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex,
                   Executor::Create(std::move(g), {backend}));
  return ex->Run(feeds, fetches);
}

Tensor F32(Shape shape, std::vector<float> values) {
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

void ExpectValues(const Tensor& t, Shape shape, std::vector<float> want,
                  float tol = 1e-5f) {
  ASSERT_EQ(t.shape(), shape);
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(t.data<float>()[i])) << "element " << i;
    } else {
      EXPECT_NEAR(t.data<float>()[i], want[i], tol) << "element " << i;
    }
  }
}

// Validation fails with InvalidArgument and a message naming the node and
// each of `parts`.
void ExpectRejected(const std::string& text, std::vector<std::string> parts) {
  absl::StatusOr<ValidGraph> g = Validate(text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(g.status().message());
  parts.push_back("node 'y'");
  for (const std::string& p : parts) {
    EXPECT_NE(message.find(p), std::string::npos)
        << "'" << p << "' not in: " << message;
  }
}

TEST(ReduceOps, KnownValues) {
  std::string text =
      InputNode("x", {2, 3}) +
      OpNode("sum0", "ReduceSum", {"x"}, {AxesAttr({0})}) +
      OpNode("sum1", "ReduceSum", {"x"}, {AxesAttr({-1}), kKeepDims}) +
      OpNode("sum", "ReduceSum", {"x"}) +
      OpNode("mean", "ReduceMean", {"x"}, {AxesAttr({1})}) +
      OpNode("max", "ReduceMax", {"x"}, {AxesAttr({1, 0}), kKeepDims}) +
      OpNode("max0", "ReduceMax", {"x"}, {AxesAttr({0})});
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, -6});
  for (Backend b : kBackends) {
    SCOPED_TRACE(BackendName(b));
    auto out = RunGraph(text, {{"x", x}},
                        {"sum0", "sum1", "sum", "mean", "max", "max0"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectValues((*out)[0], {3}, {5, 7, -3});
    ExpectValues((*out)[1], {2, 1}, {6, 3});
    ExpectValues((*out)[2], {}, {9});
    ExpectValues((*out)[3], {2}, {2, 1});
    ExpectValues((*out)[4], {1, 1}, {5});
    ExpectValues((*out)[5], {3}, {4, 5, 3});
  }
}

// NumPy's conventions: the sum of nothing is 0, the mean is NaN.
TEST(ReduceOps, EmptyAxis) {
  std::string text =
      InputNode("x", {2, 0}) +
      OpNode("sum", "ReduceSum", {"x"}, {AxesAttr({1})}) +
      OpNode("mean", "ReduceMean", {"x"}, {AxesAttr({1}), kKeepDims});
  for (Backend b : kBackends) {
    auto out = RunGraph(text, {{"x", F32({2, 0}, {})}}, {"sum", "mean"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectValues((*out)[0], {2}, {0, 0});
    float nan = std::numeric_limits<float>::quiet_NaN();
    ExpectValues((*out)[1], {2, 1}, {nan, nan});
  }
}

TEST(ReduceOps, ReferenceMaxPropagatesNaN) {
  std::string text = InputNode("x", {4}) + OpNode("y", "ReduceMax", {"x"});
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = RunGraph(text, {{"x", F32({4}, {1, nan, 3, 2})}}, {"y"},
                      Backend::kReference);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(std::isnan((*out)[0].data<float>()[0]));
}

// Ties give the first index and a NaN counts as the maximum, as in NumPy
// (np.argmax([1, 3, 3]) == 1, np.argmax([1, nan, 3]) == 1).
TEST(ReduceOps, ArgMaxKnownValues) {
  std::string text =
      InputNode("x", {2, 3}) + OpNode("last", "ArgMax", {"x"}) +
      OpNode("first", "ArgMax", {"x"}, {"key: 'axis' value { i: 0 }"}) +
      InputNode("n", {4}) + OpNode("nan", "ArgMax", {"n"});
  float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = F32({2, 3}, {1, 3, 3, 5, -2, 3});
  Tensor n = F32({4}, {1, nan, 3, nan});
  for (Backend b : kBackends) {
    SCOPED_TRACE(BackendName(b));
    auto out =
        RunGraph(text, {{"x", x}, {"n", n}}, {"last", "first", "nan"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].dtype(), DType::kI64);
    EXPECT_EQ((*out)[0].shape(), Shape({2}));
    EXPECT_EQ((*out)[0].data<int64_t>()[0], 1);
    EXPECT_EQ((*out)[0].data<int64_t>()[1], 0);
    EXPECT_EQ((*out)[1].shape(), Shape({3}));
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ((*out)[1].data<int64_t>()[k],
                (std::vector<int64_t>{1, 0, 0})[k]);
    }
    EXPECT_EQ((*out)[2].data<int64_t>()[0], 1);
  }
}

// Rows of [80, -80], [1000, 999], [-1000, -1000]: exp() of the raw values
// overflows or underflows in f32, the max-shifted form does not.
TEST(NnOps, SoftmaxAndLogSoftmaxAreStable) {
  std::string text =
      InputNode("x", {3, 2}) + OpNode("sm", "Softmax", {"x"}) +
      OpNode("lsm", "LogSoftmax", {"x"}) +
      OpNode("lsm0", "LogSoftmax", {"x"}, {"key: 'axis' value { i: 0 }"}) +
      InputNode("c", {3, 1}) + OpNode("one", "Softmax", {"c"}) +
      OpNode("zero", "LogSoftmax", {"c"});
  Tensor x = F32({3, 2}, {80, -80, 1000, 999, -1000, -1000});
  Tensor c = F32({3, 1}, {80, -80, 1000});
  double l1 = std::log1p(std::exp(-1.0));  // log(1 + e^-1)
  for (Backend b : kBackends) {
    SCOPED_TRACE(BackendName(b));
    auto out = RunGraph(text, {{"x", x}, {"c", c}},
                        {"sm", "lsm", "lsm0", "one", "zero"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectValues((*out)[0], {3, 2},
                 {1, 0, float(1 / (1 + std::exp(-1.0))),
                  float(1 / (1 + std::exp(1.0))), 0.5f, 0.5f});
    ExpectValues((*out)[1], {3, 2},
                 {0, -160, float(-l1), float(-1 - l1), float(-std::log(2.0)),
                  float(-std::log(2.0))},
                 1e-4f);
    // Along axis 0: column 0 is [80, 1000, -1000], column 1 [-80, 999,
    // -1000]; the 1000 and 999 dominate.
    ExpectValues((*out)[2], {3, 2}, {-920, -1079, 0, 0, -2000, -1999}, 1e-3f);
    ExpectValues((*out)[3], {3, 1}, {1, 1, 1});
    ExpectValues((*out)[4], {3, 1}, {0, 0, 0});
  }
}

TEST(NnOps, LogSoftmaxKnownValues) {
  std::string text = InputNode("x", {2}) + OpNode("y", "LogSoftmax", {"x"});
  for (Backend b : kBackends) {
    auto out = RunGraph(text, {{"x", F32({2}, {0, std::log(2.f)})}}, {"y"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectValues((*out)[0], {2}, {std::log(1.f / 3), std::log(2.f / 3)});
  }
}

// x = [1 2 3 4]: mean 2.5, variance 1.25; with epsilon 0 the normalised row
// is (x - 2.5) / sqrt(1.25) = [-1.3416, -0.4472, 0.4472, 1.3416].
TEST(NnOps, LayerNormKnownValues) {
  std::string text = InputNode("x", {2, 4}) + InputNode("gamma", {4}) +
                     InputNode("beta", {4}) +
                     OpNode("y", "LayerNorm", {"x", "gamma", "beta"},
                            {"key: 'epsilon' value { f: 0 }"});
  Tensor x = F32({2, 4}, {1, 2, 3, 4, 5, 5, 5, 7});
  Tensor gamma = F32({4}, {1, 1, 2, 2});
  Tensor beta = F32({4}, {0, 0, 0, 1});
  // Row 2: mean 5.5, variance (3 * 0.25 + 2.25) / 4 = 0.75.
  float s = 1 / std::sqrt(0.75f);
  for (Backend b : kBackends) {
    SCOPED_TRACE(BackendName(b));
    auto out = RunGraph(text, {{"x", x}, {"gamma", gamma}, {"beta", beta}},
                        {"y", "y:1", "y:2"}, b);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectValues((*out)[0], {2, 4},
                 {-1.3416408f, -0.4472136f, 0.8944272f, 3.6832816f, -0.5f * s,
                  -0.5f * s, -1.f * s, 3 * s + 1});
    ExpectValues((*out)[1], {2}, {2.5f, 5.5f});
    ExpectValues((*out)[2], {2}, {1.25f, 0.75f});
  }
}

// ---- Bad input ----

TEST(ReduceOpsBadInput, AxisOutOfRange) {
  ExpectRejected(InputNode("x", {2, 3}) +
                     OpNode("y", "ReduceSum", {"x"}, {AxesAttr({0, 2})}),
                 {"ReduceSum", "axes[1]", "= 2", "rank 2"});
  ExpectRejected(
      InputNode("x", {}) + OpNode("y", "ReduceMean", {"x"}, {AxesAttr({0})}),
      {"axes[0]", "rank 0"});
}

TEST(ReduceOpsBadInput, ArgMaxAxis) {
  ExpectRejected(
      InputNode("x", {2, 3}) +
          OpNode("y", "ArgMax", {"x"}, {"key: 'axis' value { i: 2 }"}),
      {"ArgMax", "axis", "= 2", "rank 2"});
  ExpectRejected(InputNode("x", {}) + OpNode("y", "ArgMax", {"x"}),
                 {"ArgMax", "scalar"});
  ExpectRejected(InputNode("x", {3, 0}) + OpNode("y", "ArgMax", {"x"}),
                 {"axis 1 of size 0", "[3, 0]"});
}

TEST(ReduceOpsBadInput, DuplicateAxis) {
  ExpectRejected(InputNode("x", {2, 3}) +
                     OpNode("y", "ReduceMax", {"x"}, {AxesAttr({1, -1})}),
                 {"names axis 1 twice", "axes[1] = -1"});
}

TEST(ReduceOpsBadInput, MaxOverEmptyAxis) {
  ExpectRejected(
      InputNode("x", {3, 0}) + OpNode("y", "ReduceMax", {"x"}, {AxesAttr({1})}),
      {"axis 1 of size 0", "[3, 0]"});
}

// The size is known only when fed: the executor rejects it when it binds
// the shapes, before any kernel runs.
TEST(ReduceOpsBadInput, MaxOverEmptyAxisAtRunTime) {
  std::string text = InputNode("x", {-1, 3}) +
                     OpNode("y", "ReduceMax", {"x"}, {AxesAttr({0})});
  for (Backend b : kBackends) {
    auto out = RunGraph(text, {{"x", F32({0, 3}, {})}}, {"y"}, b);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(out.status().message());
    EXPECT_NE(message.find("node 'y'"), std::string::npos) << message;
    EXPECT_NE(message.find("axis 0 of size 0"), std::string::npos) << message;
    auto ok = RunGraph(text, {{"x", F32({1, 3}, {1, 2, 3})}}, {"y"}, b);
    ASSERT_TRUE(ok.ok()) << ok.status();
  }
}

TEST(ReduceOpsBadInput, WrongDtype) {
  ExpectRejected(
      InputNode("x", {2, 3}, "DT_INT32") + OpNode("y", "ReduceSum", {"x"}),
      {"is i32", "ReduceSum takes"});
}

TEST(ReduceOpsBadInput, WrongAttrType) {
  ExpectRejected(
      InputNode("x", {2, 3}) +
          OpNode("y", "ReduceSum", {"x"}, {"key: 'axes' value { i: 1 }"}),
      {"attr 'axes'", "list(int)"});
}

TEST(NnOpsBadInput, SoftmaxAxes) {
  ExpectRejected(
      InputNode("x", {2, 3}) +
          OpNode("y", "LogSoftmax", {"x"}, {"key: 'axis' value { i: -3 }"}),
      {"LogSoftmax", "attr 'axis' = -3", "rank 2"});
  ExpectRejected(InputNode("x", {}) + OpNode("y", "LogSoftmax", {"x"}),
                 {"scalar"});
}

TEST(NnOpsBadInput, LayerNormParameterShapes) {
  ExpectRejected(InputNode("x", {2, 3}) + InputNode("g", {4}) +
                     InputNode("b", {3}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"}),
                 {"input 'gamma' has shape [4]", "needs [3]"});
  ExpectRejected(InputNode("x", {2, 3}) + InputNode("g", {3}) +
                     InputNode("b", {1, 3}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"}),
                 {"input 'beta' has shape [1, 3]"});
  ExpectRejected(InputNode("x", {}) + InputNode("g", {1}) +
                     InputNode("b", {1}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"}),
                 {"scalar"});
  // A symbolic last axis is checked again when fed.
  std::string text = InputNode("x", {2, -1}) + InputNode("g", {3}) +
                     InputNode("b", {3}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"});
  ASSERT_TRUE(Validate(text).ok()) << Validate(text).status();
  auto out = RunGraph(
      text, {{"x", F32({2, 4}, {})}, {"g", F32({3}, {})}, {"b", F32({3}, {})}},
      {"y"}, Backend::kOneDnn);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'y'"), std::string::npos);
  EXPECT_NE(out.status().message().find("needs [4]"), std::string::npos)
      << out.status();
}

TEST(NnOpsBadInput, LayerNormDtypesAndEpsilon) {
  ExpectRejected(InputNode("x", {2, 3}) + InputNode("g", {3}, "DT_DOUBLE") +
                     InputNode("b", {3}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"}),
                 {"input 1 ('gamma', g) is f64"});
  ExpectRejected(InputNode("x", {2, 3}) + InputNode("g", {3}) +
                     InputNode("b", {3}) +
                     OpNode("y", "LayerNorm", {"x", "g", "b"},
                            {"key: 'epsilon' value { f: -0.5 }"}),
                 {"attr 'epsilon' = -0.5"});
}

}  // namespace
}  // namespace rill

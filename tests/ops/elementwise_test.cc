// Element-wise ops: values computed by hand on both backends, and the
// rejection of bad input (dtypes, broadcasting, AddN shapes) with errors that
// name the node and the offending value.

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// An Input node in text format; `dims` is e.g. "dim: 2 dim: 3".
std::string InputNode(const std::string& name, const std::string& dtype,
                      const std::string& dims) {
  return absl::StrCat("node { name: \"", name, "\" op: \"Input\" ",
                      "attr { key: \"dtype\" value { type: ", dtype, " } } ",
                      "attr { key: \"shape\" value { shape { ", dims,
                      " } } } }\n");
}

absl::StatusOr<ValidGraph> Validate(const std::string& text) {
  auto loaded = ParseGraphText(text, "elementwise.pbtxt");
  if (!loaded.ok()) return loaded.status();
  return ValidateGraph(*std::move(loaded));
}

template <typename T>
Tensor Make(Shape shape, const std::vector<T>& values) {
  Tensor t = *Tensor::Allocate(DTypeOf<T>::value, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

struct Result {
  std::vector<Tensor> values;
  int onednn_kernels = 0;
};

Result RunGraph(const std::string& text,
                const std::map<std::string, Tensor>& feeds,
                const std::vector<std::string>& fetches, Backend backend) {
  auto g = Validate(text);
  EXPECT_TRUE(g.ok()) << g.status();
  auto ex = Executor::Create(*std::move(g), {backend});
  EXPECT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run(feeds, fetches);
  EXPECT_TRUE(out.ok()) << out.status();
  return {*out, (*ex)->last_plan_stats().onednn_kernels};
}

void ExpectFloats(const Tensor& t, const std::vector<double>& want) {
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(t.data<float>()[i], want[i],
                1e-5 * std::max(1.0, std::abs(want[i])))
        << "element " << i;
  }
}

void ExpectBools(const Tensor& t, const std::vector<bool>& want) {
  ASSERT_EQ(t.dtype(), DType::kBool);
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(t.data<bool>()[i], want[i]) << "element " << i;
}

TEST(ElementwiseOps, UnaryKnownValues) {
  std::string text = InputNode("x", "DT_FLOAT", "dim: 4") +
                     InputNode("p", "DT_FLOAT", "dim: 4");
  std::vector<std::string> fetches;
  for (const char* op : {"Neg", "Abs", "Exp", "Square", "Relu", "Gelu",
                         "Softplus", "Log", "Sqrt", "Rsqrt", "Reciprocal"}) {
    bool positive = fetches.size() >= 7;
    absl::StrAppend(&text, "node { name: \"", op, "\" op: \"", op,
                    "\" input: \"", positive ? "p" : "x", "\" }\n");
    fetches.push_back(op);
  }
  std::map<std::string, Tensor> feeds = {
      {"x", Make<float>({4}, {-1, 0, 1, 2})},
      {"p", Make<float>({4}, {0.25, 1, 4, 16})}};
  for (Backend b : {Backend::kOneDnn, Backend::kReference}) {
    SCOPED_TRACE(BackendName(b));
    Result r = RunGraph(text, feeds, fetches, b);
    ASSERT_EQ(r.values.size(), 11u);
    EXPECT_EQ(r.onednn_kernels, b == Backend::kOneDnn ? 11 : 0);
    ExpectFloats(r.values[0], {1, 0, -1, -2});
    ExpectFloats(r.values[1], {1, 0, 1, 2});
    ExpectFloats(r.values[2], {0.36787944, 1, 2.71828183, 7.3890561});
    ExpectFloats(r.values[3], {1, 0, 1, 4});
    ExpectFloats(r.values[4], {0, 0, 1, 2});
    ExpectFloats(r.values[5], {-0.15865525, 0, 0.84134475, 1.95449974});
    ExpectFloats(r.values[6], {0.31326169, 0.69314718, 1.31326169, 2.12692801});
    ExpectFloats(r.values[7], {-1.38629436, 0, 1.38629436, 2.77258872});
    ExpectFloats(r.values[8], {0.5, 1, 2, 4});
    ExpectFloats(r.values[9], {2, 1, 0.5, 0.25});
    ExpectFloats(r.values[10], {4, 1, 0.25, 0.0625});
  }
}

// Erf has no oneDNN primitive: both backends run the reference loop.
// Values: Python's math.erf.
TEST(ElementwiseOps, ErfKnownValues) {
  std::string text = InputNode("x", "DT_FLOAT", "dim: 5") +
                     "node { name: \"y\" op: \"Erf\" input: \"x\" }";
  for (Backend b : {Backend::kOneDnn, Backend::kReference}) {
    SCOPED_TRACE(BackendName(b));
    Result r =
        RunGraph(text, {{"x", Make<float>({5}, {-1, 0, 0.5, 2, 6})}}, {"y"}, b);
    EXPECT_EQ(r.onednn_kernels, 0);
    ExpectFloats(r.values[0],
                 {-0.8427007929, 0, 0.5204998778, 0.9953222650, 1.0});
  }
}

TEST(ElementwiseOps, SoftplusIsStableAtLargeMagnitudes) {
  std::string text = InputNode("x", "DT_DOUBLE", "dim: 3") +
                     "node { name: \"y\" op: \"Softplus\" input: \"x\" }";
  Result r = RunGraph(text, {{"x", Make<double>({3}, {-800, 800, 40})}}, {"y"},
                      Backend::kReference);
  const double* y = r.values[0].data<double>();
  EXPECT_EQ(y[0], 0.0);    // e^-800 underflows; no log(0) or NaN.
  EXPECT_EQ(y[1], 800.0);  // e^800 would overflow.
  EXPECT_NEAR(y[2], 40 + std::exp(-40.0), 1e-12);
}

// a = [[1 2 3] [4 5 6]], b = [10 20 30]: b broadcasts over a's rows.
TEST(ElementwiseOps, BinaryKnownValues) {
  std::string text = InputNode("a", "DT_FLOAT", "dim: 2 dim: 3") +
                     InputNode("b", "DT_FLOAT", "dim: 3") +
                     InputNode("two", "DT_FLOAT", "") +
                     R"pb(
    node { name: "a_minus_b" op: "Sub" input: "a" input: "b" }
    node { name: "b_minus_a" op: "Sub" input: "b" input: "a" }
    node { name: "a_over_b" op: "Div" input: "a" input: "b" }
    node { name: "a_squared" op: "Pow" input: "a" input: "two" }
    node { name: "max" op: "Maximum" input: "two" input: "a" }
    node { name: "min" op: "Minimum" input: "a" input: "two" }
    node { name: "sum" op: "AddN" input: "a" input: "a" input: "a_minus_b" }
                     )pb";
  std::map<std::string, Tensor> feeds = {
      {"a", Make<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
      {"b", Make<float>({3}, {10, 20, 30})},
      {"two", Make<float>({}, {2})}};
  for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
    SCOPED_TRACE(BackendName(backend));
    Result r = RunGraph(text, feeds,
                        {"a_minus_b", "b_minus_a", "a_over_b", "a_squared",
                         "max", "min", "sum"},
                        backend);
    ASSERT_EQ(r.values.size(), 7u);
    // All but Pow have a oneDNN kernel; Sub(b, a) swaps and negates.
    EXPECT_EQ(r.onednn_kernels, backend == Backend::kOneDnn ? 6 : 0);
    ExpectFloats(r.values[0], {-9, -18, -27, -6, -15, -24});
    ExpectFloats(r.values[1], {9, 18, 27, 6, 15, 24});
    ExpectFloats(r.values[2], {0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
    ExpectFloats(r.values[3], {1, 4, 9, 16, 25, 36});
    ExpectFloats(r.values[4], {2, 2, 3, 4, 5, 6});
    ExpectFloats(r.values[5], {1, 2, 2, 2, 2, 2});
    ExpectFloats(r.values[6], {-7, -14, -21, 2, -5, -12});
  }
}

TEST(ElementwiseOps, ComparisonsAndWhere) {
  std::string text = InputNode("a", "DT_FLOAT", "dim: 2 dim: 3") +
                     InputNode("t", "DT_FLOAT", "dim: 3") +
                     InputNode("zero", "DT_FLOAT", "") +
                     R"pb(
    node { name: "lt" op: "Less" input: "a" input: "t" }
    node { name: "gt" op: "Greater" input: "t" input: "a" }
    node { name: "eq" op: "Equal" input: "t" input: "a" }
    node { name: "w" op: "Where" input: "lt" input: "a" input: "zero" }
                     )pb";
  std::map<std::string, Tensor> feeds = {
      {"a", Make<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
      {"t", Make<float>({3}, {2, 2, 7})},
      {"zero", Make<float>({}, {0})}};
  for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
    SCOPED_TRACE(BackendName(backend));
    Result r = RunGraph(text, feeds, {"lt", "gt", "eq", "w"}, backend);
    ASSERT_EQ(r.values.size(), 4u);
    // Greater(t, a) and Equal(t, a) broadcast their first input: they run
    // as Less(a, t) and Equal(a, t) on oneDNN. Where has no primitive.
    EXPECT_EQ(r.onednn_kernels, backend == Backend::kOneDnn ? 3 : 0);
    ExpectBools(r.values[0], {true, false, true, false, false, true});
    ExpectBools(r.values[1], {true, false, true, false, false, true});
    ExpectBools(r.values[2], {false, true, false, false, false, false});
    ExpectFloats(r.values[3], {1, 0, 3, 0, 0, 6});
  }
}

TEST(ElementwiseOps, IntegerComparisonsAndWhere) {
  std::string text = InputNode("i", "DT_INT64", "dim: 4") +
                     InputNode("j", "DT_INT64", "") + R"pb(
    node { name: "eq" op: "Equal" input: "i" input: "j" }
    node { name: "w" op: "Where" input: "eq" input: "j" input: "i" }
  )pb";
  Result r = RunGraph(text,
                      {{"i", Make<int64_t>({4}, {3, -1, 3, int64_t{1} << 40})},
                       {"j", Make<int64_t>({}, {3})}},
                      {"eq", "w"}, Backend::kOneDnn);
  EXPECT_EQ(r.onednn_kernels, 0);
  ExpectBools(r.values[0], {true, false, true, false});
  const int64_t* w = r.values[1].data<int64_t>();
  EXPECT_EQ(w[0], 3);
  EXPECT_EQ(w[1], -1);
  EXPECT_EQ(w[3], int64_t{1} << 40);
}

TEST(ElementwiseOps, SymbolicDimsInferAndBind) {
  std::string text = InputNode("a", "DT_FLOAT", "dim: -1 dim: 3") +
                     InputNode("b", "DT_FLOAT", "dim: 2 dim: -1") +
                     InputNode("c", "DT_FLOAT", "dim: -1 dim: 1") + R"pb(
    node { name: "s" op: "AddN" input: "a" input: "b" }
    node { name: "d" op: "Sub" input: "a" input: "c" }
    node { name: "w" op: "Where" input: "m" input: "c" input: "b" }
    node { name: "m" op: "Less" input: "c" input: "a" }
  )pb";
  auto g = Validate(text);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->info(g->FindNode("s")).shapes[0], Shape({2, 3}));
  EXPECT_EQ(g->info(g->FindNode("d")).shapes[0], Shape({-1, 3}));
  EXPECT_EQ(g->info(g->FindNode("m")).dtypes[0], DType::kBool);
  EXPECT_EQ(g->info(g->FindNode("w")).shapes[0], Shape({2, 3}));
}

// Validation fails with InvalidArgument; the message names the node and
// contains every piece of `parts`.
void ExpectRejected(const std::string& text,
                    const std::vector<std::string>& parts) {
  auto g = Validate(text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("node 'y'"));
  for (const std::string& p : parts) {
    EXPECT_THAT(std::string(g.status().message()), HasSubstr(p));
  }
}

TEST(ElementwiseOps, RejectsIncompatibleBroadcast) {
  ExpectRejected(InputNode("a", "DT_FLOAT", "dim: 2 dim: 3") +
                     InputNode("b", "DT_FLOAT", "dim: 4") +
                     "node { name: \"y\" op: \"Div\" input: \"a\" "
                     "input: \"b\" }",
                 {"(Div)", "[2, 3]", "[4]", "do not broadcast"});
  ExpectRejected(InputNode("a", "DT_INT32", "dim: 5") +
                     InputNode("b", "DT_INT32", "dim: 2 dim: 4") +
                     "node { name: \"y\" op: \"Greater\" input: \"a\" "
                     "input: \"b\" }",
                 {"(Greater)", "[5]", "[2, 4]"});
}

TEST(ElementwiseOps, RejectsWhereShapesThatDoNotBroadcast) {
  ExpectRejected(InputNode("c", "DT_BOOL", "dim: 3") +
                     InputNode("a", "DT_FLOAT", "dim: 3") +
                     InputNode("b", "DT_FLOAT", "dim: 2 dim: 2") +
                     "node { name: \"y\" op: \"Where\" input: \"c\" "
                     "input: \"a\" input: \"b\" }",
                 {"(Where)", "cond [3]", "b [2, 2]"});
}

TEST(ElementwiseOps, RejectsNonFloatInputToFloatOps) {
  ExpectRejected(InputNode("x", "DT_INT32", "dim: 3") +
                     "node { name: \"y\" op: \"Exp\" input: \"x\" }",
                 {"(Exp)", "'x'", "i32", "{f32, f64}"});
  ExpectRejected(InputNode("x", "DT_INT64", "dim: 3") +
                     "node { name: \"y\" op: \"AddN\" input: \"x\" }",
                 {"(AddN)", "i64"});
}

TEST(ElementwiseOps, RejectsMixedDtypes) {
  ExpectRejected(InputNode("a", "DT_FLOAT", "dim: 3") +
                     InputNode("b", "DT_DOUBLE", "dim: 3") +
                     "node { name: \"y\" op: \"Maximum\" input: \"a\" "
                     "input: \"b\" }",
                 {"(Maximum)", "input 1", "f64", "f32"});
  ExpectRejected(InputNode("a", "DT_INT32", "dim: 3") +
                     InputNode("b", "DT_INT64", "dim: 3") +
                     "node { name: \"y\" op: \"Equal\" input: \"a\" "
                     "input: \"b\" }",
                 {"(Equal)", "i64", "i32"});
  ExpectRejected(InputNode("c", "DT_BOOL", "dim: 3") +
                     InputNode("a", "DT_FLOAT", "dim: 3") +
                     InputNode("b", "DT_INT32", "dim: 3") +
                     "node { name: \"y\" op: \"Where\" input: \"c\" "
                     "input: \"a\" input: \"b\" }",
                 {"(Where)", "input 2", "i32", "f32"});
}

TEST(ElementwiseOps, RejectsBadComparisonAndConditionDtypes) {
  ExpectRejected(InputNode("a", "DT_BOOL", "dim: 3") +
                     "node { name: \"y\" op: \"Less\" input: \"a\" "
                     "input: \"a\" }",
                 {"(Less)", "bool"});
  ExpectRejected(InputNode("c", "DT_FLOAT", "dim: 3") +
                     "node { name: \"y\" op: \"Where\" input: \"c\" "
                     "input: \"c\" input: \"c\" }",
                 {"(Where)", "'cond'", "f32", "{bool}"});
}

TEST(ElementwiseOps, RejectsAddNShapeMismatch) {
  ExpectRejected(InputNode("a", "DT_FLOAT", "dim: 3 dim: 5") +
                     InputNode("b", "DT_FLOAT", "dim: 5") +
                     "node { name: \"y\" op: \"AddN\" input: \"a\" "
                     "input: \"a\" input: \"b\" }",
                 {"(AddN)", "input 2", "[5]", "[3, 5]", "does not broadcast"});
  ExpectRejected(InputNode("a", "DT_FLOAT", "dim: -1 dim: 5") +
                     InputNode("b", "DT_FLOAT", "dim: 2 dim: 4") +
                     "node { name: \"y\" op: \"AddN\" input: \"a\" "
                     "input: \"b\" }",
                 {"(AddN)", "input 1", "[2, 4]", "[?, 5]"});
}

TEST(ElementwiseOps, RejectsAddNWithoutInputs) {
  ExpectRejected("node { name: \"y\" op: \"AddN\" }", {"(AddN)", "at least 1"});
}

// Symbolic dims that agree at validation but not once fed: the compile step
// re-infers shapes and names the node.
TEST(ElementwiseOps, RejectsFedShapesThatDisagree) {
  std::string text = InputNode("a", "DT_FLOAT", "dim: -1 dim: 2") +
                     InputNode("b", "DT_FLOAT", "dim: -1 dim: 2") +
                     "node { name: \"y\" op: \"AddN\" input: \"a\" "
                     "input: \"b\" }";
  auto g = Validate(text);
  ASSERT_TRUE(g.ok()) << g.status();
  auto ex = Executor::Create(*std::move(g), {Backend::kOneDnn});
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run({{"a", *Tensor::Allocate(DType::kF32, {2, 2})},
                         {"b", *Tensor::Allocate(DType::kF32, {3, 2})}},
                        {"y"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(out.status().message()),
      AllOf(HasSubstr("node 'y'"), HasSubstr("[3, 2]"), HasSubstr("[2, 2]")));
}

}  // namespace
}  // namespace rill

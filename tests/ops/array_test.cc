// The shape and layout ops: values computed by hand, shape inference with
// symbolic dimensions, and one test per class of bad input.

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

// An Input node "name" of `dtype` (DT_FLOAT, ...) and `dims` (-1 symbolic).
std::string In(const std::string& name, const std::vector<int64_t>& dims,
               const std::string& dtype = "DT_FLOAT") {
  std::string shape;
  for (int64_t d : dims) absl::StrAppend(&shape, " dim: ", d);
  return absl::StrCat("node { name: '", name,
                      "' op: 'Input' attr { key: 'dtype' value { type: ", dtype,
                      " } } attr { key: 'shape' value { shape {", shape,
                      " } } } }\n");
}

std::string Ints(const std::string& key, const std::vector<int64_t>& v) {
  return absl::StrCat("attr { key: '", key, "' value { list { i: [",
                      absl::StrJoin(v, ", "), "] } } } ");
}
std::string Int(const std::string& key, int64_t v) {
  return absl::StrCat("attr { key: '", key, "' value { i: ", v, " } } ");
}
std::string Float(const std::string& key, float v) {
  return absl::StrCat("attr { key: '", key, "' value { f: ", v, " } } ");
}
std::string Type(const std::string& dtype) {
  return absl::StrCat("attr { key: 'dtype' value { type: ", dtype, " } } ");
}

// Node "y" running `op` on `inputs`.
std::string Y(const std::string& op, const std::vector<std::string>& inputs,
              const std::string& attrs = "") {
  std::string text = absl::StrCat("node { name: 'y' op: '", op, "' ");
  for (const std::string& in : inputs)
    absl::StrAppend(&text, "input: '", in, "' ");
  return absl::StrCat(text, attrs, "}\n");
}

template <typename T>
Tensor Make(Shape shape, const std::vector<T>& values) {
  Tensor t = *Tensor::Allocate(DTypeOf<T>::value, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DTypeOf<T>::value);
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

// Validates, compiles and runs; the first error on the way, or the fetches.
absl::StatusOr<std::vector<Tensor>> RunGraph(
    const std::string& text, const std::map<std::string, Tensor>& feeds,
    Backend backend = Backend::kReference,
    std::vector<std::string> fetches = {"y"}) {
  ASSIGN_OR_RETURN(LoadedGraph loaded, ParseGraphText(text, "array.pbtxt"));
  ASSIGN_OR_RETURN(ValidGraph g, ValidateGraph(std::move(loaded)));
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex,
                   Executor::Create(std::move(g), {backend}));
  return ex->Run(feeds, fetches);
}

// The only output, on both backends, which must agree exactly.
Tensor RunBoth(const std::string& text,
               const std::map<std::string, Tensor>& feeds) {
  auto onednn = RunGraph(text, feeds, Backend::kOneDnn);
  auto reference = RunGraph(text, feeds, Backend::kReference);
  EXPECT_TRUE(onednn.ok()) << onednn.status();
  EXPECT_TRUE(reference.ok()) << reference.status();
  if (!onednn.ok() || !reference.ok()) return Tensor();
  EXPECT_TRUE((*onednn)[0].BitwiseEquals((*reference)[0]));
  return (*reference)[0];
}

absl::StatusOr<Shape> InferredShape(const std::string& text) {
  ASSIGN_OR_RETURN(LoadedGraph loaded, ParseGraphText(text, "array.pbtxt"));
  ASSIGN_OR_RETURN(ValidGraph g, ValidateGraph(std::move(loaded)));
  return g.info(g.FindNode("y")).shapes[0];
}

// The status is InvalidArgument, names node y and holds each of `parts`.
void ExpectBad(const absl::Status& s, const std::vector<std::string>& parts) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("node 'y'"));
  for (const std::string& p : parts) EXPECT_THAT(s.message(), HasSubstr(p));
}
void ExpectBad(const std::string& text, const std::vector<std::string>& parts,
               const std::map<std::string, Tensor>& feeds = {}) {
  auto out = RunGraph(text, feeds);
  ASSERT_FALSE(out.ok());
  ExpectBad(out.status(), parts);
}

std::vector<float> Iota(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST(ArrayOps, TransposeConcatKnownValues) {
  Tensor x = Make<float>({2, 3}, Iota(6));
  Tensor t = RunBoth(In("x", {2, 3}) + Y("Transpose", {"x"}), {{"x", x}});
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_EQ(Values<float>(t), std::vector<float>({0, 3, 1, 4, 2, 5}));
  Tensor a = Make<float>({2, 1}, {1, 2}), b = Make<float>({2, 2}, {3, 4, 5, 6});
  Tensor c = RunBoth(In("a", {2, 1}) + In("b", {2, 2}) +
                         Y("Concat", {"a", "b"}, Int("axis", -1)),
                     {{"a", a}, {"b", b}});
  EXPECT_EQ(c.shape(), Shape({2, 3}));
  EXPECT_EQ(Values<float>(c), std::vector<float>({1, 3, 4, 2, 5, 6}));
}

TEST(ArrayOps, SplitSliceReverseKnownValues) {
  Tensor x = Make<float>({6}, Iota(6));
  auto parts = RunGraph(
      In("x", {6}) +
          Y("Split", {"x"}, Int("num_splits", 3) + Ints("sizes", {1, -1, 2})),
      {{"x", x}}, Backend::kReference, {"y", "y:1", "y:2"});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(Values<float>((*parts)[0]), std::vector<float>({0}));
  EXPECT_EQ(Values<float>((*parts)[1]), std::vector<float>({1, 2, 3}));
  EXPECT_EQ(Values<float>((*parts)[2]), std::vector<float>({4, 5}));

  Tensor ten = Make<float>({10}, Iota(10));
  Tensor s = RunBoth(
      In("x", {10}) +
          Y("Slice", {"x"},
            Ints("start", {-1}) + Ints("end", {-100}) + Ints("step", {-3})),
      {{"x", ten}});
  EXPECT_EQ(Values<float>(s), std::vector<float>({9, 6, 3, 0}));

  Tensor m = Make<float>({2, 3}, Iota(6));
  Tensor r = RunBoth(In("x", {2, 3}) + Y("Reverse", {"x"}, Int("axis", 1)),
                     {{"x", m}});
  EXPECT_EQ(Values<float>(r), std::vector<float>({2, 1, 0, 5, 4, 3}));
}

TEST(ArrayOps, ShapeOpsKnownValues) {
  Tensor col = Make<float>({2, 1}, {1, 2});
  Tensor b =
      RunBoth(In("x", {2, 1}) + Y("BroadcastTo", {"x"}, Ints("shape", {2, 3})),
              {{"x", col}});
  EXPECT_EQ(Values<float>(b), std::vector<float>({1, 1, 1, 2, 2, 2}));
  Tensor sq = RunBoth(In("x", {2, 1}) + Y("Squeeze", {"x"}), {{"x", col}});
  EXPECT_EQ(sq.shape(), Shape({2}));
  Tensor ex = RunBoth(In("x", {2, 1}) + Y("ExpandDims", {"x"}, Int("axis", 1)),
                      {{"x", col}});
  EXPECT_EQ(ex.shape(), Shape({2, 1, 1}));
  EXPECT_EQ(Values<float>(ex), std::vector<float>({1, 2}));
  Tensor ones = RunBoth(In("x", {2, 1}) + Y("OnesLike", {"x"}), {{"x", col}});
  EXPECT_EQ(Values<float>(ones), std::vector<float>({1, 1}));
  Tensor zeros = RunBoth(In("x", {2}, "DT_BOOL") + Y("ZerosLike", {"x"}),
                         {{"x", Make<bool>({2}, {true, true})}});
  EXPECT_EQ(Values<bool>(zeros), std::vector<bool>({false, false}));
  Tensor f =
      RunBoth(Y("Fill", {},
                Ints("shape", {2}) + Float("value", -2.9f) + Type("DT_INT32")),
              {});
  EXPECT_EQ(Values<int32_t>(f), std::vector<int32_t>({-2, -2}));  // Truncated.
}

TEST(ArrayOps, CastKnownValues) {
  Tensor x = Make<float>({4}, {-1.7f, 2.5f, 0.f, -0.f});
  auto cast = [&](const std::string& to) {
    return RunBoth(In("x", {4}) + Y("Cast", {"x"}, Type(to)), {{"x", x}});
  };
  EXPECT_EQ(Values<int32_t>(cast("DT_INT32")),
            std::vector<int32_t>({-1, 2, 0, 0}));
  EXPECT_EQ(Values<int64_t>(cast("DT_INT64")),
            std::vector<int64_t>({-1, 2, 0, 0}));
  EXPECT_EQ(Values<bool>(cast("DT_BOOL")),
            std::vector<bool>({true, true, false, false}));
  Tensor d = Make<double>({2}, {0.1, 1e300});
  Tensor f =
      RunBoth(In("x", {2}, "DT_DOUBLE") + Y("Cast", {"x"}, Type("DT_FLOAT")),
              {{"x", d}});
  EXPECT_EQ(Values<float>(f)[0], 0.1f);
  EXPECT_EQ(Values<float>(f)[1], std::numeric_limits<float>::infinity());
  // The extremes of i32 convert; just past them is an error.
  Tensor edge = Make<double>({2}, {-2147483648.9, 2147483647.9});
  auto out =
      RunGraph(In("x", {2}, "DT_DOUBLE") + Y("Cast", {"x"}, Type("DT_INT32")),
               {{"x", edge}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Values<int32_t>((*out)[0]),
            std::vector<int32_t>({std::numeric_limits<int32_t>::min(),
                                  std::numeric_limits<int32_t>::max()}));
}

TEST(ArrayOps, SymbolicShapes) {
  EXPECT_EQ(*InferredShape(In("x", {-1, 6}) +
                           Y("Reshape", {"x"}, Ints("shape", {-1, 3}))),
            Shape({-1, 3}));
  EXPECT_EQ(*InferredShape(In("x", {-1, 6}) +
                           Y("Reshape", {"x"}, Ints("shape", {4, 3}))),
            Shape({4, 3}));
  EXPECT_EQ(*InferredShape(In("x", {-1, 3}) + In("z", {2, -1}) +
                           Y("Concat", {"x", "z"})),
            Shape({-1, 3}));
  EXPECT_EQ(*InferredShape(
                In("x", {-1, 4}) +
                Y("Slice", {"x"}, Ints("start", {0, 1}) + Ints("end", {2, 4}))),
            Shape({-1, 3}));
  EXPECT_EQ(*InferredShape(In("x", {-1, 1}) +
                           Y("BroadcastTo", {"x"}, Ints("shape", {-1, 5}))),
            Shape({-1, 5}));
  // At run time the -1 binds.
  std::string text =
      In("x", {-1, 6}) + Y("Reshape", {"x"}, Ints("shape", {-1, 3}));
  auto out = RunGraph(text, {{"x", Make<float>({2, 6}, Iota(12))}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({4, 3}));
}

TEST(ArrayOps, BadReshape) {
  ExpectBad(In("x", {2, 3}) + Y("Reshape", {"x"}, Ints("shape", {4, 2})),
            {"attr 'shape' = [4, 2]", "8 elements", "[2, 3]", "has 6"});
  ExpectBad(In("x", {2, 3}) + Y("Reshape", {"x"}, Ints("shape", {-1, -1})),
            {"attr 'shape' = [-1, -1]", "at most one -1"});
  ExpectBad(In("x", {2, 3}) + Y("Reshape", {"x"}, Ints("shape", {-1, 4})),
            {"attr 'shape' = [-1, 4]", "cannot infer"});
  ExpectBad(In("x", {0, 3}) + Y("Reshape", {"x"}, Ints("shape", {-1, 0})),
            {"attr 'shape' = [-1, 0]", "cannot infer"});
  ExpectBad(In("x", {-1, 6}) + Y("Reshape", {"x"}, Ints("shape", {4, 5})),
            {"attr 'shape' = [4, 5]", "multiple of 6"});
  // A symbolic input that binds to a size the shape cannot hold.
  ExpectBad(In("x", {-1, 6}) + Y("Reshape", {"x"}, Ints("shape", {4, 3})),
            {"attr 'shape' = [4, 3]", "has 18"},
            {{"x", Make<float>({3, 6}, Iota(18))}});
}

TEST(ArrayOps, BadTranspose) {
  ExpectBad(In("x", {2, 3}) + Y("Transpose", {"x"}, Ints("perm", {0, 0})),
            {"attr 'perm' = [0, 0]", "names axis 0 twice"});
  ExpectBad(In("x", {2, 3}) + Y("Transpose", {"x"}, Ints("perm", {0, 2})),
            {"attr 'perm' = 2 is out of range for rank 2"});
  ExpectBad(In("x", {2, 3}) + Y("Transpose", {"x"}, Ints("perm", {1, 0, 2})),
            {"attr 'perm' = [1, 0, 2]", "3 entries for x of rank 2"});
}

TEST(ArrayOps, BadConcat) {
  ExpectBad(In("a", {2, 3}) + In("b", {3, 3}) +
                Y("Concat", {"a", "b"}, Int("axis", 1)),
            {"input 1 has shape [3, 3]", "dimension 0 is 3 but 2"});
  ExpectBad(In("a", {2, 3}) + In("b", {2}) + Y("Concat", {"a", "b"}),
            {"input 1 has shape [2]", "ranks differ"});
  ExpectBad(In("a", {2, 3}) + Y("Concat", {"a"}, Int("axis", 2)),
            {"attr 'axis' = 2 is out of range for rank 2"});
  ExpectBad(In("a", {}) + Y("Concat", {"a"}), {"rank >= 1"});
  // Wrong dtype: every input shares the type variable T.
  ExpectBad(In("a", {2}) + In("b", {2}, "DT_INT32") + Y("Concat", {"a", "b"}),
            {"input 1 ('x', b) is i32", "f32"});
}

TEST(ArrayOps, BadSplit) {
  ExpectBad(In("x", {7}) + Y("Split", {"x"}, Int("num_splits", 2)),
            {"has 7 along axis 0", "'num_splits' = 2 does not divide"});
  ExpectBad(In("x", {7}) +
                Y("Split", {"x"}, Int("num_splits", 2) + Ints("sizes", {3, 3})),
            {"attr 'sizes' = [3, 3]", "do not add up to 7"});
  ExpectBad(In("x", {7}) + Y("Split", {"x"},
                             Int("num_splits", 2) + Ints("sizes", {9, -1})),
            {"attr 'sizes' = [9, -1]", "do not add up to 7"});
  ExpectBad(In("x", {7}) +
                Y("Split", {"x"}, Int("num_splits", 3) + Ints("sizes", {3, 4})),
            {"attr 'sizes' = [3, 4]", "needs attr 'num_splits' = 3"});
  ExpectBad(In("x", {7}) + Y("Split", {"x"}, Int("num_splits", 0)),
            {"attr 'num_splits' = 0"});
}

TEST(ArrayOps, BadSlice) {
  std::string x = In("x", {4, 5});
  ExpectBad(
      x + Y("Slice", {"x"},
            Ints("start", {0, 0}) + Ints("end", {2, 2}) + Ints("step", {1, 0})),
      {"attr 'step' = [1, 0]", "entry 1 is 0"});
  ExpectBad(x + Y("Slice", {"x"}, Ints("start", {0}) + Ints("end", {2, 2})),
            {"attr 'start' = [0]", "one entry per sliced axis (2"});
  ExpectBad(x + Y("Slice", {"x"},
                  Ints("axes", {2}) + Ints("start", {0}) + Ints("end", {1})),
            {"attr 'axes' = 2 is out of range for rank 2"});
  ExpectBad(x + Y("Slice", {"x"},
                  Ints("axes", {1, -1}) + Ints("start", {0, 0}) +
                      Ints("end", {1, 1})),
            {"attr 'axes' = [1, -1]", "names axis 1 twice"});
}

TEST(ArrayOps, BadSqueezeExpandDims) {
  ExpectBad(In("x", {1, 3}) + Y("Squeeze", {"x"}, Ints("axes", {1})),
            {"attr 'axes' = [1]", "axis 1 of x [1, 3] has size 3, not 1"});
  ExpectBad(In("x", {-1, 1}) + Y("Squeeze", {"x"}),
            {"symbolic dimension 0", "attr 'axes'"});
  // A named symbolic axis must bind to 1.
  ExpectBad(In("x", {-1, 3}) + Y("Squeeze", {"x"}, Ints("axes", {0})),
            {"axis 0 of x [2, 3] has size 2"},
            {{"x", Make<float>({2, 3}, Iota(6))}});
  ExpectBad(In("x", {2}) + Y("ExpandDims", {"x"}, Int("axis", 2)),
            {"attr 'axis' = 2 is out of range for rank 2"});
}

TEST(ArrayOps, BadBroadcastToAndReverse) {
  ExpectBad(In("x", {3, 2}) + Y("BroadcastTo", {"x"}, Ints("shape", {3, 4})),
            {"attr 'shape' = [3, 4]", "x of shape [3, 2] does not broadcast",
             "dimension 1 is 2"});
  ExpectBad(In("x", {3, 2}) + Y("BroadcastTo", {"x"}, Ints("shape", {2})),
            {"attr 'shape' = [2]", "higher rank"});
  ExpectBad(In("x", {-1}) + Y("BroadcastTo", {"x"}, Ints("shape", {4})),
            {"dimension 0 is 3"}, {{"x", Make<float>({3}, Iota(3))}});
  ExpectBad(In("x", {3}) + Y("Reverse", {"x"}, Int("axis", -2)),
            {"attr 'axis' = -2 is out of range for rank 1"});
}

TEST(ArrayOps, BadFill) {
  ExpectBad(Y("Fill", {}, Ints("shape", {2, -1}) + Float("value", 0)),
            {"attr 'shape' = [2, -1]", ">= 0"});
  ExpectBad(Y("Fill", {},
              Ints("shape", {2}) + Float("value", 3e9f) + Type("DT_INT32")),
            {"attr 'value' = 3e+09 is out of range for i32"});
  // 2^61 doubles overflow int64 bytes; the error comes before allocation.
  ExpectBad(Y("Fill", {},
              Ints("shape", {int64_t{1} << 61}) + Float("value", 0) +
                  Type("DT_DOUBLE")),
            {"attr 'shape'", "overflows"});
  ExpectBad(Y("Fill", {},
              Ints("shape", {2}) + Float("value", 0) + Type("DT_INVALID")),
            {"attr 'dtype'"});
}

TEST(ArrayOps, BadCastValues) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::string to_i32 = In("x", {3}) + Y("Cast", {"x"}, Type("DT_INT32"));
  ExpectBad(to_i32, {"x[1] (flat index) = nan is out of range for i32"},
            {{"x", Make<float>({3}, {0, nan, 1})}});
  ExpectBad(to_i32, {"x[2] (flat index) = 3e+10 is out of range for i32"},
            {{"x", Make<float>({3}, {0, 1, 3e10f})}});
  ExpectBad(In("x", {1}, "DT_DOUBLE") + Y("Cast", {"x"}, Type("DT_INT64")),
            {"x[0] (flat index) = 9.22337e+18 is out of range for i64"},
            {{"x", Make<double>({1}, {9223372036854775808.0})}});
  ExpectBad(In("x", {2}, "DT_INT64") + Y("Cast", {"x"}, Type("DT_INT32")),
            {"x[0] (flat index) = -2147483649 is out of range for i32"},
            {{"x", Make<int64_t>({2}, {-2147483649, 0})}});
}

}  // namespace
}  // namespace rill

// The op test table: one row per case, each run on the oneDNN backend and on
// the reference backend in f32 and compared (normwise relative error at most
// 1e-5, ../shared/RELIABILITY.md; absolute for results of norm under
// kAbsoluteBelow). A registry test fails when an op has no row.

#include <cmath>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "runtime/executor.h"
#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

// Results of a smaller norm are compared absolutely: they are cancellations
// of terms near 1 (e.g. a 1x1 GRU's dh0 of 3.1e-5), or exact zeros that f32
// kernels miss by a few ulps of 1, beyond f32's relative reach.
constexpr double kAbsoluteBelow = 1e-3;

// The rows run as training would run them: Dropout drops.
ExecutorOptions TrainingMode(Backend backend) {
  ExecutorOptions options;
  options.backend = backend;
  options.training = true;
  return options;
}

TEST(OpTable, OneDnnMatchesReference) {
  uint32_t seed = 1;
  for (const OpRow& row : AllOpRows()) {
    SCOPED_TRACE(RowName(row));
    std::map<std::string, Tensor> feeds = RowFeeds(row, DType::kF32, seed++);
    std::vector<std::string> fetches = RowFetches(row);
    std::vector<std::vector<Tensor>> results;
    for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
      absl::StatusOr<ValidGraph> g =
          ValidateGraph({RowGraph(row, DType::kF32), {}});
      ASSERT_TRUE(g.ok()) << g.status();
      auto ex = Executor::Create(*std::move(g), TrainingMode(backend));
      ASSERT_TRUE(ex.ok()) << ex.status();
      auto out = (*ex)->Run(feeds, fetches);
      ASSERT_TRUE(out.ok()) << out.status();
      results.push_back(*out);
      if (backend == Backend::kOneDnn) {
        EXPECT_EQ((*ex)->last_plan_stats().onednn_kernels, row.onednn ? 1 : 0)
            << "the row says whether oneDNN runs this case";
      }
    }
    for (size_t k = 0; k < fetches.size(); ++k) {
      SCOPED_TRACE(fetches[k]);
      ASSERT_EQ(results[0][k].shape(), results[1][k].shape());
      ASSERT_EQ(results[0][k].dtype(), results[1][k].dtype());
      EXPECT_LE(
          NormwiseRelativeError(results[0][k], results[1][k], kAbsoluteBelow),
          1e-5);
    }
  }
}

// The reference kernels in f64 agree with themselves in f32: a check that
// the double instantiation computes the same function. Rows that choose
// their output dtype by attribute are left out.
TEST(OpTable, ReferenceF64MatchesF32) {
  uint32_t seed = 100;
  for (const OpRow& row : AllOpRows()) {
    if (row.attrs.count("dtype")) continue;
    SCOPED_TRACE(RowName(row));
    std::vector<std::string> fetches = RowFetches(row);
    std::vector<std::vector<Tensor>> results;
    for (DType t : {DType::kF32, DType::kF64}) {
      auto g = ValidateGraph({RowGraph(row, t), {}});
      ASSERT_TRUE(g.ok()) << g.status();
      auto ex =
          Executor::Create(*std::move(g), TrainingMode(Backend::kReference));
      ASSERT_TRUE(ex.ok()) << ex.status();
      auto out = (*ex)->Run(RowFeeds(row, t, seed), fetches);
      ASSERT_TRUE(out.ok()) << out.status();
      results.push_back(*out);
    }
    ++seed;
    for (size_t k = 0; k < fetches.size(); ++k) {
      ASSERT_EQ(results[0][k].shape(), results[1][k].shape());
      EXPECT_LE(
          NormwiseRelativeError(results[0][k], results[1][k], kAbsoluteBelow),
          1e-5);
    }
  }
}

TEST(OpRegistry, EveryOpIsComplete) {
  const OpRegistry& registry = GlobalOpRegistry();
  std::set<std::string> with_rows;
  for (const OpRow& row : AllOpRows()) with_rows.insert(row.op);
  for (const std::string& name : registry.Names()) {
    SCOPED_TRACE(name);
    const OpDef& op = *registry.Find(name);
    EXPECT_FALSE(op.doc().empty());
    EXPECT_FALSE(op.outputs().empty());
    EXPECT_TRUE(op.shape_fn()) << "no shape function";
    if (op.is_source()) {
      EXPECT_TRUE(op.inputs().empty()) << "a source op has no inputs";
      continue;
    }
    EXPECT_TRUE(op.reference()) << "no reference kernel";
    EXPECT_NE(static_cast<bool>(op.onednn()), op.no_onednn_primitive())
        << "an op has a oneDNN kernel or declares NoOneDnnPrimitive()";
    EXPECT_TRUE(with_rows.count(name)) << "no row in the op test table";
    for (const ArgDef& in : op.inputs()) {
      EXPECT_FALSE(op.AllowedTypes(in.type_var).ToString() == "{}")
          << "input '" << in.name << "' has no allowed dtypes";
    }
  }
  for (const std::string& name : with_rows) {
    EXPECT_NE(registry.Find(name), nullptr) << "row for unknown op " << name;
  }
}

// Known values, computed by hand, so that both backends are also checked
// against something outside the code.
TEST(OpTable, KnownValues) {
  auto run = [](const std::string& text,
                const std::map<std::string, Tensor>& feeds, Backend backend) {
    Graph g;
    auto loaded = ParseGraphText(text, "known.pbtxt");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    auto valid = ValidateGraph(*std::move(loaded));
    EXPECT_TRUE(valid.ok()) << valid.status();
    auto ex = Executor::Create(*std::move(valid), {backend});
    return (*(*ex)->Run(feeds, {"y"}))[0];
  };
  Tensor x = *Tensor::Allocate(DType::kF32, {2});
  x.data<float>()[0] = 0.f;
  x.data<float>()[1] = std::log(2.f);
  const char* softmax = R"pb(
    node {
      name: "x"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 2 } }
      }
    }
    node { name: "y" op: "Softmax" input: "x" })pb";
  const char* matmul = R"pb(
    node {
      name: "x"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 1 dim: 2 } }
      }
    }
    node {
      name: "w"
      op: "Const"
      attr {
        key: "value"
        value {
          tensor {
            dtype: DT_FLOAT
            dims: 2
            dims: 2
            float_val: [ 1, 2, 3, 4 ]
          }
        }
      }
    }
    node { name: "y" op: "MatMul" input: "x" input: "w" })pb";
  Tensor row = *Tensor::Allocate(DType::kF32, {1, 2});
  row.data<float>()[0] = 5.f;
  row.data<float>()[1] = 6.f;
  for (Backend b : {Backend::kOneDnn, Backend::kReference}) {
    Tensor s = run(softmax, {{"x", x}}, b);
    EXPECT_NEAR(s.data<float>()[0], 1.f / 3, 1e-6);
    EXPECT_NEAR(s.data<float>()[1], 2.f / 3, 1e-6);
    Tensor m = run(matmul, {{"x", row}}, b);  // [5 6] . [[1 2] [3 4]]
    EXPECT_FLOAT_EQ(m.data<float>()[0], 23.f);
    EXPECT_FLOAT_EQ(m.data<float>()[1], 34.f);
  }
}

}  // namespace
}  // namespace rill

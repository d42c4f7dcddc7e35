// The op test table: one row per case, each run on the oneDNN backend and on
// the reference backend in f32 and compared (normwise relative error at most
// 1e-5, RELIABILITY.md). A registry test fails when an op has no row.

#include <cmath>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "runtime/executor.h"

namespace rill {
namespace {

struct OpRow {
  std::string op;
  std::vector<Shape> inputs;
  std::map<std::string, AttrValue> attrs;
  // Whether oneDNN has a primitive for this case (otherwise the executor
  // falls back to the reference kernel, and the test checks that it did).
  bool onednn;
};

AttrValue True() { return BoolAttr(true); }

const std::vector<OpRow>& Rows() {
  static const auto* rows = new std::vector<OpRow>{
      {"Identity", {{3, 5}}, {}, true},
      {"Identity", {{}}, {}, true},
      {"Tanh", {{17}}, {}, true},
      {"Tanh", {{2, 3, 5}}, {}, true},
      {"Tanh", {{}}, {}, true},
      {"Tanh", {{0, 4}}, {}, false},
      {"Sigmoid", {{31}}, {}, true},
      {"Sigmoid", {{1, 1, 7}}, {}, true},
      {"Add", {{3, 5}, {3, 5}}, {}, true},
      {"Add", {{2, 3, 5}, {5}}, {}, true},
      {"Add", {{1}, {4, 3}}, {}, true},      // First input broadcasts: swapped.
      {"Add", {{4, 1}, {1, 7}}, {}, false},  // Both broadcast.
      {"Add", {{0, 3}, {3}}, {}, false},
      {"Add", {{}, {}}, {}, true},
      {"Mul", {{7, 9}, {7, 9}}, {}, true},
      {"Mul", {{2, 1, 5}, {2, 3, 1}}, {}, false},
      {"Mul", {{6, 1}, {6, 4}}, {}, true},
      {"MatMul", {{3, 5}, {5, 7}}, {}, true},
      {"MatMul", {{1, 1}, {1, 1}}, {}, true},
      {"MatMul", {{2, 3, 5}, {5, 4}}, {}, true},
      {"MatMul", {{5, 3}, {5, 4}}, {{"transpose_a", True()}}, true},
      {"MatMul", {{3, 5}, {4, 5}}, {{"transpose_b", True()}}, true},
      {"MatMul",
       {{2, 5, 3}, {2, 4, 5}},
       {{"transpose_a", True()}, {"transpose_b", True()}},
       true},
      {"MatMul", {{2, 1, 3, 4}, {3, 4, 5}}, {}, true},  // Batch broadcast.
      {"MatMul", {{0, 4}, {4, 3}}, {}, false},
      {"Softmax", {{4, 9}}, {}, true},
      {"Softmax", {{4, 9}}, {{"axis", IntAttr(0)}}, true},
      {"Softmax", {{2, 3, 5}}, {{"axis", IntAttr(1)}}, true},
      {"Softmax", {{1}}, {}, true},
      {"Softmax", {{7, 1}}, {}, true},
  };
  return *rows;
}

std::string RowName(const OpRow& row) {
  std::vector<std::string> shapes;
  for (const Shape& s : row.inputs) shapes.push_back(s.ToString());
  std::string attrs;
  for (const auto& [k, v] : row.attrs)
    absl::StrAppend(&attrs, " ", k, "=", v.ShortDebugString());
  return absl::StrCat(row.op, "(", absl::StrJoin(shapes, ", "), ")", attrs);
}

// in0, in1, ... -> y = op(in0, in1, ...)
Graph RowGraph(const OpRow& row, DType dtype) {
  Graph g;
  Node* y = nullptr;
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    Node* in = g.add_node();
    in->set_name(absl::StrCat("in", i));
    in->set_op("Input");
    (*in->mutable_attr())["dtype"].set_type(DTypeToProto(dtype));
    for (int64_t d : row.inputs[i].dims()) {
      (*in->mutable_attr())["shape"].mutable_shape()->add_dim(d);
    }
    (*in->mutable_attr())["shape"].mutable_shape();  // Scalars too.
  }
  y = g.add_node();
  y->set_name("y");
  y->set_op(row.op);
  for (size_t i = 0; i < row.inputs.size(); ++i)
    y->add_input(absl::StrCat("in", i));
  for (const auto& [k, v] : row.attrs) (*y->mutable_attr())[k] = v;
  g.add_output("y");
  return g;
}

double NormwiseRelativeError(const Tensor& got, const Tensor& want) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    double w = want.data<float>()[i];
    double d = got.data<float>()[i] - w;
    diff += d * d;
    norm += w * w;
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

std::map<std::string, Tensor> RandomFeeds(const OpRow& row, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    Tensor t = *Tensor::Allocate(DType::kF32, row.inputs[i]);
    for (int64_t k = 0; k < t.num_elements(); ++k)
      t.data<float>()[k] = dist(rng);
    feeds[absl::StrCat("in", i)] = t;
  }
  return feeds;
}

TEST(OpTable, OneDnnMatchesReference) {
  uint32_t seed = 1;
  for (const OpRow& row : Rows()) {
    SCOPED_TRACE(RowName(row));
    std::map<std::string, Tensor> feeds = RandomFeeds(row, seed++);
    std::vector<Tensor> results;
    for (Backend backend : {Backend::kOneDnn, Backend::kReference}) {
      absl::StatusOr<ValidGraph> g =
          ValidateGraph({RowGraph(row, DType::kF32), {}});
      ASSERT_TRUE(g.ok()) << g.status();
      auto ex = Executor::Create(*std::move(g), {backend});
      ASSERT_TRUE(ex.ok()) << ex.status();
      auto out = (*ex)->Run(feeds, {"y"});
      ASSERT_TRUE(out.ok()) << out.status();
      results.push_back((*out)[0]);
      if (backend == Backend::kOneDnn) {
        EXPECT_EQ((*ex)->last_plan_stats().onednn_kernels, row.onednn ? 1 : 0)
            << "the row says whether oneDNN runs this case";
      }
    }
    ASSERT_EQ(results[0].shape(), results[1].shape());
    EXPECT_LE(NormwiseRelativeError(results[0], results[1]), 1e-5);
  }
}

// The reference kernels in f64 agree with themselves in f32: a check that
// the double instantiation computes the same function.
TEST(OpTable, ReferenceF64MatchesF32) {
  uint32_t seed = 100;
  for (const OpRow& row : Rows()) {
    SCOPED_TRACE(RowName(row));
    std::map<std::string, Tensor> f32 = RandomFeeds(row, seed++), f64;
    for (const auto& [name, t] : f32) {
      Tensor d = *Tensor::Allocate(DType::kF64, t.shape());
      for (int64_t k = 0; k < t.num_elements(); ++k)
        d.data<double>()[k] = t.data<float>()[k];
      f64[name] = d;
    }
    auto g32 = ValidateGraph({RowGraph(row, DType::kF32), {}});
    auto g64 = ValidateGraph({RowGraph(row, DType::kF64), {}});
    ASSERT_TRUE(g32.ok() && g64.ok());
    auto y32 = (*Executor::Create(*std::move(g32), {Backend::kReference}))
                   ->Run(f32, {"y"});
    auto y64 = (*Executor::Create(*std::move(g64), {Backend::kReference}))
                   ->Run(f64, {"y"});
    ASSERT_TRUE(y32.ok() && y64.ok());
    ASSERT_EQ((*y64)[0].dtype(), DType::kF64);
    for (int64_t k = 0; k < (*y32)[0].num_elements(); ++k) {
      EXPECT_NEAR((*y32)[0].data<float>()[k], (*y64)[0].data<double>()[k],
                  1e-5);
    }
  }
}

TEST(OpRegistry, EveryOpIsComplete) {
  const OpRegistry& registry = GlobalOpRegistry();
  std::set<std::string> with_rows;
  for (const OpRow& row : Rows()) with_rows.insert(row.op);
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
    EXPECT_TRUE(op.onednn()) << "no oneDNN kernel";
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

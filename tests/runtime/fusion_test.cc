// MatMul -> bias Add -> activation chains: the fused oneDNN kernel against
// the same graph unfused (oneDNN, fuse = false) and on the reference
// backend, and the cases that must not fuse.

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// x [-1, K] . w [K, N] (+ b) -> act; $BIAS_SHAPE, $ADD_INPUTS, $ACT vary.
constexpr char kChain[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 5 } }
    }
  }
  node {
    name: "w"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: 5 dim: 7 } }
    }
  }
  node {
    name: "b"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { $BIAS_SHAPE } }
    }
  }
  node { name: "xw" op: "MatMul" input: "x" input: "w" }
  node { name: "z" op: "Add" $ADD_INPUTS }
  node { name: "y" op: "$ACT" input: "z" }
)pb";

struct Case {
  std::string name, bias_shape, add_inputs, act;
  std::vector<int64_t> bias_dims;
  std::vector<std::string> fetches;
  int fused_chains;              // Expected on oneDNN with fusion on.
  std::string extra_nodes = "";  // Appended to the graph.
};

Tensor Random(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.5f, 1.5f);
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<Tensor> RunCase(const Case& c, Backend backend, bool fuse,
                            PlanStats* stats) {
  std::string text = absl::StrReplaceAll(kChain, {{"$BIAS_SHAPE", c.bias_shape},
                                                  {"$ADD_INPUTS", c.add_inputs},
                                                  {"$ACT", c.act}}) +
                     c.extra_nodes;
  auto loaded = ParseGraphText(text, "chain.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  auto graph = ValidateGraph(*std::move(loaded));
  EXPECT_TRUE(graph.ok()) << graph.status();
  ExecutorOptions options;
  options.backend = backend;
  options.fuse = fuse;
  auto ex = *Executor::Create(*std::move(graph), options);
  std::map<std::string, Tensor> feeds = {{"x", Random({9, 5}, 1)},
                                         {"w", Random({5, 7}, 2)},
                                         {"b", Random(Shape(c.bias_dims), 3)}};
  auto out = ex->Run(feeds, c.fetches);
  EXPECT_TRUE(out.ok()) << out.status();
  *stats = ex->last_plan_stats();
  return *out;
}

TEST(Fusion, FusedChainsMatchUnfusedAndReference) {
  const std::vector<Case> cases = {
      {"tanh", "dim: 7", R"(input: "xw" input: "b")", "Tanh", {7}, {"y"}, 1},
      // Gradient graphs read forward results for their shapes only; that
      // must neither stop fusion nor read an absorbed result's buffer.
      {"shape-only readers of the absorbed results",
       "dim: 7",
       R"(input: "xw" input: "b")",
       "Tanh",
       {7},
       {"y", "zeros", "ones"},
       1,
       R"(node { name: "zeros" op: "ZerosLike" input: "xw" }
          node { name: "ones" op: "OnesLike" input: "z" })"},
      {"sigmoid",
       "dim: 7",
       R"(input: "xw" input: "b")",
       "Sigmoid",
       {7},
       {"y"},
       1},
      {"bias first",
       "dim: 7",
       R"(input: "b" input: "xw")",
       "Tanh",
       {7},
       {"y"},
       1},
      {"bias [1, N]",
       "dim: 1 dim: 7",
       R"(input: "xw" input: "b")",
       "Tanh",
       {1, 7},
       {"y"},
       1},
      {"no activation",
       "dim: 7",
       R"(input: "xw" input: "b")",
       "Identity",
       {7},
       {"y"},
       1},
      {"matmul fetched",
       "dim: 7",
       R"(input: "xw" input: "b")",
       "Tanh",
       {7},
       {"y", "xw"},
       0},
      {"sum fetched",
       "dim: 7",
       R"(input: "xw" input: "b")",
       "Tanh",
       {7},
       {"y", "z"},
       1},
      {"bias [9, 7] is no bias",
       "dim: 9 dim: 7",
       R"(input: "xw" input: "b")",
       "Tanh",
       {9, 7},
       {"y"},
       0},
      {"x . w + x . w",
       "dim: 7",
       R"(input: "xw" input: "xw")",
       "Tanh",
       {7},
       {"y"},
       0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PlanStats fused_stats, unfused_stats, reference_stats;
    std::vector<Tensor> fused =
        RunCase(c, Backend::kOneDnn, true, &fused_stats);
    std::vector<Tensor> unfused =
        RunCase(c, Backend::kOneDnn, false, &unfused_stats);
    std::vector<Tensor> reference =
        RunCase(c, Backend::kReference, true, &reference_stats);
    EXPECT_EQ(fused_stats.fused_chains, c.fused_chains);
    EXPECT_EQ(unfused_stats.fused_chains, 0);
    EXPECT_EQ(reference_stats.fused_chains, 0);
    ASSERT_EQ(fused.size(), c.fetches.size());
    for (size_t k = 0; k < fused.size(); ++k) {
      ASSERT_EQ(fused[k].shape(), reference[k].shape());
      for (int64_t i = 0; i < fused[k].num_elements(); ++i) {
        float want = reference[k].data<float>()[i];
        EXPECT_NEAR(fused[k].data<float>()[i], want,
                    1e-5f * (1 + std::fabs(want)));
        EXPECT_NEAR(unfused[k].data<float>()[i], want,
                    1e-5f * (1 + std::fabs(want)));
      }
    }
  }
}

}  // namespace
}  // namespace rill

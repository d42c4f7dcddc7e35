// The autodiff pass: its errors, the shape of the graph it writes (names,
// pruning, fan-out, StopGradient, seeds), composite graphs checked against
// numerical derivatives, and a Hessian-vector product (second order).

#include "graph/autodiff.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"
#include "tests/graph/grad_check.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

Graph Parse(const std::string& text) {
  absl::StatusOr<LoadedGraph> g = ParseGraphText(text, "test.pbtxt");
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? g->graph : Graph();
}

ValidGraph Valid(const std::string& text) {
  absl::StatusOr<ValidGraph> g =
      ValidateGraph(*ParseGraphText(text, "t.pbtxt"));
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

// An Input node in text proto: `name` of `dtype` ("DT_DOUBLE") and dims.
std::string InputNode(const std::string& name, const std::string& dtype,
                      const std::vector<int64_t>& dims) {
  std::string shape;
  for (int64_t d : dims) absl::StrAppend(&shape, " dim: ", d);
  return absl::Substitute(
      "node { name: \"$0\" op: \"Input\" attr { key: \"dtype\" value { type: "
      "$1 } } attr { key: \"shape\" value { shape {$2 } } } }\n",
      name, dtype, shape);
}

std::string OpNode(const std::string& name, const std::string& op,
                   const std::vector<std::string>& inputs,
                   const std::string& attrs = "") {
  std::string in;
  for (const std::string& i : inputs)
    absl::StrAppend(&in, " input: \"", i, "\"");
  return absl::Substitute("node { name: \"$0\" op: \"$1\"$2 $3 }\n", name, op,
                          in, attrs);
}

Tensor Random(DType dtype, const Shape& shape, uint32_t seed, double lo = -1,
              double hi = 1) {
  std::mt19937 rng(seed);
  Tensor t = *Tensor::Allocate(dtype, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    double v = std::uniform_real_distribution<double>(lo, hi)(rng);
    if (dtype == DType::kF64) {
      t.data<double>()[i] = v;
    } else {
      t.data<float>()[i] = static_cast<float>(v);
    }
  }
  return t;
}

absl::StatusOr<GradientGraph> Grad(const ValidGraph& g,
                                   std::vector<std::string> losses,
                                   std::vector<std::string> wrt) {
  GradientRequest r;
  r.losses = std::move(losses);
  r.wrt = std::move(wrt);
  return BuildGradientGraph(g, r);
}

// ---- Errors ----

const char kSmall[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_DOUBLE }
    }
    attr {
      key: "shape"
      value { shape { dim: 2 dim: 3 } }
    }
  }
  node {
    name: "i"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_INT32 }
    }
    attr {
      key: "shape"
      value { shape { dim: 2 } }
    }
  }
  node { name: "t" op: "Tanh" input: "x" }
  node { name: "loss" op: "ReduceSum" input: "t" }
  node { name: "other" op: "Exp" input: "x" }
)pb";

TEST(AutodiffErrors, NonScalarLossWithoutSeedsNamesTheNode) {
  auto r = Grad(Valid(kSmall), {"t"}, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("node 't' (Tanh)"));
  EXPECT_THAT(r.status().message(), HasSubstr("has shape [2, 3]"));
  EXPECT_THAT(r.status().message(), HasSubstr("seed"));
}

TEST(AutodiffErrors, UnreachedWrtIsAnErrorOrAZeroGradientWithAWarning) {
  ValidGraph g = Valid(kSmall + InputNode("y", "DT_DOUBLE", {4}));
  auto r = Grad(g, {"loss"}, {"y"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("node 'y' (Input)"));
  EXPECT_THAT(r.status().message(), HasSubstr("does not reach the loss"));

  GradientRequest req;
  req.losses = {"loss"};
  req.wrt = {"x", "y"};
  req.allow_unreached = true;
  auto ok = BuildGradientGraph(g, req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->warnings.size(), 1u);
  EXPECT_THAT(ok->warnings[0], HasSubstr("'y' does not reach the loss"));
  auto ex = Executor::Create(std::move(ok->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok());
  auto out = (*ex)->Run({{"x", Random(DType::kF64, Shape{2, 3}, 1)},
                         {"y", Random(DType::kF64, Shape{4}, 2)}},
                        {"y/grad"});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].data<double>()[i], 0.0);
}

TEST(AutodiffErrors, MissingGradientNamesTheOpAndNode) {
  OpRegistry registry;
  RegisterAllOps(registry);
  registry.Add(OpDef("NoGradYet")
                   .TypeVar("T", kFloatTypes)
                   .Input("x", "T")
                   .Output("y")
                   .Shape(UnchangedShape));
  ValidateOptions options;
  options.registry = &registry;
  auto g = ValidateGraph(
      *ParseGraphText(absl::StrCat(InputNode("x", "DT_DOUBLE", {3}),
                                   OpNode("n", "NoGradYet", {"x"}),
                                   OpNode("loss", "ReduceSum", {"n"})),
                      "m.pbtxt"),
      options);
  ASSERT_TRUE(g.ok()) << g.status();
  auto r = Grad(*g, {"loss"}, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(r.status().message(),
              HasSubstr("m.pbtxt:2:1: node 'n' (NoGradYet): op NoGradYet has "
                        "no gradient"));
}

TEST(AutodiffErrors, BadNamesAndDtypes) {
  ValidGraph g = Valid(kSmall);
  EXPECT_THAT(Grad(g, {"nope"}, {"x"}).status().message(),
              HasSubstr("loss: 'nope' names no node"));
  EXPECT_THAT(Grad(g, {"loss"}, {"x:3"}).status().message(),
              HasSubstr("wrt: 'x:3' asks for output 3"));
  EXPECT_THAT(Grad(g, {"loss"}, {"i"}).status().message(),
              HasSubstr("node 'i' (Input): cannot differentiate with respect "
                        "to 'i': it is i32"));
  EXPECT_THAT(Grad(g, {}, {"x"}).status().message(), HasSubstr("no loss"));
  EXPECT_THAT(Grad(g, {"loss"}, {}).status().message(),
              HasSubstr("nothing to differentiate"));
}

// ---- The graph it writes ----

TEST(AutodiffGraph, NamesGradientNodesAndPrunesOffPathNodes) {
  auto r = Grad(Valid(kSmall), {"loss"}, {"x"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->gradients, std::vector<std::string>{"x/grad"});
  const Graph& g = r->graph.proto();
  int forward = Valid(kSmall).num_nodes();
  for (int i = forward; i < g.node_size(); ++i) {
    const std::string& name = g.node(i).name();
    // Only t and loss lie between x and the loss; `other` does not.
    EXPECT_TRUE(name.rfind("t/grad/", 0) == 0 ||
                name.rfind("loss/grad/", 0) == 0 || name == "x/grad")
        << name;
  }
  std::vector<std::string> outputs(g.output().begin(), g.output().end());
  EXPECT_EQ(outputs, (std::vector<std::string>{"loss", "x/grad"}));
}

TEST(AutodiffGraph, FanOutIsSummedAndGradientsAreRight) {
  // loss = sum(x * x + tanh(x)): x feeds three uses.
  std::string text = absl::StrCat(
      InputNode("x", "DT_DOUBLE", {5}), OpNode("sq", "Mul", {"x", "x"}),
      OpNode("t", "Tanh", {"x"}), OpNode("s", "Add", {"sq", "t"}),
      OpNode("loss", "ReduceSum", {"s"}));
  auto r = Grad(Valid(text), {"loss"}, {"x"});
  ASSERT_TRUE(r.ok()) << r.status();
  bool has_sum = false;
  for (const Node& n : r->graph.proto().node()) {
    has_sum = has_sum || (n.name() == "x/grad/sum" && n.op() == "AddN" &&
                          n.input_size() == 3);
  }
  EXPECT_TRUE(has_sum);
  auto check = CheckGradients(Parse(text), "loss", {"x"},
                              {{"x", Random(DType::kF64, Shape{5}, 3)}});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-9) << check->worst;
}

TEST(AutodiffGraph, StopGradientBlocksTheGradient) {
  // loss = sum(x * StopGradient(x)): d/dx = StopGradient(x) = x, not 2x.
  std::string text = absl::StrCat(
      InputNode("x", "DT_DOUBLE", {4}), OpNode("c", "StopGradient", {"x"}),
      OpNode("p", "Mul", {"x", "c"}), OpNode("loss", "ReduceSum", {"p"}));
  auto r = Grad(Valid(text), {"loss"}, {"x"});
  ASSERT_TRUE(r.ok()) << r.status();
  auto ex = Executor::Create(std::move(r->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok());
  Tensor x = Random(DType::kF64, Shape{4}, 4);
  auto out = (*ex)->Run({{"x", x}}, {"x/grad"});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ((*out)[0].data<double>()[i], x.data<double>()[i]);
  }
}

TEST(AutodiffGraph, SeedInputsGiveVectorJacobianProducts) {
  // y = tanh(x) * x; with a fed seed s, x/grad = J^T s, which must equal
  // the gradient of sum(y * s).
  std::string forward =
      absl::StrCat(InputNode("x", "DT_DOUBLE", {2, 3}),
                   OpNode("t", "Tanh", {"x"}), OpNode("y", "Mul", {"t", "x"}));
  GradientRequest req;
  req.losses = {"y"};
  req.wrt = {"x"};
  req.seed_inputs = true;
  auto r = BuildGradientGraph(Valid(forward), req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->seeds, std::vector<std::string>{"y/grad/seed"});
  Tensor x = Random(DType::kF64, Shape{2, 3}, 5);
  Tensor s = Random(DType::kF64, Shape{2, 3}, 6);
  auto ex = Executor::Create(std::move(r->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok());
  auto vjp = (*ex)->Run({{"x", x}, {"y/grad/seed", s}}, {"x/grad"});
  ASSERT_TRUE(vjp.ok()) << vjp.status();
  std::string weighted = absl::StrCat(
      forward, InputNode("s", "DT_DOUBLE", {2, 3}),
      OpNode("ys", "Mul", {"y", "s"}), OpNode("loss", "ReduceSum", {"ys"}));
  auto want = AnalyticGradients(Parse(weighted), "loss", {"x"},
                                {{"x", x}, {"s", s}}, Backend::kReference);
  ASSERT_TRUE(want.ok()) << want.status();
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR((*vjp)[0].data<double>()[i], (*want)[0].data<double>()[i],
                1e-12);
  }
}

TEST(AutodiffGraph, InternalTensorsAndSymbolicShapes) {
  // A batch dimension bound only at run time, and a wrt tensor inside the
  // graph.
  std::string text = absl::StrCat(
      InputNode("x", "DT_DOUBLE", {-1, 3}), InputNode("b", "DT_DOUBLE", {3}),
      OpNode("z", "Add", {"x", "b"}), OpNode("t", "Tanh", {"z"}),
      OpNode("loss", "ReduceSum", {"t"}));
  auto r = Grad(Valid(text), {"loss"}, {"b", "z"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->gradients, (std::vector<std::string>{"b/grad", "z/grad"}));
  auto check = CheckGradients(Parse(text), "loss", {"x", "b"},
                              {{"x", Random(DType::kF64, Shape{4, 3}, 7)},
                               {"b", Random(DType::kF64, Shape{3}, 8)}});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-9) << check->worst;
}

TEST(AutodiffGraph, TakingTheForwardGraphGivesTheSameGraph) {
  GradientRequest r;
  r.losses = {"loss"};
  r.wrt = {"x"};
  ValidGraph g = Valid(kSmall);
  auto copied = BuildGradientGraph(g, r);
  auto taken = BuildGradientGraph(std::move(g), r);
  ASSERT_TRUE(copied.ok() && taken.ok());
  EXPECT_EQ(copied->graph.proto().DebugString(),
            taken->graph.proto().DebugString());
  EXPECT_EQ(copied->graph.num_nodes(), taken->graph.num_nodes());
  EXPECT_EQ(taken->graph.FindNode("x/grad"), copied->graph.FindNode("x/grad"));
}

}  // namespace
}  // namespace rill

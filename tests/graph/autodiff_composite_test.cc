// Gradients of whole models, checked against numerical derivatives in f64
// (max relative error below 1e-5), f32 oneDNN gradients against the f64
// reference (normwise below 1e-4), and a Hessian-vector product: the
// gradient graph differentiated again.

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "graph/autodiff.h"
#include "gtest/gtest.h"
#include "tests/graph/grad_check.h"

namespace rill {
namespace {

// Builds a graph in text proto, one node per call, in a given float type.
class GraphText {
 public:
  explicit GraphText(DType dtype) : dtype_(dtype) {}
  GraphText& Input(const std::string& name, const std::vector<int64_t>& dims,
                   const char* dtype = nullptr) {
    std::string shape;
    for (int64_t d : dims) absl::StrAppend(&shape, " dim: ", d);
    absl::StrAppend(
        &text_,
        absl::Substitute(
            "node { name: \"$0\" op: \"Input\" attr { key: \"dtype\" value { "
            "type: $1 } } attr { key: \"shape\" value { shape {$2 } } } }\n",
            name, dtype ? dtype : FloatType(), shape));
    return *this;
  }
  GraphText& Op(const std::string& name, const std::string& op,
                const std::vector<std::string>& inputs,
                const std::string& attrs = "") {
    absl::StrAppend(&text_, "node { name: \"", name, "\" op: \"", op, "\"");
    for (const std::string& i : inputs) {
      absl::StrAppend(&text_, " input: \"", i, "\"");
    }
    absl::StrAppend(&text_, " ", attrs, " }\n");
    return *this;
  }
  // out = in . w + b
  GraphText& Dense(const std::string& out, const std::string& in,
                   const std::string& w, const std::string& b) {
    return Op(out + "_mm", "MatMul", {in, w}).Op(out, "Add", {out + "_mm", b});
  }
  Graph Build() const { return ParseGraphText(text_, "model.pbtxt")->graph; }
  const char* FloatType() const {
    return dtype_ == DType::kF64 ? "DT_DOUBLE" : "DT_FLOAT";
  }

 private:
  DType dtype_;
  std::string text_;
};

Tensor Random(const Shape& shape, uint32_t seed, double lo = -1,
              double hi = 1) {
  std::mt19937 rng(seed);
  Tensor t = *Tensor::Allocate(DType::kF64, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.data<double>()[i] = std::uniform_real_distribution<double>(lo, hi)(rng);
  }
  return t;
}

// A model: its graph in either float type, its f64 feeds, and what to
// differentiate.
struct Model {
  Graph (*graph)(DType);
  std::map<std::string, Tensor> feeds;
  std::vector<std::string> wrt;
};

// Checks the model's gradients numerically in f64, then the f32 oneDNN
// gradients against the f64 reference.
void CheckModel(const Model& m) {
  auto check = CheckGradients(m.graph(DType::kF64), "loss", m.wrt, m.feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf("max relative error %.3g against numerical derivatives\n",
              check->max_error);

  auto want = AnalyticGradients(m.graph(DType::kF64), "loss", m.wrt, m.feeds,
                                Backend::kReference);
  ASSERT_TRUE(want.ok()) << want.status();
  std::map<std::string, Tensor> feeds32;
  for (const auto& [name, t] : m.feeds) {
    feeds32[name] = t.dtype() == DType::kF64 ? ConvertFloat(t, DType::kF32) : t;
  }
  auto got = AnalyticGradients(m.graph(DType::kF32), "loss", m.wrt, feeds32,
                               Backend::kOneDnn);
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t k = 0; k < m.wrt.size(); ++k) {
    double err = 0, norm = 0;
    for (int64_t i = 0; i < (*want)[k].num_elements(); ++i) {
      double w = (*want)[k].ElementAsDouble(i);
      double d = (*got)[k].ElementAsDouble(i) - w;
      err += d * d;
      norm += w * w;
    }
    EXPECT_LT(std::sqrt(err / norm), 1e-4) << m.wrt[k];
    std::printf("  f32 oneDNN gradient of %s: normwise error %.3g\n",
                m.wrt[k].c_str(), std::sqrt(err / norm));
  }
}

// x [4, 3] -> tanh(x W1 + b1) [4, 5] -> W2 + b2 [4, 2]; MSE against t.
Graph Mlp(DType dtype) {
  GraphText g(dtype);
  g.Input("x", {4, 3}).Input("t", {4, 2});
  g.Input("w1", {3, 5}).Input("b1", {5}).Input("w2", {5, 2}).Input("b2", {2});
  g.Dense("z1", "x", "w1", "b1").Op("h1", "Tanh", {"z1"});
  g.Dense("y", "h1", "w2", "b2");
  g.Op("loss", "MeanSquaredError", {"y", "t"});
  return g.Build();
}

std::map<std::string, Tensor> MlpFeeds() {
  return {{"x", Random({4, 3}, 1)},  {"t", Random({4, 2}, 2)},
          {"w1", Random({3, 5}, 3)}, {"b1", Random({5}, 4)},
          {"w2", Random({5, 2}, 5)}, {"b2", Random({2}, 6)}};
}

TEST(CompositeGradients, Mlp) {
  CheckModel({Mlp, MlpFeeds(), {"x", "w1", "b1", "w2", "b2"}});
}

// Two stacked tanh RNN layers unrolled over 5 steps:
// h_l[t] = tanh(in[t] W_l + h_l[t-1] U_l + b_l), loss = mean((h_2[4])^2).
Graph Rnn(DType dtype) {
  GraphText g(dtype);
  g.Input("h0", {2, 4});
  for (int l = 1; l <= 2; ++l) {
    g.Input(absl::StrCat("W", l), {l == 1 ? 3 : 4, 4})
        .Input(absl::StrCat("U", l), {4, 4})
        .Input(absl::StrCat("b", l), {4});
  }
  for (int t = 0; t < 5; ++t) g.Input(absl::StrCat("x", t), {2, 3});
  for (int l = 1; l <= 2; ++l) {
    for (int t = 0; t < 5; ++t) {
      std::string h = absl::StrCat("h", l, "_", t);
      std::string in = l == 1 ? absl::StrCat("x", t) : absl::StrCat("h1_", t);
      std::string prev = t == 0 ? "h0" : absl::StrCat("h", l, "_", t - 1);
      g.Op(h + "_in", "MatMul", {in, absl::StrCat("W", l)})
          .Op(h + "_rec", "MatMul", {prev, absl::StrCat("U", l)})
          .Op(h + "_sum", "Add", {h + "_in", h + "_rec"})
          .Op(h + "_z", "Add", {h + "_sum", absl::StrCat("b", l)})
          .Op(h, "Tanh", {h + "_z"});
    }
  }
  g.Op("sq", "Square", {"h2_4"}).Op("loss", "ReduceMean", {"sq"});
  return g.Build();
}

TEST(CompositeGradients, TwoLayerTanhRnnOverFiveSteps) {
  std::map<std::string, Tensor> feeds = {{"h0", Random({2, 4}, 10)}};
  std::vector<std::string> wrt = {"h0"};
  uint32_t seed = 11;
  for (int l = 1; l <= 2; ++l) {
    for (const char* p : {"W", "U", "b"}) {
      std::string name = absl::StrCat(p, l);
      Shape s =
          p[0] == 'b' ? Shape{4} : Shape{p[0] == 'W' && l == 1 ? 3 : 4, 4};
      feeds[name] = Random(s, seed++, -0.7, 0.7);
      wrt.push_back(name);
    }
  }
  for (int t = 0; t < 5; ++t) {
    feeds[absl::StrCat("x", t)] = Random({2, 3}, seed++);
    wrt.push_back(absl::StrCat("x", t));
  }
  CheckModel({Rnn, feeds, wrt});
}

// Softmax cross-entropy over logits x W with integer labels, two of which
// are ignored (-100, the default ignore_index).
Graph CrossEntropy(DType dtype) {
  GraphText g(dtype);
  g.Input("x", {6, 3}).Input("w", {3, 4}).Input("labels", {6}, "DT_INT32");
  g.Op("logits", "MatMul", {"x", "w"});
  g.Op("loss", "SoftmaxCrossEntropy", {"logits", "labels"});
  return g.Build();
}

TEST(CompositeGradients, SoftmaxCrossEntropyWithIgnoredLabels) {
  Tensor labels = *Tensor::Allocate(DType::kI32, Shape{6});
  const int32_t values[6] = {0, -100, 3, 1, -100, 2};
  for (int i = 0; i < 6; ++i) labels.data<int32_t>()[i] = values[i];
  CheckModel({CrossEntropy,
              {{"x", Random({6, 3}, 20)},
               {"w", Random({3, 4}, 21)},
               {"labels", labels}},
              {"x", "w"}});
}

// One attention head: softmax(Q K^T / 2) V over a batch of 2 sequences of
// 3 positions, with Q, K, V projections of x.
Graph Attention(DType dtype) {
  GraphText g(dtype);
  g.Input("x", {2, 3, 4}).Input("r", {2, 3, 4});
  for (const char* w : {"wq", "wk", "wv"}) g.Input(w, {4, 4});
  g.Op("q", "MatMul", {"x", "wq"})
      .Op("k", "MatMul", {"x", "wk"})
      .Op("v", "MatMul", {"x", "wv"});
  g.Op("scores", "MatMul", {"q", "k"},
       "attr { key: \"transpose_b\" value { b: true } }");
  g.Input("scale", {});
  g.Op("scaled", "Mul", {"scores", "scale"});
  g.Op("p", "Softmax", {"scaled"}).Op("o", "MatMul", {"p", "v"});
  g.Op("weighted", "Mul", {"o", "r"}).Op("loss", "ReduceSum", {"weighted"});
  return g.Build();
}

TEST(CompositeGradients, AttentionShapedMatMulSoftmaxMatMul) {
  Tensor scale = *Tensor::Allocate(DType::kF64, Shape{});
  scale.data<double>()[0] = 0.5;
  CheckModel({Attention,
              {{"x", Random({2, 3, 4}, 30)},
               {"r", Random({2, 3, 4}, 31)},
               {"wq", Random({4, 4}, 32)},
               {"wk", Random({4, 4}, 33)},
               {"wv", Random({4, 4}, 34)},
               {"scale", scale}},
              {"x", "wq", "wk", "wv"}});
}

// H v for the MLP's loss as a function of (w1, w2): the gradient graph,
// extended with dot = <g, v>, differentiated again; against the central
// difference of the gradients along v.
TEST(SecondOrder, HessianVectorProductOfTanhMlp) {
  const std::vector<std::string> wrt = {"w1", "w2"};
  auto forward = ValidateGraph({Mlp(DType::kF64), {}});
  ASSERT_TRUE(forward.ok()) << forward.status();
  GradientRequest first;
  first.losses = {"loss"};
  first.wrt = wrt;
  auto g1 = BuildGradientGraph(*forward, first);
  ASSERT_TRUE(g1.ok()) << g1.status();

  // dot = sum(w1/grad * v1) + sum(w2/grad * v2)
  Graph with_dot = g1->graph.proto();
  GraphText extra(DType::kF64);
  extra.Input("v1", {3, 5}).Input("v2", {5, 2});
  for (int k = 1; k <= 2; ++k) {
    extra
        .Op(absl::StrCat("gv", k), "Mul",
            {absl::StrCat("w", k, "/grad"), absl::StrCat("v", k)})
        .Op(absl::StrCat("dot", k), "ReduceSum", {absl::StrCat("gv", k)});
  }
  extra.Op("dot", "AddN", {"dot1", "dot2"});
  Graph extra_nodes = extra.Build();
  for (const Node& n : extra_nodes.node()) *with_dot.add_node() = n;

  std::map<std::string, Tensor> feeds = MlpFeeds();
  feeds["v1"] = Random({3, 5}, 40);
  feeds["v2"] = Random({5, 2}, 41);
  auto hvp =
      AnalyticGradients(with_dot, "dot", wrt, feeds, Backend::kReference);
  ASSERT_TRUE(hvp.ok()) << hvp.status();

  // (g(w - 2hv) - 8 g(w - hv) + 8 g(w + hv) - g(w + 2hv)) / 12h
  auto ex = Executor::Create(std::move(g1->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  const double h = 1e-3;
  const double steps[4] = {-2 * h, -h, h, 2 * h};
  const double weights[4] = {1, -8, 8, -1};
  std::vector<Tensor> numeric = {Random({3, 5}, 0, 0, 0),
                                 Random({5, 2}, 0, 0, 0)};
  for (int s = 0; s < 4; ++s) {
    std::map<std::string, Tensor> moved = MlpFeeds();  // Without v1, v2.
    for (int k = 0; k < 2; ++k) {
      Tensor w = *feeds[wrt[k]].Clone();
      const Tensor& v = feeds[absl::StrCat("v", k + 1)];
      for (int64_t i = 0; i < w.num_elements(); ++i) {
        w.data<double>()[i] += steps[s] * v.data<double>()[i];
      }
      moved[wrt[k]] = w;
    }
    auto grads = (*ex)->Run(moved, g1->gradients);
    ASSERT_TRUE(grads.ok()) << grads.status();
    for (int k = 0; k < 2; ++k) {
      for (int64_t i = 0; i < numeric[k].num_elements(); ++i) {
        numeric[k].data<double>()[i] +=
            weights[s] * (*grads)[k].data<double>()[i] / (12 * h);
      }
    }
  }
  auto check = CompareGradients(*hvp, numeric, wrt);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-6) << check->worst;
  std::printf("Hessian-vector product: max relative error %.3g\n",
              check->max_error);
}

}  // namespace
}  // namespace rill

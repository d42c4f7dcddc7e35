// The attention builders against torch.nn.MultiheadAttention (outputs and
// the gradients of every weight and input, with causal and key-padding
// masks), the positional-encoding table against NumPy's closed form, fully
// masked rows, and float64 gradient checks. Goldens:
// make_attention_goldens.py.

#include "models/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

constexpr int64_t kD = 6;  // As in the script.

Tensor Golden(const std::string& name) {
  auto t = ReadNpy(
      absl::StrCat("tests/models/testdata/attention_", name, ".npy"), 1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

struct MhaCase {
  const char* name;
  int64_t heads;
  bool causal;
  bool self_attention;
};
const MhaCase kMhaCases[] = {{"mha_self", 2, true, true},
                             {"mha_cross", 3, false, false}};

const char* const kWeights[] = {"in_proj_weight", "in_proj_bias",
                                "out_proj.weight", "out_proj.bias"};

// Inputs (batch and lengths symbolic) -> attention "mha" -> loss =
// sum(output * r); weights from the case's goldens.
struct MhaModel {
  Graph graph;
  MultiHeadAttention mha;
  std::vector<std::string> inputs;  // x, or query and key_value
};
MhaModel BuildMha(const MhaCase& cs) {
  MhaModel m;
  m.inputs = cs.self_attention ? std::vector<std::string>{"x"}
                               : std::vector<std::string>{"query", "key_value"};
  for (const std::string& in : m.inputs) AddInput(&m.graph, in, {-1, -1, kD});
  AddInput(&m.graph, "r", {-1, -1, kD});
  AddInput(&m.graph, "lengths", {-1}, DType::kI64);
  MultiHeadAttentionOptions o;
  o.prefix = "mha";
  o.d_model = kD;
  o.heads = cs.heads;
  o.dtype = DType::kF64;
  o.causal = cs.causal;
  o.key_lengths = "lengths";
  auto mha =
      AddMultiHeadAttention(m.inputs.front(), m.inputs.back(), o, &m.graph);
  EXPECT_TRUE(mha.ok()) << mha.status();
  if (mha.ok()) m.mha = *mha;
  AddNode(&m.graph, "weighted", "Mul", {m.mha.output, "r"});
  AddNode(&m.graph, "loss", "ReduceSum", {"weighted"});
  const std::string c = cs.name;
  for (const char* w : kWeights) {
    Node* n = FindNode(&m.graph, absl::StrCat("mha/", w));
    EXPECT_NE(n, nullptr) << w;
    if (n == nullptr) continue;
    *(*n->mutable_attr())["value"].mutable_tensor() =
        TensorToProto(Golden(c + "_" + w));
  }
  return m;
}

std::map<std::string, Tensor> MhaFeeds(const MhaCase& cs, const MhaModel& m) {
  const std::string c = cs.name;
  std::map<std::string, Tensor> feeds = {{"r", Golden(c + "_r")},
                                         {"lengths", Golden(c + "_lengths")}};
  for (const std::string& in : m.inputs) feeds[in] = Golden(c + "_" + in);
  return feeds;
}

class MhaGoldens : public testing::TestWithParam<MhaCase> {};

TEST_P(MhaGoldens, Float64ReferenceOutputsAndGradients) {
  const MhaCase& cs = GetParam();
  const std::string c = cs.name;
  MhaModel m = BuildMha(cs);
  auto valid = ValidateGraph({m.graph, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = m.inputs;
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  ASSERT_TRUE(grad.ok()) << grad.status();
  auto ex = Executor::Create(std::move(grad->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::vector<std::string> fetches = {m.mha.output};
  std::vector<std::string> goldens = {c + "_output"};
  for (size_t k = 0; k < grad->wrt.size(); ++k) {
    fetches.push_back(grad->gradients[k]);
    const std::string& wrt = grad->wrt[k];
    goldens.push_back(c + "_d_" + wrt.substr(wrt.find('/') + 1));
  }
  ASSERT_EQ(grad->wrt.size(), m.inputs.size() + 4);
  auto got = (*ex)->Run(MhaFeeds(cs, m), fetches);
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t k = 0; k < fetches.size(); ++k) {
    double err = MaxError((*got)[k], Golden(goldens[k]), goldens[k]);
    EXPECT_LT(err, 1e-5) << goldens[k];
    std::printf("%-36s max abs error %.3g\n", goldens[k].c_str(), err);
  }
}

INSTANTIATE_TEST_SUITE_P(Attention, MhaGoldens, testing::ValuesIn(kMhaCases),
                         [](const testing::TestParamInfo<MhaCase>& info) {
                           return std::string(info.param.name);
                         });

class MhaGradCheck : public testing::TestWithParam<MhaCase> {};

TEST_P(MhaGradCheck, WholeBlockInFloat64) {
  const MhaCase& cs = GetParam();
  MhaModel m = BuildMha(cs);
  std::map<std::string, Tensor> feeds = ParametersToInputs(&m.graph);
  for (auto& [name, t] : MhaFeeds(cs, m)) feeds[name] = t;
  std::vector<std::string> wrt = m.inputs;
  for (const std::string& p : m.mha.parameters) wrt.push_back(p);
  auto check = CheckGradients(m.graph, "loss", wrt, feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf("%-10s max relative error %.3g against numerical derivatives\n",
              cs.name, check->max_error);
}

INSTANTIATE_TEST_SUITE_P(Attention, MhaGradCheck, testing::ValuesIn(kMhaCases),
                         [](const testing::TestParamInfo<MhaCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(PositionalEncoding, TableMatchesTheClosedForm) {
  for (auto [length, d] : {std::pair<int64_t, int64_t>{50, 16}, {9, 7}}) {
    const std::string name = absl::StrCat("pe_", length, "x", d);
    for (DType dtype : {DType::kF64, DType::kF32}) {
      auto table = SinusoidalPositionalEncodingTable(length, d, dtype);
      ASSERT_TRUE(table.ok()) << table.status();
      double err = MaxError(*table, Golden(name), name);
      EXPECT_LT(err, 1e-6) << name;
      std::printf("%s %s max abs error %.3g\n", name.c_str(), DTypeName(dtype),
                  err);
    }
  }
}

TEST(PositionalEncoding, AddsTheTableToEveryBatchRow) {
  Graph g;
  AddInput(&g, "x", {-1, 9, 7});
  PositionalEncodingOptions o;
  o.prefix = "pe";
  o.length = 9;
  o.d_model = 7;
  o.dtype = DType::kF64;
  auto out = AddSinusoidalPositionalEncoding("x", o, &g);
  ASSERT_TRUE(out.ok()) << out.status();
  auto valid = ValidateGraph({g, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(std::move(*valid), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  Tensor x = *Tensor::Allocate(DType::kF64, Shape{2, 9, 7});
  for (int64_t i = 0; i < x.num_elements(); ++i) x.data<double>()[i] = i;
  auto got = (*ex)->Run({{"x", x}}, {*out});
  ASSERT_TRUE(got.ok()) << got.status();
  Tensor table = Golden("pe_9x7");
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    EXPECT_NEAR((*got)[0].data<double>()[i],
                i + table.data<double>()[i % (9 * 7)], 1e-12);
  }
}

// Batch 1 has no valid key (length 0): every one of its rows is fully
// masked and must give zeros, with finite gradients.
TEST(ScaledDotProductAttention, FullyMaskedRowsGiveZerosAndFiniteGradients) {
  Graph g;
  AddInput(&g, "q", {2, 3, 4});
  AddInput(&g, "k", {2, 5, 4});
  AddInput(&g, "v", {2, 5, 4});
  AddInput(&g, "lengths", {2}, DType::kI64);
  AddNode(&g, "pad_like", "MatMul", {"q", "k"});
  (*FindNode(&g, "pad_like")->mutable_attr())["transpose_b"].set_b(true);
  AddNode(&g, "pad", "PaddingMask", {"lengths", "pad_like"});
  AddNode(&g, "mask", "ExpandDims", {"pad"});
  (*FindNode(&g, "mask")->mutable_attr())["axis"].set_i(1);
  ScaledDotProductAttentionOptions o;
  o.prefix = "sdpa";
  o.key_dim = 4;
  o.dtype = DType::kF64;
  auto out = AddScaledDotProductAttention("q", "k", "v", "mask", o, &g);
  ASSERT_TRUE(out.ok()) << out.status();
  AddNode(&g, "loss", "ReduceSum", {*out});

  auto valid = ValidateGraph({g, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = {"q", "k", "v"};
  auto grad = BuildGradientGraph(*valid, request);
  ASSERT_TRUE(grad.ok()) << grad.status();
  auto ex = Executor::Create(std::move(grad->graph), {Backend::kReference});
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::map<std::string, Tensor> feeds;
  for (const char* name : {"q", "k", "v"}) {
    Tensor t = *Tensor::Allocate(DType::kF64,
                                 Shape{2, std::string(name) == "q" ? 3 : 5, 4});
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      t.data<double>()[i] = std::sin(1.0 + i * (name[0] - 'a'));
    }
    feeds[name] = t;
  }
  Tensor lengths = *Tensor::Allocate(DType::kI64, Shape{2});
  lengths.data<int64_t>()[0] = 3;
  lengths.data<int64_t>()[1] = 0;
  feeds["lengths"] = lengths;
  std::vector<std::string> fetches = {*out};
  for (const std::string& d : grad->gradients) fetches.push_back(d);
  auto got = (*ex)->Run(feeds, fetches);
  ASSERT_TRUE(got.ok()) << got.status();
  const Tensor& y = (*got)[0];
  double batch0 = 0;
  for (int64_t i = 0; i < 12; ++i) batch0 += std::abs(y.data<double>()[i]);
  EXPECT_GT(batch0, 0);  // Batch 0 is attended to normally.
  for (int64_t i = 12; i < 24; ++i) EXPECT_EQ(y.data<double>()[i], 0) << i;
  for (size_t k = 1; k < got->size(); ++k) {
    const Tensor& d = (*got)[k];
    for (int64_t i = 0; i < d.num_elements(); ++i) {
      ASSERT_TRUE(std::isfinite(d.data<double>()[i])) << fetches[k] << i;
    }
  }
  // Nothing flows back into the masked batch's q, k or v.
  for (size_t k = 1; k < got->size(); ++k) {
    const Tensor& d = (*got)[k];
    const int64_t half = d.num_elements() / 2;
    for (int64_t i = half; i < d.num_elements(); ++i) {
      EXPECT_EQ(d.data<double>()[i], 0) << fetches[k] << i;
    }
  }
}

TEST(MultiHeadAttention, BadOptionsNameTheFieldAndLeaveTheGraphAlone) {
  Graph g;
  AddInput(&g, "x", {-1, -1, kD});
  const int before = g.node_size();
  MultiHeadAttentionOptions o;
  o.prefix = "mha";
  o.d_model = kD;
  o.heads = 4;
  auto bad = AddMultiHeadAttention("x", "x", o, &g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("divisible by heads"),
            std::string::npos)
      << bad.status();
  o.heads = 2;
  o.prefix = "9bad";
  EXPECT_FALSE(AddMultiHeadAttention("x", "x", o, &g).ok());
  EXPECT_EQ(g.node_size(), before);
  o.prefix = "mha";
  ASSERT_TRUE(AddMultiHeadAttention("x", "x", o, &g).ok());
  const int after = g.node_size();
  auto again = AddMultiHeadAttention("x", "x", o, &g);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(g.node_size(), after);
}

// The Parameters listed are the ones added, in PyTorch's layouts: packed
// or, with kdim/vdim, three input projections; none of the biases without
// bias.
TEST(MultiHeadAttention, ListsEveryParameterItAdds) {
  struct Case {
    int64_t kdim, vdim;
    bool bias;
    std::vector<std::string> parameters;
  };
  const Case cases[] = {
      {0,
       0,
       true,
       {"mha/in_proj_weight", "mha/in_proj_bias", "mha/out_proj.weight",
        "mha/out_proj.bias"}},
      {0, 0, false, {"mha/in_proj_weight", "mha/out_proj.weight"}},
      {3,
       5,
       true,
       {"mha/q_proj_weight", "mha/k_proj_weight", "mha/v_proj_weight",
        "mha/in_proj_bias", "mha/out_proj.weight", "mha/out_proj.bias"}},
  };
  for (const Case& c : cases) {
    Graph g;
    AddInput(&g, "q", {-1, -1, kD});
    AddInput(&g, "k", {-1, -1, c.kdim > 0 ? c.kdim : kD});
    AddInput(&g, "v", {-1, -1, c.vdim > 0 ? c.vdim : kD});
    MultiHeadAttentionOptions o;
    o.prefix = "mha";
    o.d_model = kD;
    o.heads = 2;
    o.kdim = c.kdim;
    o.vdim = c.vdim;
    o.bias = c.bias;
    o.value = "v";
    auto mha = AddMultiHeadAttention("q", "k", o, &g);
    ASSERT_TRUE(mha.ok()) << mha.status();
    EXPECT_EQ(mha->parameters, c.parameters);
    int parameters = 0;
    for (const Node& n : g.node()) parameters += n.op() == "Parameter";
    EXPECT_EQ(parameters, c.parameters.size());
  }
}

}  // namespace
}  // namespace rill

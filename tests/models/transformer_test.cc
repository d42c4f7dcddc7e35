// The Transformer layers against torch.nn.TransformerEncoderLayer and
// TransformerDecoderLayer (outputs and the gradients of every weight and
// input; post-norm and pre-norm, relu and gelu, key-padding and causal
// masks), float64 gradient checks, and bad options. Goldens:
// make_transformer_goldens.py.

#include "models/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/npy.h"
#include "core/tensor_proto.h"
#include "graph/autodiff.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "ops/kernel_util.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

constexpr int64_t kD = 6, kHeads = 2, kFF = 8;  // As in the script.

Tensor Golden(const std::string& name) {
  auto t =
      ReadNpy(absl::StrCat("tests/models/testdata/transformer_", name, ".npy"),
              1 << 20);
  EXPECT_TRUE(t.ok()) << name << ": " << t.status();
  return t.ok() ? *t : Tensor();
}

// "layer/self_attn/in_proj_weight" -> "self_attn.in_proj_weight", the
// state_dict key the script names its files by.
std::string TorchKey(const std::string& node) {
  return absl::StrReplaceAll(node.substr(node.find('/') + 1), {{"/", "."}});
}

struct LayerCase {
  const char* name;
  bool decoder;
  bool norm_first;
  TransformerActivation activation;
};
const LayerCase kCases[] = {
    {"enc_post", false, false, TransformerActivation::kRelu},
    {"enc_pre", false, true, TransformerActivation::kGelu},
    {"dec_post", true, false, TransformerActivation::kRelu},
    {"dec_pre", true, true, TransformerActivation::kGelu},
};

// Inputs (batch and lengths symbolic) -> layer "layer" -> loss =
// sum(output * r); weights from the case's goldens.
struct Model {
  Graph graph;
  TransformerLayer layer;
  std::vector<std::string> inputs;  // x, and the decoder's memory
};

Model Build(const LayerCase& cs, DType dtype = DType::kF64) {
  Model m;
  m.inputs = {"x"};
  if (cs.decoder) m.inputs.push_back("memory");
  for (const std::string& in : m.inputs) {
    AddInput(&m.graph, in, {-1, -1, kD}, dtype);
  }
  AddInput(&m.graph, "r", {-1, -1, kD}, dtype);
  AddInput(&m.graph, "lengths", {-1}, DType::kI64);
  TransformerLayerOptions o;
  o.prefix = "layer";
  o.d_model = kD;
  o.heads = kHeads;
  o.ff = kFF;
  o.activation = cs.activation;
  o.norm_first = cs.norm_first;
  o.dtype = dtype;
  o.key_lengths = "lengths";
  auto layer = [&] {
    if (!cs.decoder) return AddTransformerEncoderLayer("x", o, &m.graph);
    AddInput(&m.graph, "mem_lengths", {-1}, DType::kI64);
    o.causal = true;
    o.memory_key_lengths = "mem_lengths";
    return AddTransformerDecoderLayer("x", "memory", o, &m.graph);
  }();
  EXPECT_TRUE(layer.ok()) << layer.status();
  if (layer.ok()) m.layer = *layer;
  AddNode(&m.graph, "weighted", "Mul", {m.layer.output, "r"});
  AddNode(&m.graph, "loss", "ReduceSum", {"weighted"});
  const std::string c = cs.name;
  for (Node& n : *m.graph.mutable_node()) {
    if (n.op() != "Parameter") continue;
    *(*n.mutable_attr())["value"].mutable_tensor() = TensorToProto(
        ConvertFloat(Golden(c + "_" + TorchKey(n.name())), dtype));
  }
  return m;
}

std::map<std::string, Tensor> Feeds(const LayerCase& cs, const Model& m,
                                    DType dtype = DType::kF64) {
  const std::string c = cs.name;
  std::map<std::string, Tensor> feeds = {
      {"r", ConvertFloat(Golden(c + "_r"), dtype)},
      {"lengths", Golden(c + "_lengths")}};
  if (cs.decoder) feeds["mem_lengths"] = Golden(c + "_mem_lengths");
  for (const std::string& in : m.inputs) {
    feeds[in] = ConvertFloat(Golden(c + "_" + in), dtype);
  }
  return feeds;
}

// The layer's output and the gradients of its inputs and every weight, run
// in `dtype` with `options`, each beside the name of its golden.
struct Results {
  std::vector<Tensor> got;
  std::vector<std::string> goldens;
  PlanStats stats;
};

Results RunWithGradients(const LayerCase& cs, DType dtype,
                         const ExecutorOptions& options) {
  const std::string c = cs.name;
  Model m = Build(cs, dtype);
  // 4 per attention block, 4 for the FFN, 2 per LayerNorm.
  EXPECT_EQ(m.layer.parameters.size(), cs.decoder ? 18u : 12u);
  auto valid = ValidateGraph({m.graph, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return {};
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = m.inputs;
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  EXPECT_TRUE(grad.ok()) << grad.status();
  if (!grad.ok()) return {};
  EXPECT_EQ(grad->wrt.size(), m.inputs.size() + m.layer.parameters.size());
  auto ex = Executor::Create(std::move(grad->graph), options);
  EXPECT_TRUE(ex.ok()) << ex.status();
  if (!ex.ok()) return {};
  Results r;
  std::vector<std::string> fetches = {m.layer.output};
  r.goldens = {c + "_output"};
  for (size_t k = 0; k < grad->wrt.size(); ++k) {
    fetches.push_back(grad->gradients[k]);
    const std::string& wrt = grad->wrt[k];
    r.goldens.push_back(
        c + "_d_" + (wrt.find('/') == std::string::npos ? wrt : TorchKey(wrt)));
  }
  auto got = (*ex)->Run(Feeds(cs, m, dtype), fetches);
  EXPECT_TRUE(got.ok()) << got.status();
  if (got.ok()) r.got = *std::move(got);
  r.stats = (*ex)->last_plan_stats();
  return r;
}

// The largest error against the goldens: absolute, or relative to each
// golden's largest magnitude.
double LargestError(const Results& r, bool relative) {
  EXPECT_EQ(r.got.size(), r.goldens.size());
  double worst = 0;
  for (size_t k = 0; k < r.got.size(); ++k) {
    const Tensor want = Golden(r.goldens[k]);
    const double scale = MaxMagnitude(want);
    double err = MaxError(r.got[k], want, r.goldens[k]);
    worst = std::max(worst, relative ? err / scale : err);
  }
  return worst;
}

class TransformerGoldens : public testing::TestWithParam<LayerCase> {};

TEST_P(TransformerGoldens, Float64ReferenceOutputsAndGradients) {
  const Results r =
      RunWithGradients(GetParam(), DType::kF64, {Backend::kReference});
  ASSERT_FALSE(r.got.empty());
  const double worst = LargestError(r, false);
  EXPECT_LT(worst, 1e-5);
  std::printf("%-8s output and %zu gradients: max abs error %.3g\n",
              GetParam().name, r.got.size() - 1, worst);
}

// f32 and bf16 mixed precision on oneDNN against the same goldens: f32 to
// its rounding; bf16 (every matrix product on bf16 operands) within bf16's
// (2^-9 relative per operand, grown through the layer and its backward
// pass), and measurably further off than f32, so that bf16 did run.
TEST_P(TransformerGoldens, Float32AndBf16OneDnn) {
  const Results f32 =
      RunWithGradients(GetParam(), DType::kF32, {Backend::kOneDnn});
  ASSERT_FALSE(f32.got.empty());
  const double f32_err = LargestError(f32, true);
  EXPECT_LT(f32_err, 1e-4);
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  ExecutorOptions options{Backend::kOneDnn};
  options.precision = Precision::kBf16;
  options.bf16_min_multiply_adds = 0;  // The goldens' model is tiny.
  const Results bf16 = RunWithGradients(GetParam(), DType::kF32, options);
  ASSERT_FALSE(bf16.got.empty());
  EXPECT_GT(bf16.stats.bf16_kernels, 0);
  const double bf16_err = LargestError(bf16, true);
  EXPECT_LT(bf16_err, 5e-2);
  EXPECT_GT(bf16_err, 10 * f32_err);
  std::printf(
      "%-8s largest error relative to the goldens: f32 %.3g, bf16 %.3g (%d "
      "kernels on bf16)\n",
      GetParam().name, f32_err, bf16_err, bf16.stats.bf16_kernels);
}

INSTANTIATE_TEST_SUITE_P(Transformer, TransformerGoldens,
                         testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<LayerCase>& info) {
                           return std::string(info.param.name);
                         });

// The goldens' cases with GELU throughout: a ReLU input within the
// difference step of its kink (dec_post's linear1 has one) makes the
// numerical derivative wrong, not the analytic one, which the goldens check
// against PyTorch with ReLU. The weights are the goldens'.
const LayerCase kSmoothCases[] = {
    {"enc_post", false, false, TransformerActivation::kGelu},
    {"enc_pre", false, true, TransformerActivation::kGelu},
    {"dec_post", true, false, TransformerActivation::kGelu},
    {"dec_pre", true, true, TransformerActivation::kGelu},
};

class TransformerGradCheck : public testing::TestWithParam<LayerCase> {};

TEST_P(TransformerGradCheck, WholeLayerInFloat64) {
  const LayerCase& cs = GetParam();
  Model m = Build(cs);
  std::map<std::string, Tensor> feeds = ParametersToInputs(&m.graph);
  for (auto& [name, t] : Feeds(cs, m)) feeds[name] = t;
  std::vector<std::string> wrt = m.inputs;
  for (const std::string& p : m.layer.parameters) wrt.push_back(p);
  auto check = CheckGradients(m.graph, "loss", wrt, feeds);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_LT(check->max_error, 1e-5) << check->worst;
  std::printf("%-8s max relative error %.3g against numerical derivatives\n",
              cs.name, check->max_error);
}

INSTANTIATE_TEST_SUITE_P(Transformer, TransformerGradCheck,
                         testing::ValuesIn(kSmoothCases),
                         [](const testing::TestParamInfo<LayerCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(TransformerLayer, BadOptionsNameTheFieldAndLeaveTheGraphAlone) {
  Graph g;
  AddInput(&g, "x", {-1, -1, kD});
  AddInput(&g, "memory", {-1, -1, kD});
  const int before = g.node_size();
  TransformerLayerOptions o;
  o.prefix = "enc";
  o.d_model = kD;
  o.heads = kHeads;
  o.ff = 0;
  auto bad = AddTransformerEncoderLayer("x", o, &g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("ff 0 < 1"),
            std::string::npos)
      << bad.status();
  o.ff = kFF;
  o.dropout = 1;
  bad = AddTransformerDecoderLayer("x", "memory", o, &g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("dropout"),
            std::string::npos)
      << bad.status();
  EXPECT_EQ(g.node_size(), before);
  o.dropout = 0.1;
  ASSERT_TRUE(AddTransformerEncoderLayer("x", o, &g).ok());
  const int after = g.node_size();
  // The same prefix again clashes (first inside the attention block).
  auto again = AddTransformerEncoderLayer("x", o, &g);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(g.node_size(), after);
  // A clash only in the layer's own nodes is caught too.
  AddInput(&g, "dec/norm3.weight", {kD});
  const int with_clash = g.node_size();
  auto clash = AddTransformerDecoderLayer(
      "x", "memory",
      [&] {
        TransformerLayerOptions d = o;
        d.prefix = "dec";
        return d;
      }(),
      &g);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(g.node_size(), with_clash);
}

// With dropout on, the layer still validates and runs, and the gradient
// graph builds (the Dropout ops sit where PyTorch puts them).
TEST(TransformerLayer, DropoutLayerRunsForwardAndBackward) {
  Graph g;
  AddInput(&g, "x", {2, 3, kD}, DType::kF32);
  AddInput(&g, "memory", {2, 5, kD}, DType::kF32);
  TransformerLayerOptions o;
  o.prefix = "dec";
  o.d_model = kD;
  o.heads = kHeads;
  o.ff = kFF;
  o.dropout = 0.25;
  o.causal = true;
  auto layer = AddTransformerDecoderLayer("x", "memory", o, &g);
  ASSERT_TRUE(layer.ok()) << layer.status();
  int dropouts = 0;
  for (const Node& n : g.node()) dropouts += n.op() == "Dropout";
  EXPECT_EQ(dropouts, 4);  // After each of 3 blocks, and inside the FFN.
  AddNode(&g, "loss", "ReduceSum", {layer->output});
  auto valid = ValidateGraph({g, {}});
  ASSERT_TRUE(valid.ok()) << valid.status();
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = {"x", "memory"};
  request.wrt_params = true;
  auto grad = BuildGradientGraph(*valid, request);
  ASSERT_TRUE(grad.ok()) << grad.status();
  ExecutorOptions training;  // The Dropouts drop.
  training.backend = Backend::kReference;
  training.training = true;
  auto ex = Executor::Create(std::move(grad->graph), training);
  ASSERT_TRUE(ex.ok()) << ex.status();
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{2, 3, kD});
  Tensor mem = *Tensor::Allocate(DType::kF32, Shape{2, 5, kD});
  for (int64_t i = 0; i < x.num_elements(); ++i) x.data<float>()[i] = 0.1f * i;
  for (int64_t i = 0; i < mem.num_elements(); ++i) {
    mem.data<float>()[i] = std::sin(0.3f * i);
  }
  std::vector<std::string> fetches = {layer->output};
  for (const std::string& d : grad->gradients) fetches.push_back(d);
  auto got = (*ex)->Run({{"x", x}, {"memory", mem}}, fetches);
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t k = 0; k < got->size(); ++k) {
    for (int64_t i = 0; i < (*got)[k].num_elements(); ++i) {
      ASSERT_TRUE(std::isfinite((*got)[k].ElementAsDouble(i))) << fetches[k];
    }
  }
}

// The stacks' numerics are checked against nn.Transformer through the
// seq2seq goldens (seq2seq_test); here, their shape and failure modes.
TEST(TransformerStack, NamesLayersAsNnTransformerAndFailsWhole) {
  Graph g;
  AddInput(&g, "x", {-1, -1, kD});
  AddInput(&g, "memory", {-1, -1, kD});
  TransformerStackOptions s;
  s.layer.prefix = "encoder";
  s.layer.d_model = kD;
  s.layer.heads = kHeads;
  s.layer.ff = kFF;
  s.layer.dtype = DType::kF64;  // AddInput's.
  s.num_layers = 2;
  auto encoder = AddTransformerEncoder("x", s, &g);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ(encoder->parameters.size(), 2 * 12u + 2);
  EXPECT_EQ(encoder->parameters.back(), "encoder/norm.bias");
  EXPECT_NE(FindNode(&g, "encoder/layers.1/self_attn/in_proj_weight"), nullptr);
  s.layer.prefix = "decoder";
  s.layer.causal = true;
  auto decoder = AddTransformerDecoder("x", encoder->output, s, &g);
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  EXPECT_EQ(decoder->parameters.size(), 2 * 18u + 2);
  auto valid = ValidateGraph({g, {}});
  EXPECT_TRUE(valid.ok()) << valid.status();

  const int before = g.node_size();
  s.num_layers = 0;
  auto none = AddTransformerEncoder("x", s, &g);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("num_layers 0 < 1"), std::string::npos)
      << none.status();
  // A clash in the second layer leaves the first one out too.
  s.num_layers = 2;
  s.layer.prefix = "again";
  AddNode(&g, "again/layers.1/residual1", "Identity", {"x"});
  auto clash = AddTransformerEncoder("x", s, &g);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(g.node_size(), before + 1);
}

}  // namespace
}  // namespace rill

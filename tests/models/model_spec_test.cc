// BuildModel: the graph's inputs, parameters and output; the batch-first
// input reaching the stack as [T, B, I]; the head and both losses against
// the same formulas computed here from the stack's own output (the stack
// itself is checked against PyTorch in rnn_test); and bad specs failing
// with the field named.

#include "models/model_spec.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_proto.h"
#include "google/protobuf/text_format.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "models/rnn.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int64_t kT = 5, kB = 3, kI = 2, kH = 3, kO = 4;

ModelSpec Spec(const std::string& text) {
  ModelSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec))
      << text;
  return spec;
}

// A bidirectional 2-layer LSTM, f64, with the given head and loss.
std::string SpecText(const std::string& head, const std::string& loss) {
  return "input { features: 2 steps: 5 } dtype: 'f64' "
         "recurrent { cell: 'lstm' hidden_size: 3 num_layers: 2 "
         "bidirectional: true seed: 11 } head { outputs: 4 " +
         head + " } loss { " + loss + " }";
}

const Node* Find(const Graph& g, const std::string& name) {
  for (const Node& n : g.node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

Tensor ParameterValue(const Graph& g, const std::string& name) {
  const Node* n = Find(g, name);
  EXPECT_NE(n, nullptr) << name;
  auto t = TensorFromProto(n->attr().at("value").tensor(), 1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

Tensor Random(Shape shape, uint64_t seed) {
  Tensor t = *Tensor::Allocate(DType::kF64, std::move(shape));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1, 1);
  for (int64_t i = 0; i < t.num_elements(); ++i)
    t.data<double>()[i] = dist(rng);
  return t;
}

std::vector<Tensor> RunGraph(Graph g,
                             const std::map<std::string, Tensor>& feeds,
                             const std::vector<std::string>& fetches) {
  auto valid = ValidateGraph(LoadedGraph{std::move(g), SourceMap()});
  EXPECT_TRUE(valid.ok()) << valid.status();
  auto ex = Executor::Create(*std::move(valid));
  EXPECT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run(feeds, fetches);
  EXPECT_TRUE(out.ok()) << out.status();
  return *out;
}

// The same stack built directly on a time-major Input, run on x transposed
// here: its [T, B, 2H] output. Same options and seed, so the same weights.
Tensor ReferenceStackOutput(const Tensor& x_batch_major) {
  Graph g;
  AddInputNode(&g, "xt", DType::kF64, {kT, -1, kI});
  RecurrentStackOptions o;
  o.layer.cell = RecurrentCell::kLstm;
  o.layer.prefix = "rnn";
  o.layer.steps = kT;
  o.layer.input_size = kI;
  o.layer.hidden_size = kH;
  o.layer.dtype = DType::kF64;
  o.layer.seed = 11;
  o.layer.bidirectional = true;
  o.num_layers = 2;
  auto stack = AddRecurrentStack("xt", o, &g);
  EXPECT_TRUE(stack.ok()) << stack.status();
  Tensor xt = *Tensor::Allocate(DType::kF64, Shape{kT, kB, kI});
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t t = 0; t < kT; ++t)
      for (int64_t i = 0; i < kI; ++i)
        xt.data<double>()[(t * kB + b) * kI + i] =
            x_batch_major.data<double>()[(b * kT + t) * kI + i];
  return RunGraph(std::move(g), {{"xt", xt}}, {stack->output})[0];
}

// head(h) = h W^T + b for one [2H] feature row of the stack output.
std::vector<double> Head(const Tensor& w, const Tensor& bias, const double* h) {
  std::vector<double> y(kO);
  for (int64_t o = 0; o < kO; ++o) {
    y[o] = bias.data<double>()[o];
    for (int64_t f = 0; f < 2 * kH; ++f)
      y[o] += h[f] * w.data<double>()[o * 2 * kH + f];
  }
  return y;
}

TEST(BuildModel, GraphHasBatchFirstInputsParametersAndScalarLoss) {
  auto g = BuildModel(Spec(SpecText("", "mse {}")));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->output_size(), 1);
  EXPECT_EQ(g->output(0), "loss");
  auto valid = ValidateGraph(LoadedGraph{*g, SourceMap()});
  ASSERT_TRUE(valid.ok()) << valid.status();
  std::vector<std::string> inputs;
  for (int n : valid->input_nodes()) {
    inputs.push_back(valid->node(n).name() +
                     valid->info(n).shapes[0].ToString());
  }
  EXPECT_EQ(inputs, (std::vector<std::string>{"x[?, 5, 2]", "target[?, 4]"}));
  for (const char* p :
       {"rnn/l0/weight_ih", "rnn/l0/weight_hh_reverse", "rnn/l1/bias_ih",
        "rnn/l1/bias_hh_reverse", "head/weight", "head/bias"}) {
    EXPECT_NE(Find(*g, p), nullptr) << p;
  }
  EXPECT_EQ(ParameterValue(*g, "head/weight").shape(), (Shape{kO, 2 * kH}));
  EXPECT_EQ(ParameterValue(*g, "rnn/l1/weight_ih").shape(),
            (Shape{4 * kH, 2 * kH}));  // Layer 1 reads the concat [2H].
}

TEST(BuildModel, MseOnTheLastStepMatchesTheFormula) {
  auto g = BuildModel(Spec(SpecText("", "mse {}")));
  ASSERT_TRUE(g.ok()) << g.status();
  Tensor x = Random(Shape{kB, kT, kI}, 1), target = Random(Shape{kB, kO}, 2);
  Tensor w = ParameterValue(*g, "head/weight");
  Tensor bias = ParameterValue(*g, "head/bias");
  Tensor loss = RunGraph(*g, {{"x", x}, {"target", target}}, {"loss"})[0];
  Tensor stack = ReferenceStackOutput(x);
  double sum = 0;
  for (int64_t b = 0; b < kB; ++b) {
    const double* h = stack.data<double>() + ((kT - 1) * kB + b) * 2 * kH;
    std::vector<double> y = Head(w, bias, h);
    for (int64_t o = 0; o < kO; ++o) {
      double d = y[o] - target.data<double>()[b * kO + o];
      sum += d * d;
    }
  }
  EXPECT_NEAR(loss.data<double>()[0], sum / (kB * kO), 1e-12);
}

TEST(BuildModel, CrossEntropyOnEveryStepMatchesTheFormula) {
  auto g = BuildModel(
      Spec(SpecText("every_step: true", "cross_entropy { labels: 'y' }")));
  ASSERT_TRUE(g.ok()) << g.status();
  Tensor x = Random(Shape{kB, kT, kI}, 3);
  Tensor labels = *Tensor::Allocate(DType::kI64, Shape{kB, kT});
  for (int64_t i = 0; i < kB * kT; ++i) labels.data<int64_t>()[i] = i % kO;
  Tensor loss = RunGraph(*g, {{"x", x}, {"y", labels}}, {"loss"})[0];
  Tensor w = ParameterValue(*g, "head/weight");
  Tensor bias = ParameterValue(*g, "head/bias");
  Tensor stack = ReferenceStackOutput(x);
  double sum = 0;
  for (int64_t b = 0; b < kB; ++b) {
    for (int64_t t = 0; t < kT; ++t) {
      std::vector<double> y =
          Head(w, bias, stack.data<double>() + (t * kB + b) * 2 * kH);
      double z = 0;
      for (double v : y) z += std::exp(v);
      sum += std::log(z) - y[labels.data<int64_t>()[b * kT + t]];
    }
  }
  EXPECT_NEAR(loss.data<double>()[0], sum / (kB * kT), 1e-12);
}

TEST(BuildModel, Seq2SeqSpecBuildsTheTransformer) {
  auto g = BuildModel(
      Spec("seq2seq { vocab_size: 9 d_model: 8 heads: 2 ff: 16 src_length: 5 "
           "tgt_length: 4 encoder_layers: 2 positional: 'learned' "
           "untied_output: true }"));
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<std::string> inputs;
  int params = 0;
  for (const Node& n : g->node()) {
    if (n.op() == "Input") inputs.push_back(n.name());
    params += n.op() == "Parameter";
  }
  EXPECT_EQ(inputs, (std::vector<std::string>{"src", "tgt_in", "tgt_out"}));
  // Embedding, positions, 2 x 12 + 2 encoder, 18 + 2 decoder, output 2.
  EXPECT_EQ(params, 2 + 26 + 20 + 2);
  EXPECT_EQ(g->output(0), "loss");
}

TEST(BuildModel, BadSpecsNameTheField) {
  const std::string ok_loss = "loss { mse {} }";
  struct Case {
    std::string text, field;
  } cases[] = {
      {"recurrent { hidden_size: 2 } head { outputs: 1 } " + ok_loss,
       "input: required"},
      {"input { features: 0 steps: 3 } recurrent { hidden_size: 2 } "
       "head { outputs: 1 } " +
           ok_loss,
       "input.features: 0: must be >= 1"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 0 } "
       "head { outputs: 1 } " +
           ok_loss,
       "recurrent.hidden_size: 0"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 } "
       "head { outputs: 0 } " +
           ok_loss,
       "head.outputs: 0"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 cell: "
       "'lsmt' } head { outputs: 1 } " +
           ok_loss,
       "recurrent.cell: 'lsmt'"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 merge: "
       "'sum' } head { outputs: 1 } " +
           ok_loss,
       "recurrent.merge: only for a bidirectional stack"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 "
       "bidirectional: true merge: 'max' } head { outputs: 1 } " +
           ok_loss,
       "recurrent.merge: 'max'"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 dropout: "
       "1 } head { outputs: 1 } " +
           ok_loss,
       "recurrent.dropout: 1: must be in [0, 1)"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 "
       "num_layers: -1 } head { outputs: 1 } " +
           ok_loss,
       "recurrent.num_layers: -1"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 } "
       "head { outputs: 1 }",
       "loss: required"},
      {"input { features: 1 steps: 3 } dtype: 'f16' recurrent { "
       "hidden_size: 2 } head { outputs: 1 } " +
           ok_loss,
       "dtype: 'f16'"},
      {"input { features: 1 steps: 3 } recurrent { hidden_size: 2 name: "
       "'9rnn' } head { outputs: 1 } " +
           ok_loss,
       "recurrent: recurrent layer options: prefix '9rnn'"},
      // A name collision: the validator names the duplicated node.
      {"input { name: 'loss' features: 1 steps: 3 } recurrent { "
       "hidden_size: 2 } head { outputs: 1 } " +
           ok_loss,
       "loss"},
      // The seq2seq model.
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 0 ff: 8 src_length: 3 "
       "tgt_length: 3 }",
       "seq2seq.heads: 0: must be >= 1"},
      {"seq2seq { vocab_size: 5 d_model: 6 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 }",
       "d_model: 6 is not divisible by heads 4"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 eos_id: 5 }",
       "seq2seq.eos_id: 5: must be in [0, vocab_size 5)"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 bos_id: 0 }",
       "seq2seq: pad_id, bos_id and eos_id must differ"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 activation: 'tanh' }",
       "seq2seq.activation: 'tanh': expected relu or gelu"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 positional: 'rotary' }",
       "seq2seq.positional: 'rotary': expected sinusoidal or learned"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 encoder_layers: -1 }",
       "seq2seq.encoder_layers: -1: must be >= 0"},
      {"seq2seq { vocab_size: 5 d_model: 8 heads: 4 ff: 8 src_length: 3 "
       "tgt_length: 3 label_smoothing: 1 }",
       "label_smoothing: 1: must be in [0, 1)"},
      {"input { features: 1 steps: 3 } seq2seq { vocab_size: 5 }",
       "seq2seq: stands alone"},
  };
  for (const Case& c : cases) {
    auto g = BuildModel(Spec(c.text));
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(g.status().message()).find(c.field),
              std::string::npos)
        << g.status() << "\nwanted: " << c.field;
  }
}

// The bare stack's Inputs and outputs, PyTorch's shapes: batch-first
// unless batch_first is false, h0 and c0 [L*D, B, H] only when asked for.
TEST(BuildModel, BareStackHasPyTorchsInputsAndOutputs) {
  struct Case {
    std::string recurrent, input;
    std::vector<std::string> want;  // "name shape", inputs then outputs.
  } cases[] = {
      {"cell: 'lstm' num_layers: 2 bidirectional: true batch_first: false "
       "initial_state: 'inputs'",
       "sequence_lengths: 'len'",
       {"x [5, -1, 2]", "len [-1]", "h0 [4, -1, 3]", "c0 [4, -1, 3]",
        "output [5, -1, 6]", "h_n [4, -1, 3]", "c_n [4, -1, 3]"}},
      // An absent batch_first means batch-first, as before the field.
      {"cell: 'gru_pytorch'",
       "",
       {"x [-1, 5, 2]", "output [-1, 5, 3]", "h_n [1, -1, 3]"}},
      {"cell: 'rnn_tanh' bidirectional: true merge: 'sum' batch_first: true "
       "initial_state: 'inputs'",
       "",
       {"x [-1, 5, 2]", "h0 [2, -1, 3]", "output [-1, 5, 3]",
        "h_n [2, -1, 3]"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recurrent);
    auto g =
        BuildModel(Spec("input { features: 2 steps: 5 " + c.input +
                        " } recurrent { hidden_size: 3 " + c.recurrent + " }"));
    ASSERT_TRUE(g.ok()) << g.status();
    auto valid = ValidateGraph(LoadedGraph{*g, SourceMap()});
    ASSERT_TRUE(valid.ok()) << valid.status();
    std::vector<std::string> got;
    auto describe = [&](int n) {
      std::string dims;
      for (int64_t d : valid->info(n).shapes[0].dims()) {
        dims += (dims.empty() ? "" : ", ") + std::to_string(d);
      }
      return valid->node(n).name() + " [" + dims + "]";
    };
    for (int n : valid->input_nodes()) got.push_back(describe(n));
    for (const std::string& o : g->output()) {
      got.push_back(describe(valid->FindNode(o)));
    }
    EXPECT_EQ(got, c.want);
  }
}

TEST(BuildModel, ContradictorySpecFieldsAreNamed) {
  const std::string input = "input { features: 1 steps: 3 ";
  const std::string head = " head { outputs: 1 } loss { mse {} }";
  struct Case {
    std::string text, field;
  } cases[] = {
      {input + "} recurrent { hidden_size: 2 } loss { mse {} }",
       "loss: needs a head; a bare stack (no head) has no loss"},
      {input + "sequence_lengths: 'len' } recurrent { hidden_size: 2 }" + head,
       "input.sequence_lengths: only for a bare stack"},
      {input + "} recurrent { hidden_size: 2 initial_state: 'inputs' }" + head,
       "recurrent.initial_state: 'inputs': only for a bare stack"},
      {input + "} recurrent { hidden_size: 2 batch_first: false }" + head,
       "recurrent.batch_first: false: only for a bare stack"},
      {input + "} recurrent { hidden_size: 2 initial_state: 'random' }",
       "recurrent.initial_state: 'random': expected zeros or inputs"},
      // Names that collide: the validator names the duplicate.
      {input + "sequence_lengths: 'x' } recurrent { hidden_size: 2 }", "'x'"},
      {"input { name: 'h0' features: 1 steps: 3 } recurrent { hidden_size: "
       "2 initial_state: 'inputs' }",
       "'h0'"},
  };
  for (const Case& c : cases) {
    auto g = BuildModel(Spec(c.text));
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(std::string(g.status().message()).find(c.field),
              std::string::npos)
        << g.status() << "\nwanted: " << c.field;
  }
}

}  // namespace
}  // namespace rill

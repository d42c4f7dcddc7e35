// ONNX LSTM, GRU and RNN nodes whose sequence_lens is shorter than the
// sequence (a constant) or fed at run time import as models/rnn.h's
// unrolled, masked layer. The reference is the same node on the fused
// RecurrentLayer (checked against ONNX's node tests and PyTorch's exports)
// run on each batch row alone, cut to the row's length: Y must match it on
// the row's steps and be zero after them, Y_h and Y_c must match its. Real
// exports with packed sequences: torch_export_test.

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tensor.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "onnx/import.h"
#include "onnx/onnx.pb.h"
#include "runtime/executor.h"
#include "tests/graph/grad_check.h"
#include "tests/models/model_test_util.h"

namespace rill {
namespace {

constexpr int64_t kT = 4, kB = 3, kI = 3, kH = 2;
// For Model's steps and batch: the dim_params "T" and "B".
constexpr int64_t kSymbolicT = -2, kSymbolicB = -1;

struct Case {
  std::string name;
  std::string op;  // LSTM, GRU, RNN
  std::string direction;
  int layout = 0;
  bool initial = false;  // initial_h (and initial_c) fed
  int linear_before_reset = 0;
  std::string activation;  // RNN: "Relu", or empty for Tanh
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

int Gates(const Case& c) { return c.op == "LSTM" ? 4 : c.op == "GRU" ? 3 : 1; }
int Dirs(const Case& c) { return c.direction == "bidirectional" ? 2 : 1; }
bool Lstm(const Case& c) { return c.op == "LSTM"; }

// Deterministic values in about [-0.8, 0.8], different per tensor.
std::vector<double> Values(int64_t n, double seed) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.8 * std::sin(seed + 1.7 * i);
  return v;
}

Tensor MakeTensor(DType t, const Shape& shape, const std::vector<double>& v) {
  Tensor x = *Tensor::Allocate(t, shape);
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    if (t == DType::kF32) {
      x.data<float>()[i] = static_cast<float>(v[i]);
    } else {
      x.data<double>()[i] = v[i];
    }
  }
  return x;
}

// The state inputs' shape: [dirs, B, H], or [B, dirs, H] for layout 1.
std::vector<int64_t> StateDims(const Case& c, int64_t batch) {
  return c.layout ? std::vector<int64_t>{batch, Dirs(c), kH}
                  : std::vector<int64_t>{Dirs(c), batch, kH};
}

// The node of `c` over x of `steps` steps and `batch` rows (or kSymbolicT,
// kSymbolicB), its weights initialisers. `lens`: sequence_lens as an
// initialiser; nullopt with `fed_lens`: an input "lens"; else none. With
// `loss`, also loss = ReduceSum(Y * r) for an input r shaped as Y.
::onnx::ModelProto Model(const Case& c, DType dtype, int64_t steps,
                         int64_t batch,
                         std::optional<std::vector<int32_t>> lens,
                         bool fed_lens, bool loss = false) {
  const int elem = dtype == DType::kF32 ? ::onnx::TensorProto::FLOAT
                                        : ::onnx::TensorProto::DOUBLE;
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(14);
  auto* g = m.mutable_graph();
  auto input = [&](const std::string& name, int type,
                   const std::vector<int64_t>& dims) {
    auto* in = g->add_input();
    in->set_name(name);
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) {
      if (d < 0) {
        t->mutable_shape()->add_dim()->set_dim_param(d == kSymbolicT ? "T"
                                                                     : "B");
      } else {
        t->mutable_shape()->add_dim()->set_dim_value(d);
      }
    }
  };
  auto init = [&](const std::string& name, const std::vector<int64_t>& dims,
                  double seed) {
    auto* w = g->add_initializer();
    w->set_name(name);
    w->set_data_type(elem);
    int64_t n = 1;
    for (int64_t d : dims) {
      w->add_dims(d);
      n *= d;
    }
    for (double v : Values(n, seed)) {
      if (dtype == DType::kF32) {
        w->add_float_data(static_cast<float>(v));
      } else {
        w->add_double_data(v);
      }
    }
  };
  input("x", elem,
        c.layout ? std::vector<int64_t>{batch, steps, kI}
                 : std::vector<int64_t>{steps, batch, kI});
  const int64_t gh = Gates(c) * kH;
  init("W", {Dirs(c), gh, kI}, 0.1);
  init("R", {Dirs(c), gh, kH}, 0.7);
  init("B", {Dirs(c), 2 * gh}, 1.3);
  std::vector<std::string> ins = {"x", "W", "R", "B", ""};
  if (lens.has_value()) {
    auto* l = g->add_initializer();
    l->set_name("lens");
    l->set_data_type(::onnx::TensorProto::INT32);
    l->add_dims(lens->size());
    for (int32_t v : *lens) l->add_int32_data(v);
    ins[4] = "lens";
  } else if (fed_lens) {
    input("lens", ::onnx::TensorProto::INT32, {batch});
    ins[4] = "lens";
  }
  if (c.initial) {
    input("h0", elem, StateDims(c, batch));
    ins.push_back("h0");
    if (Lstm(c)) {
      input("c0", elem, StateDims(c, batch));
      ins.push_back("c0");
    }
  }
  auto* node = g->add_node();
  node->set_name("rnn");
  node->set_op_type(c.op);
  for (const auto& in : ins) node->add_input(in);
  for (const char* out : {"y", "y_h", "y_c"}) {
    if (std::string(out) != "y_c" || Lstm(c)) node->add_output(out);
  }
  auto attr = [&](const std::string& name) {
    auto* a = node->add_attribute();
    a->set_name(name);
    return a;
  };
  auto* hidden = attr("hidden_size");
  hidden->set_type(::onnx::AttributeProto::INT);
  hidden->set_i(kH);
  auto* dir = attr("direction");
  dir->set_type(::onnx::AttributeProto::STRING);
  dir->set_s(c.direction);
  auto* layout = attr("layout");
  layout->set_type(::onnx::AttributeProto::INT);
  layout->set_i(c.layout);
  if (c.op == "GRU") {
    auto* lbr = attr("linear_before_reset");
    lbr->set_type(::onnx::AttributeProto::INT);
    lbr->set_i(c.linear_before_reset);
  }
  if (!c.activation.empty()) {
    auto* acts = attr("activations");
    acts->set_type(::onnx::AttributeProto::STRINGS);
    for (int d = 0; d < Dirs(c); ++d) acts->add_strings(c.activation);
  }
  std::vector<std::string> outs = {"y", "y_h"};
  if (Lstm(c)) outs.push_back("y_c");
  if (loss) {
    input("r", elem,
          c.layout ? std::vector<int64_t>{batch, steps, Dirs(c), kH}
                   : std::vector<int64_t>{steps, Dirs(c), batch, kH});
    auto* mul = g->add_node();
    mul->set_op_type("Mul");
    mul->set_name("weighted");
    mul->add_input("y");
    mul->add_input("r");
    mul->add_output("weighted");
    auto* sum = g->add_node();
    sum->set_op_type("ReduceSum");
    sum->set_name("loss");
    sum->add_input("weighted");
    sum->add_output("loss");
    auto* keep = sum->add_attribute();
    keep->set_name("keepdims");
    keep->set_type(::onnx::AttributeProto::INT);
    keep->set_i(0);
    outs = {"loss"};
  }
  for (const auto& o : outs) g->add_output()->set_name(o);
  return m;
}

// Imports and loads `m`; `ops` counts the graph's op types.
std::unique_ptr<Executor> Load(const ::onnx::ModelProto& m,
                               std::map<std::string, int>* ops = nullptr) {
  absl::StatusOr<Graph> g = ImportOnnx(m);
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return nullptr;
  if (ops != nullptr) {
    for (const Node& n : g->node()) ++(*ops)[n.op()];
  }
  absl::StatusOr<ValidGraph> valid = ValidateGraph({*std::move(g), {}});
  EXPECT_TRUE(valid.ok()) << valid.status();
  if (!valid.ok()) return nullptr;
  auto exec = Executor::Create(*std::move(valid));
  EXPECT_TRUE(exec.ok()) << exec.status();
  return exec.ok() ? *std::move(exec) : nullptr;
}

// The feeds x, h0, c0 (as the case takes them) for `batch` rows.
std::map<std::string, Tensor> Feeds(const Case& c, int64_t batch) {
  std::map<std::string, Tensor> f;
  f["x"] = MakeTensor(
      DType::kF32, c.layout ? Shape({batch, kT, kI}) : Shape({kT, batch, kI}),
      Values(kT * batch * kI, 2.9));
  if (c.initial) {
    std::vector<int64_t> d = StateDims(c, batch);
    f["h0"] =
        MakeTensor(DType::kF32, Shape(d), Values(Dirs(c) * batch * kH, 4.1));
    if (Lstm(c)) {
      f["c0"] =
          MakeTensor(DType::kF32, Shape(d), Values(Dirs(c) * batch * kH, 5.3));
    }
  }
  return f;
}

// Row b of the feeds, x cut to its first `len` steps.
std::map<std::string, Tensor> Row(const Case& c,
                                  const std::map<std::string, Tensor>& all,
                                  int64_t b, int64_t len) {
  std::map<std::string, Tensor> f;
  std::vector<double> x;
  const float* src = all.at("x").data<float>();
  for (int64_t t = 0; t < len; ++t) {
    for (int64_t i = 0; i < kI; ++i) {
      x.push_back(src[(c.layout ? b * kT + t : t * kB + b) * kI + i]);
    }
  }
  f["x"] = MakeTensor(DType::kF32,
                      c.layout ? Shape({1, len, kI}) : Shape({len, 1, kI}), x);
  for (const char* s : {"h0", "c0"}) {
    if (!all.count(s)) continue;
    std::vector<double> v;
    for (int d = 0; d < Dirs(c); ++d) {
      for (int64_t h = 0; h < kH; ++h) {
        const int64_t k =
            c.layout ? (b * Dirs(c) + d) * kH + h : (d * kB + b) * kH + h;
        v.push_back(all.at(s).data<float>()[k]);
      }
    }
    f[s] = MakeTensor(DType::kF32, Shape(StateDims(c, 1)), v);
  }
  return f;
}

// Y's element (t, d, b, h) for `batch` rows and `steps` steps.
int64_t YIndex(const Case& c, int64_t steps, int64_t batch, int64_t t,
               int64_t d, int64_t b, int64_t h) {
  return c.layout ? ((b * steps + t) * Dirs(c) + d) * kH + h
                  : ((t * Dirs(c) + d) * batch + b) * kH + h;
}
// Y_h's and Y_c's element (d, b, h).
int64_t StateIndex(const Case& c, int64_t batch, int64_t d, int64_t b,
                   int64_t h) {
  return c.layout ? (b * Dirs(c) + d) * kH + h : (d * batch + b) * kH + h;
}

constexpr double kTol = 1e-5;

// Runs `exec` (the masked layer) at `lens` and compares each row with the
// fused layer on the row alone, cut to its length; a row of length 0 keeps
// its initial state and outputs zeros.
void ExpectRowsMatch(const Case& c, Executor& exec,
                     const std::vector<int32_t>& lens, bool fed_lens) {
  std::map<std::string, Tensor> feeds = Feeds(c, kB);
  if (fed_lens) {
    Tensor l = *Tensor::Allocate(DType::kI32, Shape({kB}));
    for (int64_t b = 0; b < kB; ++b) l.data<int32_t>()[b] = lens[b];
    feeds["lens"] = l;
  }
  std::vector<std::string> outs = {"y", "y_h"};
  if (Lstm(c)) outs.push_back("y_c");
  auto got = exec.Run(feeds, outs);
  ASSERT_TRUE(got.ok()) << got.status();
  for (int64_t b = 0; b < kB; ++b) {
    SCOPED_TRACE(absl::StrCat("row ", b, ", length ", lens[b]));
    const int64_t len = lens[b];
    std::vector<Tensor> want;
    if (len > 0) {
      std::map<std::string, int> ops;
      auto fused =
          Load(Model(c, DType::kF32, len, 1, std::nullopt, false), &ops);
      ASSERT_NE(fused, nullptr);
      EXPECT_EQ(ops["RecurrentLayer"], Dirs(c));
      auto w = fused->Run(Row(c, feeds, b, len), outs);
      ASSERT_TRUE(w.ok()) << w.status();
      want = *std::move(w);
    }
    const float* y = (*got)[0].data<float>();
    for (int64_t t = 0; t < kT; ++t) {
      for (int d = 0; d < Dirs(c); ++d) {
        for (int64_t h = 0; h < kH; ++h) {
          const float v = y[YIndex(c, kT, kB, t, d, b, h)];
          if (t >= len) {
            EXPECT_EQ(v, 0) << "padded step " << t;
          } else {
            EXPECT_NEAR(v, want[0].data<float>()[YIndex(c, len, 1, t, d, 0, h)],
                        kTol)
                << "Y at step " << t << ", direction " << d;
          }
        }
      }
    }
    for (size_t k = 1; k < outs.size(); ++k) {
      const char* init = k == 1 ? "h0" : "c0";
      for (int d = 0; d < Dirs(c); ++d) {
        for (int64_t h = 0; h < kH; ++h) {
          const float v = (*got)[k].data<float>()[StateIndex(c, kB, d, b, h)];
          double w = 0;
          if (len > 0) {
            w = want[k].data<float>()[StateIndex(c, 1, d, 0, h)];
          } else if (feeds.count(init)) {
            w = feeds[init].data<float>()[StateIndex(c, kB, d, b, h)];
          }
          EXPECT_NEAR(v, w, kTol) << outs[k] << ", direction " << d;
        }
      }
    }
  }
}

const Case kCases[] = {
    {"LstmForward", "LSTM", "forward", 0, true},
    {"LstmBidirectionalBatchwise", "LSTM", "bidirectional", 1, true},
    {"LstmReverse", "LSTM", "reverse", 0, false},
    {"SeedGruBidirectional", "GRU", "bidirectional", 0, true, 0},
    {"SeedGruReverseBatchwise", "GRU", "reverse", 1, false, 0},
    {"GruLinearBeforeResetBatchwise", "GRU", "forward", 1, true, 1},
    {"GruLinearBeforeResetBidirectional", "GRU", "bidirectional", 0, false, 1},
    {"RnnTanhBidirectional", "RNN", "bidirectional", 0, true},
    {"RnnReluReverseBatchwise", "RNN", "reverse", 1, true, 0, "Relu"},
};

class SequenceLensTest : public ::testing::TestWithParam<Case> {};

// Lengths fed at run time, the batch symbolic: one imported graph at two
// length vectors (one with a 0 and a whole-length row).
TEST_P(SequenceLensTest, FedLengthsMatchEachRowAlone) {
  const Case& c = GetParam();
  std::map<std::string, int> ops;
  auto exec =
      Load(Model(c, DType::kF32, kT, kSymbolicB, std::nullopt, true), &ops);
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(ops["RecurrentLayer"], 0);
  EXPECT_EQ(ops["PaddingMask"], Dirs(c));
  for (const std::vector<int32_t>& lens :
       {std::vector<int32_t>{4, 2, 0}, std::vector<int32_t>{1, 3, 4}}) {
    SCOPED_TRACE(
        absl::StrCat("lengths ", lens[0], ", ", lens[1], ", ", lens[2]));
    ExpectRowsMatch(c, *exec, lens, true);
  }
}

// Constant lengths shorter than the sequence; whole-length ones keep the
// fused layer.
TEST_P(SequenceLensTest, ConstantLengths) {
  const Case& c = GetParam();
  const std::vector<int32_t> lens = {3, 4, 1};
  auto exec = Load(Model(c, DType::kF32, kT, kB, lens, false));
  ASSERT_NE(exec, nullptr);
  ExpectRowsMatch(c, *exec, lens, false);
  std::map<std::string, int> ops;
  ASSERT_NE(
      Load(Model(c, DType::kF32, kT, kB, std::vector<int32_t>(kB, kT), false),
           &ops),
      nullptr);
  EXPECT_EQ(ops["RecurrentLayer"], Dirs(c));
  EXPECT_EQ(ops["PaddingMask"], 0);
}

INSTANTIATE_TEST_SUITE_P(Cells, SequenceLensTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// A length outside [0, T], a count of lengths other than the batch, or
// any sequence_lens with a symbolic number of steps (the masked layer is
// unrolled over T), is an error naming the node.
TEST(SequenceLensErrorTest, NamesTheNode) {
  const Case c = {"rnn", "RNN", "forward"};
  absl::StatusOr<Graph> g = ImportOnnx(
      Model(c, DType::kF32, kT, kB, std::vector<int32_t>{3, 5, 1}, false));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find(
                "node 'rnn' (RNN): sequence_lens[1] = 5 is outside [0, 4]"),
            std::string::npos)
      << g.status();
  g = ImportOnnx(
      Model(c, DType::kF32, kT, kB, std::vector<int32_t>{3, 2}, false));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("node 'rnn' (RNN): sequence_lens has 2 "
                                      "entries for a batch of 3"),
            std::string::npos)
      << g.status();
  for (bool fed : {true, false}) {
    std::optional<std::vector<int32_t>> lens;
    if (!fed) lens = std::vector<int32_t>{2, 2, 2};
    g = ImportOnnx(Model(c, DType::kF32, kSymbolicT, kB, lens, fed));
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find(
                  "node 'rnn' (RNN): sequence_lens with a symbolic sequence "
                  "length"),
              std::string::npos)
        << g.status();
  }
}

// loss(feeds with `name` moved by eps * v), run by `exec`.
double LossAt(Executor& exec, std::map<std::string, Tensor> feeds,
              const std::string& name, const std::vector<double>& v,
              double eps) {
  Tensor moved = *Tensor::Allocate(DType::kF64, feeds.at(name).shape());
  for (int64_t i = 0; i < moved.num_elements(); ++i) {
    moved.data<double>()[i] = feeds.at(name).data<double>()[i] + eps * v[i];
  }
  feeds[name] = moved;
  auto got = exec.Run(feeds, {"loss"});
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? (*got)[0].ElementAsDouble(0) : 0;
}

// The imported masked layer differentiates: the gradient of a loss over Y
// with respect to x, the initial states and the ONNX initialisers W, R and
// B, against the numerical derivative along one direction per tensor (the
// five-point difference), in f64. (Element by element, rnn_test checks
// the builder's own gradients.)
TEST(SequenceLensGradTest, MatchesNumericalDerivatives) {
  for (const Case& c : {Case{"lstm", "LSTM", "bidirectional", 1, true},
                        Case{"seed_gru", "GRU", "bidirectional", 0, true, 0},
                        Case{"rnn", "RNN", "reverse", 0, true}}) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Graph> g = ImportOnnx(
        Model(c, DType::kF64, kT, kSymbolicB, std::nullopt, true, true));
    ASSERT_TRUE(g.ok()) << g.status();
    std::map<std::string, Tensor> feeds = ParametersToInputs(&*g);
    ASSERT_EQ(feeds.size(), 3u);
    std::vector<std::string> wrt = {"W", "R", "B"};
    for (const auto& [name, t] : Feeds(c, kB)) {
      feeds[name] = ConvertFloat(t, DType::kF64);
      wrt.push_back(name);
    }
    Tensor lens = *Tensor::Allocate(DType::kI32, Shape({kB}));
    const int32_t v[] = {4, 1, 2};
    std::copy(v, v + kB, lens.data<int32_t>());
    feeds["lens"] = lens;
    const int64_t y = kT * Dirs(c) * kB * kH;
    feeds["r"] = MakeTensor(
        DType::kF64,
        c.layout ? Shape({kB, kT, Dirs(c), kH}) : Shape({kT, Dirs(c), kB, kH}),
        Values(y, 6.7));
    auto analytic =
        AnalyticGradients(*g, "loss", wrt, feeds, Backend::kReference);
    ASSERT_TRUE(analytic.ok()) << analytic.status();
    auto valid = ValidateGraph({*g, {}});
    ASSERT_TRUE(valid.ok()) << valid.status();
    auto exec = Executor::Create(*std::move(valid), {Backend::kReference});
    ASSERT_TRUE(exec.ok()) << exec.status();
    for (size_t k = 0; k < wrt.size(); ++k) {
      const Tensor& grad = (*analytic)[k];
      const std::vector<double> dir = Values(grad.num_elements(), 8.3 + k);
      double along = 0;
      for (int64_t i = 0; i < grad.num_elements(); ++i) {
        along += grad.ElementAsDouble(i) * dir[i];
      }
      const double h = 1e-3;
      auto f = [&](double eps) {
        return LossAt(**exec, feeds, wrt[k], dir, eps);
      };
      const double numeric =
          (f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h);
      EXPECT_NEAR(along, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << wrt[k];
      EXPECT_GT(std::abs(along), 1e-3) << wrt[k] << ": no gradient";
    }
  }
}

}  // namespace
}  // namespace rill

// rill's LSTM kernels on matmul primitives (ops/recurrent_lstm_matmul.h)
// against oneDNN's LSTM primitives (ops/recurrent_onednn.cc, themselves
// checked against the unrolled layer by
// tests/models/recurrent_layer_parity_test): with f32 operands every output
// and gradient agrees to f32 rounding, forward and reverse, with the
// gradient kernel sharing the forward kernel's pass and without; with bf16
// operands they agree to bf16 rounding. The kernels are made directly, as
// the executor would make them, because the executor picks them only for
// bf16.

#include "ops/recurrent_lstm_matmul.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ops/kernel_links.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "tests/ops/op_test_util.h"

namespace rill {
namespace {

using Dt = dnnl::memory::data_type;

struct Dims {
  int64_t t, b, i, h;
  bool reverse;
};

// The inputs of RecurrentLayerGrad, in its order: x, h0, weight_ih,
// weight_hh, bias_ih, bias_hh, dy, dhn, c0, dcn.
const char* const kGradInputs[] = {"x",    "h0", "w_ih", "w_hh", "b_ih",
                                   "b_hh", "dy", "dhn",  "c0",   "dcn"};

std::vector<Tensor> RandomInputs(const Dims& d, uint32_t seed) {
  const int64_t g = 4 * d.h;
  const std::vector<Shape> shapes = {
      {d.t, d.b, d.i}, {d.b, d.h}, {g, d.i},   {g, d.h},  {g}, {g},
      {d.t, d.b, d.h}, {d.b, d.h}, {d.b, d.h}, {d.b, d.h}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<Tensor> in;
  for (const Shape& s : shapes) {
    Tensor t = *Tensor::Allocate(DType::kF32, s);
    for (int64_t k = 0; k < t.num_elements(); ++k)
      t.data<float>()[k] = dist(rng);
    in.push_back(t);
  }
  return in;
}

// Overwrites `to` with `from`'s values, keeping `to`'s buffers (the
// kernels hold them).
void Assign(const std::vector<Tensor>& from, std::vector<Tensor>& to) {
  for (size_t k = 0; k < to.size(); ++k) {
    std::memcpy(to[k].raw_data(), from[k].raw_data(), to[k].byte_size());
  }
}

std::vector<Tensor> Allocate(const std::vector<Shape>& shapes) {
  std::vector<Tensor> t;
  for (const Shape& s : shapes) t.push_back(*Tensor::Allocate(DType::kF32, s));
  return t;
}

// One layer's two nodes and their kernels, made by `make_fwd` and
// `make_grad` (nullptr: that node's kernel is not made); with `link`, in
// one plan's KernelLinks, so that the gradient kernel may share the
// forward's pass.
struct Layer {
  using Factory = std::function<absl::StatusOr<std::unique_ptr<OpKernel>>(
      const KernelArgs&)>;

  Layer(const Dims& d, bool link) {
    fwd_node.set_name("y");
    fwd_node.set_op("RecurrentLayer");
    grad_node.set_name("grad");
    grad_node.set_op("RecurrentLayerGrad");
    for (int k : {0, 1, 2, 3, 4, 5, 8}) fwd_node.add_input(kGradInputs[k]);
    for (const char* in : kGradInputs) grad_node.add_input(in);
    for (Node* n : {&fwd_node, &grad_node}) {
      (*n->mutable_attr())["cell"].set_s("lstm");
      (*n->mutable_attr())["reverse"].set_b(d.reverse);
    }
    (*grad_node.mutable_attr())["forward"].set_s("y");
    in = RandomInputs(d, 0);
    const int64_t g = 4 * d.h;
    fwd_out = Allocate({{d.t, d.b, d.h}, {d.b, d.h}, {d.b, d.h}});
    grad_out = Allocate({{d.t, d.b, d.i},
                         {d.b, d.h},
                         {g, d.i},
                         {g, d.h},
                         {g},
                         {g},
                         {d.b, d.h}});
    links = link ? std::make_unique<KernelLinks>() : nullptr;
  }

  void Make(const Factory& make_fwd, const Factory& make_grad) {
    const OpRegistry& r = GlobalOpRegistry();
    if (make_fwd) {
      Attrs attrs(fwd_node, r.Find("RecurrentLayer")->attrs());
      std::vector<Tensor> fwd_in;
      for (int k : {0, 1, 2, 3, 4, 5, 8}) fwd_in.push_back(in[k]);
      KernelArgs a{fwd_node, attrs, fwd_in, fwd_out, &ctx};
      a.links = links.get();
      fwd = *make_fwd(a);
    }
    if (make_grad) {
      Attrs attrs(grad_node, r.Find("RecurrentLayerGrad")->attrs());
      KernelArgs a{grad_node, attrs, in, grad_out, &ctx};
      a.links = links.get();
      grad = *make_grad(a);
    }
  }

  // Runs the kernels made, on new input values of `seed`; returns y, hn,
  // cn, then the gradient node's outputs.
  std::vector<Tensor> Run(const Dims& d, uint32_t seed) {
    Assign(RandomInputs(d, seed), in);
    if (fwd) {
      EXPECT_TRUE(fwd->Compute().ok());
    }
    if (grad) {
      EXPECT_TRUE(grad->Compute().ok());
    }
    std::vector<Tensor> out = fwd_out;
    out.insert(out.end(), grad_out.begin(), grad_out.end());
    return out;
  }

  Node fwd_node, grad_node;
  OneDnnContext ctx;
  std::unique_ptr<KernelLinks> links;
  std::vector<Tensor> in, fwd_out, grad_out;
  std::unique_ptr<OpKernel> fwd, grad;
};

const char* const kOutputs[] = {"y",     "hn",    "cn",    "dx",    "dh0",
                                "dw_ih", "dw_hh", "db_ih", "db_hh", "dc0"};

Layer::Factory OneDnn(const char* op) {
  return GlobalOpRegistry().Find(op)->onednn();
}

Layer::Factory Matmul(bool grad, Dt operands) {
  return [grad, operands](const KernelArgs& a) {
    return grad ? MakeLstmMatmulLayerGrad(a, operands)
                : MakeLstmMatmulLayer(a, operands);
  };
}

// oneDNN's outputs and gradients for `d` on inputs of `seed`, shared pass.
std::vector<Tensor> OneDnnResults(const Dims& d, uint32_t seed) {
  Layer want(d, true);
  want.Make(OneDnn("RecurrentLayer"), OneDnn("RecurrentLayerGrad"));
  EXPECT_EQ(want.links->bound(), 1);
  return want.Run(d, seed);
}

// The largest normwise relative error of `got` against `want`, over the
// outputs of `from` to `to`.
double Worst(const std::vector<Tensor>& got, const std::vector<Tensor>& want,
             size_t from, size_t to, double bound) {
  double worst = 0;
  for (size_t k = from; k < to; ++k) {
    const double e = NormwiseRelativeError(got[k], want[k]);
    EXPECT_LT(e, bound) << kOutputs[k];
    worst = std::max(worst, e);
  }
  return worst;
}

class LstmMatmul : public testing::TestWithParam<Dims> {};

// Shared pass, the gradient kernel alone, and the forward kernel alone,
// each run twice on other values (weights are re-read on every run).
TEST_P(LstmMatmul, F32AgreesWithOneDnn) {
  const Dims& d = GetParam();
  Layer shared(d, true), grad_alone(d, false), fwd_alone(d, false);
  shared.Make(Matmul(false, Dt::f32), Matmul(true, Dt::f32));
  EXPECT_EQ(shared.links->bound(), 1);
  grad_alone.Make(nullptr, Matmul(true, Dt::f32));
  fwd_alone.Make(Matmul(false, Dt::f32), nullptr);
  for (uint32_t seed : {1u, 2u}) {
    const std::vector<Tensor> want = OneDnnResults(d, seed);
    const double e = Worst(shared.Run(d, seed), want, 0, 10, 1e-5);
    Worst(grad_alone.Run(d, seed), want, 3, 10, 1e-5);
    Worst(fwd_alone.Run(d, seed), want, 0, 3, 1e-5);
    std::printf("T%lld B%lld I%lld H%lld%s seed %u: worst %.3g\n",
                static_cast<long long>(d.t), static_cast<long long>(d.b),
                static_cast<long long>(d.i), static_cast<long long>(d.h),
                d.reverse ? " reverse" : "", seed, e);
  }
}

// bf16 operands: within bf16's rounding of oneDNN's f32 (the bound of
// tests/models/recurrent_layer_parity_test), and not f32's own error.
TEST_P(LstmMatmul, Bf16NearOneDnnF32) {
  if (!CpuRunsBf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const Dims& d = GetParam();
  Layer got(d, true);
  got.Make(Matmul(false, Dt::bf16), Matmul(true, Dt::bf16));
  const std::vector<Tensor> want = OneDnnResults(d, 1);
  const std::vector<Tensor> out = got.Run(d, 1);
  const double e = Worst(out, want, 0, 10, 3e-2);
  EXPECT_GT(e, 1e-4);
  std::printf("bf16 worst %.3g\n", e);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LstmMatmul,
    testing::Values(Dims{5, 3, 4, 6, false}, Dims{5, 3, 4, 6, true},
                    Dims{1, 1, 3, 2, false}, Dims{1, 4, 7, 5, true},
                    Dims{6, 1, 5, 8, false}, Dims{4, 1, 2, 3, true},
                    Dims{12, 16, 40, 32, false}, Dims{9, 8, 24, 48, true}));

}  // namespace
}  // namespace rill

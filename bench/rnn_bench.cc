// One training step of a recurrent layer (issue 6), rill's graph against
// oneDNN's RNN primitives called directly in the same binary (the
// anchor). f32, input x [T, B, I] time-major, zero initial states, loss =
// sum of the layer's output sequence. The cases:
//   lstm     LSTM, T=100 B=32 I=128 H=256
//   gru      GRU, PyTorch's variant (oneDNN's lbr_gru), the same shape
//   bilstm   bidirectional LSTM, outputs concatenated, the same shape
//   lstm512  LSTM, T=50 B=64 I=H=512
//
// rill: the gradient graph of loss = ReduceSum(AddRecurrentLayer(x)), which
// computes the loss and the gradients of x and of every weight and bias,
// run on the oneDNN backend through a PreparedRun: fused (the pass of
// graph/fuse_recurrent.h, a RecurrentLayer and its RecurrentLayerGrad per
// direction, sharing one forward_training run), and beside it unrolled
// into primitive ops as --no-fuse runs it.
//
// oneDNN: lstm_forward / lbr_gru_forward with forward_training, then
// lstm_backward / lbr_gru_backward with the forward's workspace and
// diff_dst = ones (the gradient of the sum). oneDNN picks the weight
// layouts (format_tag::any). A training loop keeps its weights in the
// forward's layout and updates them every step, so each step reorders them
// into the backward's layout when the two differ; those reorders are timed
// as part of the anchor's step. The backward adds its weight gradients to
// what diff_weights holds, so each step also zeroes them first, as a
// training loop must; that is timed too. No other reorder is needed: the
// diff weights come out in the forward's layout, where the update is done.
//
// Before timing, the anchor gets rill's x and initial weights (PyTorch's
// layout, gates permuted for the GRU) and the two steps are checked against
// each other, after the anchor has run twice: the loss and the gradients of
// x and of every weight and bias, to a relative error (the largest absolute
// difference over the largest magnitude, per tensor and gate) of 1e-4; the
// worst is printed as `check`.
//
// Timing: after warm-up, each figure is the median of single timed steps.
// FLOPs count only the input and recurrent matmuls: forward, 2*B*(I+H)*G*H
// per step per direction (G gates: 4 for LSTM, 3 for GRU), times T steps
// and D directions; backward twice that (the gradients of the weights and
// of the inputs), so a step is 3x the forward. Gate activations, element-
// wise products and bias adds are left out, so the figure errs low.
//
//   bazel run -c opt //bench:rnn_bench [-- --steps=N] [--case=NAME]
//       [--breakdown]
// Targets (issue 6): ratio = rill_ms / onednn_ms at most 1.10 for the
// fused path; the unrolled path within 3x of the anchor.
//
// On a CPU with native bf16 each case also times the fused step with
// mixed precision (ExecutorOptions::precision: bf16 data and weights, f32
// bias, LSTM cell state and gradients; the LSTM on rill's own kernels,
// ops/recurrent_lstm_matmul.h) and prints its speed-up over f32
// and how far its gradients move from f32's.
//
// --breakdown times every kernel of rill's step alone (PrintBreakdown,
// bench/bench_util.h) and sums them by op type. Alone, a RecurrentLayerGrad
// has no forward kernel to share with and recomputes the forward, so its
// figure there includes a forward pass that the step does not run.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "core/onednn_context.h"
#include "core/threads.h"
#include "graph/autodiff.h"
#include "graph/fuse_recurrent.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"
#include "models/rnn.h"
#include "ops/kernel_util.h"
#include "ops/onednn_rnn.h"
#include "runtime/executor.h"

namespace rill {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

struct Case {
  const char* name;
  const char* label;
  RecurrentCell cell;
  bool bidirectional;
  int64_t t, b, i, h;
};

constexpr Case kCases[] = {
    {"lstm", "LSTM", RecurrentCell::kLstm, false, 100, 32, 128, 256},
    {"gru", "GRU (lbr)", RecurrentCell::kGruPyTorch, false, 100, 32, 128, 256},
    {"bilstm", "BiLSTM concat", RecurrentCell::kLstm, true, 100, 32, 128, 256},
    {"lstm512", "LSTM", RecurrentCell::kLstm, false, 50, 64, 512, 512},
};

bool IsLstm(const Case& c) { return c.cell == RecurrentCell::kLstm; }
int64_t Directions(const Case& c) { return c.bidirectional ? 2 : 1; }
int64_t Gates(const Case& c) { return GateCount(c.cell); }
// The primitive family, whose gate layout ops/onednn_rnn.h converts to.
OneDnnRnnCell DnnlCell(const Case& c) {
  return IsLstm(c) ? OneDnnRnnCell::kLstm : OneDnnRnnCell::kLbrGru;
}
int64_t BiasGates(const Case& c) { return OneDnnRnnBiasGates(DnnlCell(c)); }

// Matmul FLOPs of the forward pass, per the header comment.
double ForwardFlops(const Case& c) {
  return 2.0 * c.b * (c.i + c.h) * Gates(c) * c.h * c.t * Directions(c);
}

std::string Suffix(int64_t d) { return d == 0 ? "" : "_reverse"; }

// rill's step: the gradient graph of the case, its executor and the
// prepared run of loss + every gradient.
struct RillStep {
  GradientGraph grad;
  std::vector<std::string> fetches;
  Tensor x;  // The value fed.
  std::unique_ptr<Executor> ex;
  std::optional<PreparedRun> run;
};

// `fuse`: through the fusion pass (graph/fuse_recurrent.h), so that the
// layer it recognises runs on RecurrentLayer(Grad); otherwise the unrolled
// primitive graph. `precision`: ExecutorOptions::precision.
absl::StatusOr<std::unique_ptr<RillStep>> MakeRillStep(
    const Case& c, bool fuse, Precision precision = Precision::kF32) {
  Graph g;
  AddInputNode(&g, "x", DType::kF32, {c.t, c.b, c.i});
  RecurrentLayerOptions o;
  o.cell = c.cell;
  o.prefix = "rnn";
  o.steps = c.t;
  o.input_size = c.i;
  o.hidden_size = c.h;
  o.seed = 1;
  o.bidirectional = c.bidirectional;
  o.merge = RecurrentMerge::kConcat;
  ASSIGN_OR_RETURN(RecurrentLayer layer, AddRecurrentLayer("x", o, &g));
  AddNode(&g, "loss", "ReduceSum", {layer.output});
  if (fuse) RETURN_IF_ERROR(FuseRecurrentLayers(&g).status());
  ASSIGN_OR_RETURN(ValidGraph forward, ValidateGraph({std::move(g), {}}));
  GradientRequest request;
  request.losses = {"loss"};
  request.wrt = {"x"};
  request.wrt_params = true;
  auto step = std::make_unique<RillStep>();
  ASSIGN_OR_RETURN(step->grad, BuildGradientGraph(std::move(forward), request));
  step->fetches = {"loss"};
  step->fetches.insert(step->fetches.end(), step->grad.gradients.begin(),
                       step->grad.gradients.end());
  ExecutorOptions options;
  options.precision = precision;
  ASSIGN_OR_RETURN(step->ex, Executor::Create(step->grad.graph, options));
  ASSIGN_OR_RETURN(step->x,
                   Tensor::Allocate(DType::kF32, Shape{c.t, c.b, c.i}));
  FillUniform(step->x, 1);
  ASSIGN_OR_RETURN(PreparedRun run,
                   step->ex->Prepare({{"x", step->x}}, step->fetches));
  step->run = run;
  return step;
}

// The fetched tensor of `wrt`'s gradient (or of the loss).
absl::StatusOr<const Tensor*> Fetched(const RillStep& s,
                                      const std::string& wrt) {
  if (wrt == "loss") return &s.run->outputs()[0];
  for (size_t k = 0; k < s.grad.wrt.size(); ++k) {
    if (s.grad.wrt[k] == wrt) return &s.run->outputs()[k + 1];
  }
  return absl::NotFoundError(absl::StrCat("no gradient of ", wrt));
}

// The anchor: one training step through oneDNN's RNN primitives.
class OneDnnStep {
 public:
  // Builds the primitives for `c` and loads rill's initial weights and x.
  static absl::StatusOr<std::unique_ptr<OneDnnStep>> Create(
      const Case& c, const RillStep& rill);
  // Forward, weight reorders, zeroed diff weights, backward; waits.
  absl::Status Run();
  // The largest relative error of the loss and gradients against rill's.
  absl::StatusOr<double> Compare(const RillStep& rill);
  // What the step does besides the two primitives.
  std::string Extras() const;

 private:
  explicit OneDnnStep(const Case& c) : c_(c) {}
  void Build(const RillStep& rill);
  // Writes W_ih or W_hh (PyTorch's [G*H, K] per direction) of rill into an
  // ldgoi buffer in oneDNN's gate order.
  std::vector<float> WeightsFromRill(const RillStep& rill, bool hh) const;

  const Case c_;
  OneDnnContext ctx_;
  dnnl::primitive fwd_, bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
  // Forward layout -> backward layout, each step, where they differ.
  std::vector<std::pair<dnnl::reorder, std::pair<memory, memory>>> reorders_;
  std::vector<memory> zeroed_;  // Gradients zeroed before each backward.
  memory diff_weights_layer_, diff_weights_iter_, diff_bias_, diff_src_,
      dst_layer_;
};

std::vector<float> OneDnnStep::WeightsFromRill(const RillStep& rill,
                                               bool hh) const {
  const int64_t g = Gates(c_), h = c_.h, k = hh ? c_.h : c_.i;
  std::vector<float> out(Directions(c_) * g * h * k);
  for (int64_t d = 0; d < Directions(c_); ++d) {
    const Tensor* w = rill.ex->mutable_value(
        absl::StrCat("rnn/weight_", hh ? "hh" : "ih", Suffix(d)));
    PyTorchToOneDnnWeights(DnnlCell(c_), w->data<float>(), h, k,
                           &out[d * g * h * k]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<OneDnnStep>> OneDnnStep::Create(
    const Case& c, const RillStep& rill) {
  std::unique_ptr<OneDnnStep> s(new OneDnnStep(c));
  try {
    s->Build(rill);
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN RNN: ", e.what()));
  }
  return s;
}

void OneDnnStep::Build(const RillStep& rill) {
  const auto f32 = memory::data_type::f32;
  const dnnl::engine& eng = ctx_.engine;
  const int64_t d = Directions(c_), g = Gates(c_), h = c_.h;
  const memory::dims src_dims = {c_.t, c_.b, c_.i};
  const memory::dims dst_dims = {c_.t, c_.b, d * h};
  const memory::dims wl_dims = {1, d, c_.i, g, h};
  const memory::dims wi_dims = {1, d, h, g, h};
  const memory::dims bias_dims = {1, d, BiasGates(c_), h};
  const memory::desc src_md(src_dims, f32, Tag::tnc);
  const memory::desc dst_md(dst_dims, f32, Tag::tnc);
  const memory::desc wl_any(wl_dims, f32, Tag::any);
  const memory::desc wi_any(wi_dims, f32, Tag::any);
  const memory::desc bias_md(bias_dims, f32, Tag::ldgo);
  // The initial states, zeros, are passed explicitly: with none (which
  // oneDNN documents as zeros) Debian's 2.6.3 gets diff_weights_iter wrong
  // (nonzero at T = 1, where h_{-1} = 0 makes it zero; seen with LSTM),
  // while the other gradients agree with rill's. So the backward also
  // computes their gradients (B*H values each), which rill's step does not.
  const memory::desc state_md({1, d, c_.b, h}, f32, Tag::ldnc);
  const memory::desc none;  // The final states are not used.
  const auto prop = dnnl::prop_kind::forward_training;
  const auto dir = c_.bidirectional
                       ? dnnl::rnn_direction::bidirectional_concat
                       : dnnl::rnn_direction::unidirectional_left2right;

  dnnl::rnn_primitive_desc_base fwd_pd, bwd_pd;
  if (IsLstm(c_)) {
    dnnl::lstm_forward::primitive_desc f(
        dnnl::lstm_forward::desc(prop, dir, src_md, state_md, state_md, wl_any,
                                 wi_any, bias_md, dst_md, none, none),
        eng);
    dnnl::lstm_backward::primitive_desc b(
        dnnl::lstm_backward::desc(
            dnnl::prop_kind::backward, dir, src_md, state_md, state_md, wl_any,
            wi_any, bias_md, dst_md, none, none, src_md, state_md, state_md,
            wl_any, wi_any, bias_md, dst_md, none, none),
        eng, f);
    fwd_ = dnnl::lstm_forward(f);
    bwd_ = dnnl::lstm_backward(b);
    fwd_pd = f;
    bwd_pd = b;
  } else {
    dnnl::lbr_gru_forward::primitive_desc f(
        dnnl::lbr_gru_forward::desc(prop, dir, src_md, state_md, wl_any, wi_any,
                                    bias_md, dst_md, none),
        eng);
    dnnl::lbr_gru_backward::primitive_desc b(
        dnnl::lbr_gru_backward::desc(dnnl::prop_kind::backward, dir, src_md,
                                     state_md, wl_any, wi_any, bias_md, dst_md,
                                     none, src_md, state_md, wl_any, wi_any,
                                     bias_md, dst_md, none),
        eng, f);
    fwd_ = dnnl::lbr_gru_forward(f);
    bwd_ = dnnl::lbr_gru_backward(b);
    fwd_pd = f;
    bwd_pd = b;
  }

  // Inputs: rill's x and initial weights.
  memory src(src_md, eng);
  std::memcpy(src.get_data_handle(), rill.x.raw_data(), src_md.get_size());
  memory zeros(state_md, eng);
  std::memset(zeros.get_data_handle(), 0, state_md.get_size());
  auto load = [&](const memory::desc& want, const memory::dims& dims,
                  std::vector<float> values, Tag tag) {
    memory user({dims, f32, tag}, eng, values.data());
    memory m(want, eng);
    dnnl::reorder(user, m).execute(ctx_.stream, user, m);
    ctx_.stream.wait();
    return m;
  };
  memory wl = load(fwd_pd.weights_layer_desc(), wl_dims,
                   WeightsFromRill(rill, false), Tag::ldgoi);
  memory wi = load(fwd_pd.weights_iter_desc(), wi_dims,
                   WeightsFromRill(rill, true), Tag::ldgoi);
  std::vector<float> bias(d * bias_dims[2] * h, 0.f);
  for (int64_t dir_k = 0; dir_k < d; ++dir_k) {
    auto value = [&](const char* name) {
      return rill.ex->mutable_value(absl::StrCat(name, Suffix(dir_k)))
          ->data<float>();
    };
    PyTorchToOneDnnBias(DnnlCell(c_), value("rnn/bias_ih"),
                        value("rnn/bias_hh"), h,
                        &bias[dir_k * bias_dims[2] * h]);
  }
  memory bias_mem = load(bias_md, bias_dims, bias, Tag::ldgo);

  dst_layer_ = memory(fwd_pd.dst_layer_desc(), eng);
  memory workspace(fwd_pd.workspace_desc(), eng);
  fwd_args_ = {{DNNL_ARG_SRC_LAYER, src},      {DNNL_ARG_SRC_ITER, zeros},
               {DNNL_ARG_WEIGHTS_LAYER, wl},   {DNNL_ARG_WEIGHTS_ITER, wi},
               {DNNL_ARG_BIAS, bias_mem},      {DNNL_ARG_DST_LAYER, dst_layer_},
               {DNNL_ARG_WORKSPACE, workspace}};
  if (IsLstm(c_)) fwd_args_[DNNL_ARG_SRC_ITER_C] = zeros;

  // The backward's weights: the forward's memory, or a copy in the
  // backward's layout refreshed each step.
  auto for_backward = [&](const memory& fwd_mem, const memory::desc& want) {
    if (fwd_mem.get_desc() == want) return fwd_mem;
    memory m(want, eng);
    reorders_.push_back({dnnl::reorder(fwd_mem, m), {fwd_mem, m}});
    return m;
  };
  memory bwd_wl = for_backward(wl, bwd_pd.weights_layer_desc());
  memory bwd_wi = for_backward(wi, bwd_pd.weights_iter_desc());
  memory bwd_bias = for_backward(bias_mem, bwd_pd.bias_desc());
  diff_src_ = memory(bwd_pd.diff_src_layer_desc(), eng);
  diff_weights_layer_ = memory(bwd_pd.diff_weights_layer_desc(), eng);
  diff_weights_iter_ = memory(bwd_pd.diff_weights_iter_desc(), eng);
  diff_bias_ = memory(bwd_pd.diff_bias_desc(), eng);
  zeroed_ = {diff_weights_layer_, diff_weights_iter_, diff_bias_};
  memory diff_dst(bwd_pd.diff_dst_layer_desc(), eng);
  std::fill_n(static_cast<float*>(diff_dst.get_data_handle()),
              diff_dst.get_desc().get_size() / sizeof(float), 1.f);
  bwd_args_ = {{DNNL_ARG_SRC_LAYER, src},
               {DNNL_ARG_WEIGHTS_LAYER, bwd_wl},
               {DNNL_ARG_WEIGHTS_ITER, bwd_wi},
               {DNNL_ARG_BIAS, bwd_bias},
               {DNNL_ARG_DST_LAYER, dst_layer_},
               {DNNL_ARG_WORKSPACE, workspace},
               {DNNL_ARG_DIFF_SRC_LAYER, diff_src_},
               {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_weights_layer_},
               {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_weights_iter_},
               {DNNL_ARG_DIFF_BIAS, diff_bias_},
               {DNNL_ARG_DIFF_DST_LAYER, diff_dst},
               {DNNL_ARG_SRC_ITER, zeros},
               {DNNL_ARG_DIFF_SRC_ITER, memory(state_md, eng)}};
  if (IsLstm(c_)) {
    bwd_args_[DNNL_ARG_SRC_ITER_C] = zeros;
    bwd_args_[DNNL_ARG_DIFF_SRC_ITER_C] = memory(state_md, eng);
  }
}

absl::Status OneDnnStep::Run() {
  try {
    fwd_.execute(ctx_.stream, fwd_args_);
    for (auto& [reorder, mems] : reorders_) {
      reorder.execute(ctx_.stream, mems.first, mems.second);
    }
    for (memory& m : zeroed_) {
      std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
    }
    bwd_.execute(ctx_.stream, bwd_args_);
    ctx_.stream.wait();
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN RNN: ", e.what()));
  }
  return absl::OkStatus();
}

std::string OneDnnStep::Extras() const {
  return absl::StrCat(reorders_.size(), " weight reorders + ", zeroed_.size(),
                      " zeroed gradients");
}

// Largest |a - b| over the largest |b|, of n values.
double RelativeError(const float* a, const float* b, int64_t n) {
  double diff = 0, scale = 0;
  for (int64_t k = 0; k < n; ++k) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[k]) - b[k]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[k])));
  }
  return scale > 0 ? diff / scale : diff;
}

absl::StatusOr<double> OneDnnStep::Compare(const RillStep& rill) {
  const auto f32 = memory::data_type::f32;
  const int64_t d = Directions(c_), g = Gates(c_), h = c_.h;
  double worst = 0;
  // The loss: the sum of the output sequence.
  {
    const float* y = static_cast<const float*>(dst_layer_.get_data_handle());
    double sum = 0;
    for (int64_t k = 0; k < c_.t * c_.b * d * h; ++k) sum += y[k];
    const float loss = static_cast<float>(sum);
    ASSIGN_OR_RETURN(const Tensor* want, Fetched(rill, "loss"));
    worst = std::max(worst, RelativeError(&loss, want->data<float>(), 1));
  }
  ASSIGN_OR_RETURN(const Tensor* dx, Fetched(rill, "x"));
  worst = std::max(
      worst,
      RelativeError(static_cast<const float*>(diff_src_.get_data_handle()),
                    dx->data<float>(), dx->num_elements()));
  // Weight gradients, read back in ldgoi (PyTorch's layout per direction).
  for (bool hh : {false, true}) {
    const int64_t k = hh ? h : c_.i;
    std::vector<float> got(d * g * h * k);
    try {
      memory& from = hh ? diff_weights_iter_ : diff_weights_layer_;
      memory user({{1, d, k, g, h}, f32, Tag::ldgoi}, ctx_.engine, got.data());
      dnnl::reorder(from, user).execute(ctx_.stream, from, user);
      ctx_.stream.wait();
    } catch (const dnnl::error& e) {
      return absl::InternalError(absl::StrCat("oneDNN reorder: ", e.what()));
    }
    for (int64_t dir_k = 0; dir_k < d; ++dir_k) {
      ASSIGN_OR_RETURN(
          const Tensor* want,
          Fetched(rill, absl::StrCat("rnn/weight_", hh ? "hh" : "ih",
                                     Suffix(dir_k))));
      std::vector<float> mine(g * h * k);
      OneDnnToPyTorchWeights(DnnlCell(c_), &got[dir_k * g * h * k], h, k,
                             mine.data());
      for (int64_t p = 0; p < g; ++p) {
        worst = std::max(worst,
                         RelativeError(&mine[p * h * k],
                                       want->data<float>() + p * h * k, h * k));
      }
    }
  }
  // Bias gradients: oneDNN's one bias of a gate stands for both of rill's.
  const float* diff_bias =
      static_cast<const float*>(diff_bias_.get_data_handle());
  for (bool hh : {false, true}) {
    for (int64_t dir_k = 0; dir_k < d; ++dir_k) {
      ASSIGN_OR_RETURN(const Tensor* want,
                       Fetched(rill, absl::StrCat("rnn/bias_", hh ? "hh" : "ih",
                                                  Suffix(dir_k))));
      std::vector<float> mine(g * h);
      OneDnnToPyTorchBias(DnnlCell(c_), &diff_bias[dir_k * BiasGates(c_) * h],
                          hh, h, mine.data());
      for (int64_t p = 0; p < g; ++p) {
        worst = std::max(
            worst, RelativeError(&mine[p * h], want->data<float>() + p * h, h));
      }
    }
  }
  return worst;
}

// The largest difference between two steps' gradients, relative to the
// largest magnitude of each.
absl::StatusOr<double> GradientDifference(const RillStep& a,
                                          const RillStep& b) {
  double worst = 0;
  for (const std::string& wrt : a.grad.wrt) {
    ASSIGN_OR_RETURN(const Tensor* x, Fetched(a, wrt));
    ASSIGN_OR_RETURN(const Tensor* y, Fetched(b, wrt));
    double diff = 0, scale = 0;
    for (int64_t k = 0; k < x->num_elements(); ++k) {
      const double u = x->data<float>()[k], v = y->data<float>()[k];
      diff = std::max(diff, std::abs(u - v));
      scale = std::max(scale, std::abs(u));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

// The fused step with mixed precision (bf16 data and weights, f32
// gradients) beside the f32 one, the two taking turns step by step so that
// their ratio survives a noisy machine: the speed-up and how far it moves
// the gradients.
absl::Status RunBf16(const Case& c, int steps, RillStep& f32) {
  ASSIGN_OR_RETURN(std::unique_ptr<RillStep> bf16,
                   MakeRillStep(c, true, Precision::kBf16));
  ASSIGN_OR_RETURN(std::vector<Timing> t,
                   TimeInTurns(3, steps,
                               {[&] { return f32.run->Run(); },
                                [&] { return bf16->run->Run(); }}));
  ASSIGN_OR_RETURN(const double diff, GradientDifference(f32, *bf16));
  std::printf(
      "         bf16: %.2f ms against f32's %.2f ms taking turns (%d kernels "
      "on bf16), speed-up over f32 %.2fx; gradients within %.1e of f32's "
      "(relative)\n",
      t[1].median_ms, t[0].median_ms, bf16->ex->last_plan_stats().bf16_kernels,
      t[0].median_ms / t[1].median_ms, diff);
  return absl::OkStatus();
}

// The fused and the unrolled step's time over the anchor's.
struct Ratios {
  double fused, unrolled;
};

// Builds both steps of case c, checks one against the other, times them
// and prints the case's rows (and breakdown).
absl::StatusOr<Ratios> RunCase(const Case& c, int steps, bool breakdown) {
  ASSIGN_OR_RETURN(std::unique_ptr<RillStep> rill, MakeRillStep(c, true));
  ASSIGN_OR_RETURN(std::unique_ptr<RillStep> unrolled, MakeRillStep(c, false));
  RETURN_IF_ERROR(rill->run->Run());
  ASSIGN_OR_RETURN(std::unique_ptr<OneDnnStep> anchor,
                   OneDnnStep::Create(c, *rill));
  RETURN_IF_ERROR(anchor->Run());
  RETURN_IF_ERROR(anchor->Run());  // The gradients must not accumulate.
  ASSIGN_OR_RETURN(const double check, anchor->Compare(*rill));
  if (check > 1e-4) {
    return absl::InternalError(
        absl::StrCat(c.name, ": rill and oneDNN differ by ", check));
  }
  ASSIGN_OR_RETURN(Timing t_rill,
                   Time(3, steps, [&] { return rill->run->Run(); }));
  const PlanStats stats = rill->ex->last_plan_stats();
  if (stats.shared_recurrent_forwards != Directions(c)) {
    return absl::InternalError(absl::StrCat(
        c.name, ": ", stats.shared_recurrent_forwards, " of ", Directions(c),
        " RecurrentLayerGrad kernels share their forward pass"));
  }
  ASSIGN_OR_RETURN(Timing t_dnn, Time(3, steps, [&] { return anchor->Run(); }));
  ASSIGN_OR_RETURN(Timing t_unrolled,
                   Time(3, steps, [&] { return unrolled->run->Run(); }));

  const double flops = 3 * ForwardFlops(c);
  const double ratio = t_rill.median_ms / t_dnn.median_ms;
  std::printf(
      "%-8s %-14s %4lld %3lld %4lld %4lld %7.3f %9.2f %9.2f %9.2f %9.2f "
      "%6.2f %8.1f %8.1f %8.1e\n",
      c.name, c.label, static_cast<long long>(c.t), static_cast<long long>(c.b),
      static_cast<long long>(c.i), static_cast<long long>(c.h), flops / 1e9,
      t_rill.median_ms, t_rill.min_ms, t_dnn.median_ms, t_dnn.min_ms, ratio,
      GFlops(flops, t_rill.median_ms), GFlops(flops, t_dnn.median_ms), check);
  std::printf(
      "         rill: %d kernels (%d oneDNN, %d fused chains, %d "
      "RecurrentLayerGrad sharing its forward); onednn: forward + backward "
      "+ %s\n",
      stats.num_kernels, stats.onednn_kernels, stats.fused_chains,
      stats.shared_recurrent_forwards, anchor->Extras().c_str());
  const double unrolled_ratio = t_unrolled.median_ms / t_dnn.median_ms;
  std::printf("         unrolled (--no-fuse): %.2f ms, ratio %.2f\n",
              t_unrolled.median_ms, unrolled_ratio);
  if (CpuRunsBf16()) RETURN_IF_ERROR(RunBf16(c, steps, *rill));
  if (breakdown) {
    RETURN_IF_ERROR(
        PrintBreakdown(rill->grad.graph, rill->fetches, t_rill.median_ms));
  }
  return Ratios{ratio, unrolled_ratio};
}

absl::Status Main(int steps, const std::string& only, bool breakdown) {
  std::printf(
      "recurrent layer training step (forward + gradients of x and all "
      "weights, loss = sum of outputs), f32, median of %d steps;\n"
      "rill: the builder's layer, fused (one RecurrentLayer per direction), "
      "on oneDNN; onednn: lstm/lbr_gru forward_training "
      "+ backward called directly; GFLOP/s of the matmuls, fwd + 2x bwd\n",
      steps);
  std::printf(
      "%-8s %-14s %4s %3s %4s %4s %7s %9s %9s %9s %9s %6s %8s %8s %8s\n",
      "case", "cell", "T", "B", "I", "H", "gflop", "rill_ms", "rill_min",
      "onednn_ms", "dnn_min", "ratio", "rill_gf/s", "dnn_gf/s", "check");
  bool any = false;
  double worst_fused = 0, worst_unrolled = 0;
  for (const Case& c : kCases) {
    if (!only.empty() && only != c.name) continue;
    any = true;
    ASSIGN_OR_RETURN(const Ratios r, RunCase(c, steps, breakdown));
    worst_fused = std::max(worst_fused, r.fused);
    worst_unrolled = std::max(worst_unrolled, r.unrolled);
  }
  if (!any) return absl::InvalidArgumentError("no case " + only);
  std::printf(
      "largest ratio, fused: %.2f (target 1.10: %s); unrolled: %.2f (target "
      "3: %s)\n",
      worst_fused, worst_fused <= 1.10 ? "met" : "NOT met", worst_unrolled,
      worst_unrolled <= 3 ? "met" : "NOT met");
  return absl::OkStatus();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);  // As the rill command does.
  int steps = 20;
  bool breakdown = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--steps=", 8) == 0 &&
        std::atoi(argv[i] + 8) > 0) {
      steps = std::atoi(argv[i] + 8);
    } else if (std::strncmp(argv[i], "--case=", 7) == 0) {
      only = argv[i] + 7;
    } else if (std::strcmp(argv[i], "--breakdown") == 0) {
      breakdown = true;
    } else {
      std::fprintf(stderr,
                   "usage: rnn_bench [--steps=N] "
                   "[--case=lstm|gru|bilstm|lstm512] [--breakdown]\n");
      return 2;
    }
  }
  absl::Status s = rill::Main(steps, only, breakdown);
  if (!s.ok()) {
    std::fprintf(stderr, "rnn_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

// The oneDNN kernels of RecurrentLayer and RecurrentLayerGrad
// (ops/recurrent_ops.cc has the ops, their shapes, reference kernels and
// gradient).

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ops/kernel_util.h"
#include "ops/onednn_rnn.h"
#include "ops/recurrent_cell.h"
#include "ops/recurrent_link.h"
#include "ops/recurrent_lstm_matmul.h"

namespace rill {
namespace {

using Cell = RecurrentCell;

// ---- oneDNN kernels ----
//
// oneDNN 2.6's lstm, gru (the seed GRU), lbr_gru (PyTorch's) and
// vanilla_rnn primitives, f32, or with bf16 precision on bf16 data and
// weights (f32 bias, LSTM cell state and gradients, which is what oneDNN
// 2.6's bf16 backward accepts), but for the bf16 LSTM (RunsLstmMatmul);
// ops/onednn_rnn.h converts between PyTorch's gate blocks and theirs.
// The weights are re-laid out on every run (PyTorch's [G*H, K] into an
// ldgoi staging buffer, then a reorder into the primitive's layout): about
// G*H*(I+H) floats copied twice, small against the T*B*G*H*(I+H) of the
// matmuls unless T*B is tiny.

using dnnl::memory;
using Tag = memory::format_tag;

// The primitive family of a cell.
OneDnnRnnCell DnnlCell(Cell c) {
  switch (c) {
    case Cell::kLstm:
      return OneDnnRnnCell::kLstm;
    case Cell::kGru:
      return OneDnnRnnCell::kGru;
    case Cell::kGruPyTorch:
      return OneDnnRnnCell::kLbrGru;
    default:
      return OneDnnRnnCell::kVanilla;
  }
}

// The primitive descriptors of one layer: forward, and for the gradient
// also the backward one.
struct RnnDescs {
  dnnl::rnn_primitive_desc_base fwd, bwd;
  dnnl::primitive fwd_p, bwd_p;
};

// The descriptors of the layer's memories, in oneDNN's terms.
struct RnnShapes {
  Cell cell;
  bool reverse;  // Last step to first: oneDNN's right2left direction.
  int64_t t, b, i, h, g;
  // What the primitives compute on: x, y, h states and the weights in the
  // precision's type; the bias and the LSTM cell state f32.
  memory::desc src, dst, state, state_c, wl_any, wi_any, bias;
  // The op's tensors, all f32: x, y and states, the weights in ldgoi, and
  // the gradients (diff weights in the primitive's choice of layout).
  memory::desc src_f32, dst_f32, state_f32, wl_user, wi_user, dwl_any, dwi_any;

  // From a node's attrs, inputs x [T, B, I] and h0 [B, H], and precision.
  explicit RnnShapes(const KernelArgs& a)
      : cell(RecurrentCellOf(a)),
        reverse(a.attrs.GetBool("reverse")),
        t(a.inputs[0].shape().dim(0)),
        b(a.inputs[0].shape().dim(1)),
        i(a.inputs[0].shape().dim(2)),
        h(a.inputs[1].shape().dim(1)),
        g(GateCount(cell)) {
    const auto f32 = memory::data_type::f32;
    const auto dt =
        a.precision == Precision::kBf16 ? memory::data_type::bf16 : f32;
    src_f32 = memory::desc({t, b, i}, f32, Tag::tnc);
    dst_f32 = memory::desc({t, b, h}, f32, Tag::tnc);
    state_f32 = memory::desc({1, 1, b, h}, f32, Tag::ldnc);
    src = memory::desc({t, b, i}, dt, Tag::tnc);
    dst = memory::desc({t, b, h}, dt, Tag::tnc);
    state = memory::desc({1, 1, b, h}, dt, Tag::ldnc);
    state_c = state_f32;
    wl_any = memory::desc({1, 1, i, g, h}, dt, Tag::any);
    wi_any = memory::desc({1, 1, h, g, h}, dt, Tag::any);
    dwl_any = memory::desc({1, 1, i, g, h}, f32, Tag::any);
    dwi_any = memory::desc({1, 1, h, g, h}, f32, Tag::any);
    wl_user = memory::desc({1, 1, i, g, h}, f32, Tag::ldgoi);
    wi_user = memory::desc({1, 1, h, g, h}, f32, Tag::ldgoi);
    bias = memory::desc({1, 1, OneDnnRnnBiasGates(DnnlCell(cell)), h}, f32,
                        Tag::ldgo);
  }
};

// Builds the forward primitive (and, with `backward`, the backward one
// with the forward as its hint). Explicit initial states are always
// given: oneDNN 2.6's backward gets diff_weights_iter wrong without them
// (bench/rnn_bench.cc).
RnnDescs MakeRnnDescs(const RnnShapes& s, const dnnl::engine& eng,
                      bool backward) {
  const auto dir = s.reverse ? dnnl::rnn_direction::unidirectional_right2left
                             : dnnl::rnn_direction::unidirectional_left2right;
  const auto prop = backward ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  const auto bprop = dnnl::prop_kind::backward;
  const memory::desc &x = s.src, &y = s.dst, &st = s.state, &c = s.state_c,
                     &wl = s.wl_any, &wi = s.wi_any, &bias = s.bias;
  // The gradients' descriptors: f32 whatever the precision.
  const memory::desc &dx = s.src_f32, &dy = s.dst_f32, &dst = s.state_f32,
                     &dwl = s.dwl_any, &dwi = s.dwi_any;
  RnnDescs d;
  switch (s.cell) {
    case Cell::kRnnTanh:
    case Cell::kRnnRelu: {
      const auto act = s.cell == Cell::kRnnTanh ? dnnl::algorithm::eltwise_tanh
                                                : dnnl::algorithm::eltwise_relu;
      dnnl::vanilla_rnn_forward::primitive_desc f(
          {prop, act, dir, x, st, wl, wi, bias, y, st}, eng);
      d.fwd = f;
      d.fwd_p = dnnl::vanilla_rnn_forward(f);
      if (backward) {
        dnnl::vanilla_rnn_backward::primitive_desc b(
            {bprop, act, dir, x, st, wl, wi, bias, y, st, dx, dst, dwl, dwi,
             bias, dy, dst},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::vanilla_rnn_backward(b);
      }
      break;
    }
    case Cell::kLstm: {
      dnnl::lstm_forward::primitive_desc f(
          {prop, dir, x, st, c, wl, wi, bias, y, st, c}, eng);
      d.fwd = f;
      d.fwd_p = dnnl::lstm_forward(f);
      if (backward) {
        dnnl::lstm_backward::primitive_desc b(
            {bprop, dir, x,   st,  c,   wl,  wi,   bias, y,   st,
             c,     dx,  dst, dst, dwl, dwi, bias, dy,   dst, dst},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::lstm_backward(b);
      }
      break;
    }
    case Cell::kGru: {
      dnnl::gru_forward::primitive_desc f(
          {prop, dir, x, st, wl, wi, bias, y, st}, eng);
      d.fwd = f;
      d.fwd_p = dnnl::gru_forward(f);
      if (backward) {
        dnnl::gru_backward::primitive_desc b(
            {bprop, dir, x, st, wl, wi, bias, y, st, dx, dst, dwl, dwi, bias,
             dy, dst},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::gru_backward(b);
      }
      break;
    }
    case Cell::kGruPyTorch: {
      dnnl::lbr_gru_forward::primitive_desc f(
          {prop, dir, x, st, wl, wi, bias, y, st}, eng);
      d.fwd = f;
      d.fwd_p = dnnl::lbr_gru_forward(f);
      if (backward) {
        dnnl::lbr_gru_backward::primitive_desc b(
            {bprop, dir, x, st, wl, wi, bias, y, st, dx, dst, dwl, dwi, bias,
             dy, dst},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::lbr_gru_backward(b);
      }
      break;
    }
  }
  return d;
}

// Reorders between the op's f32 buffers and the layouts and data types
// that a primitive asks for: into its inputs before each run, out of its
// outputs after. Where they already agree, the buffer itself is used and
// nothing is copied (f32 data in a plain layout).
class Conversions {
 public:
  explicit Conversions(const dnnl::engine& eng) : eng_(eng) {}

  // What the primitive reads in place of `from`, in desc `want`.
  memory In(const memory& from, const memory::desc& want) {
    if (want == from.get_desc()) return from;
    memory m(want, eng_);
    before_.push_back({dnnl::reorder(from, m), from, m});
    return m;
  }
  // What the primitive writes, in desc `have`, in place of `to`.
  memory Out(const memory::desc& have, const memory& to) {
    if (have == to.get_desc()) return to;
    memory m(have, eng_);
    after_.push_back({dnnl::reorder(m, to), m, to});
    return m;
  }
  void Before(dnnl::stream& stream) { Execute(before_, stream); }
  void After(dnnl::stream& stream) { Execute(after_, stream); }

 private:
  struct Step {
    dnnl::reorder reorder;
    memory from, to;
  };
  static void Execute(std::vector<Step>& steps, dnnl::stream& stream) {
    for (Step& s : steps) s.reorder.execute(stream, s.from, s.to);
  }

  dnnl::engine eng_;
  std::vector<Step> before_, after_;
};

// Weights and bias in the primitives' layouts, refreshed from the op's
// inputs on every run: PyTorch's blocks go into ldgoi staging buffers once,
// then are reordered into each layout (and type) a primitive asked for.
class RnnWeights {
 public:
  // `inputs`: the node's, weight_ih, weight_hh, bias_ih and bias_hh at 2-5.
  RnnWeights(const RnnShapes& s, const dnnl::engine& eng,
             const std::vector<Tensor>& inputs)
      : s_(s),
        w_ih_(inputs[2]),
        w_hh_(inputs[3]),
        b_ih_(inputs[4]),
        b_hh_(inputs[5]),
        wl_user_(s.wl_user, eng),
        wi_user_(s.wi_user, eng),
        bias_(s.bias, eng),
        conversions_(eng) {}

  // weight_ih in layout `want` (weights_layer_desc of a primitive).
  memory Layer(const memory::desc& want) {
    return conversions_.In(wl_user_, want);
  }
  // weight_hh in layout `want` (weights_iter_desc).
  memory Iter(const memory::desc& want) {
    return conversions_.In(wi_user_, want);
  }
  const memory& bias() const { return bias_; }

  void Refresh(dnnl::stream& stream) {
    const OneDnnRnnCell c = DnnlCell(s_.cell);
    PyTorchToOneDnnWeights(c, w_ih_.data<float>(), s_.h, s_.i,
                           static_cast<float*>(wl_user_.get_data_handle()));
    PyTorchToOneDnnWeights(c, w_hh_.data<float>(), s_.h, s_.h,
                           static_cast<float*>(wi_user_.get_data_handle()));
    PyTorchToOneDnnBias(c, b_ih_.data<float>(), b_hh_.data<float>(), s_.h,
                        static_cast<float*>(bias_.get_data_handle()));
    conversions_.Before(stream);
  }

 private:
  RnnShapes s_;
  Tensor w_ih_, w_hh_, b_ih_, b_hh_;
  memory wl_user_, wi_user_, bias_;
  Conversions conversions_;
};

const float* Data(const memory& m) {
  return static_cast<const float*>(m.get_data_handle());
}

// A oneDNN memory of layout `md` over t's buffer.
memory Over(const memory::desc& md, const dnnl::engine& eng, const Tensor& t) {
  return memory(md, eng, t.raw_data());
}

// The arguments that a forward primitive and its backward share: x, h0,
// the weights in `pd`'s layouts, the bias, y and hn, and for the LSTM c0
// and cn (the others pass empty memories there).
std::unordered_map<int, memory> StateArgs(
    const RnnShapes& s, const dnnl::rnn_primitive_desc_base& pd, RnnWeights& w,
    const memory& x, const memory& h0, const memory& c0, const memory& y,
    const memory& hn, const memory& cn) {
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, x},
      {DNNL_ARG_SRC_ITER, h0},
      {DNNL_ARG_WEIGHTS_LAYER, w.Layer(pd.weights_layer_desc())},
      {DNNL_ARG_WEIGHTS_ITER, w.Iter(pd.weights_iter_desc())},
      {DNNL_ARG_BIAS, w.bias()},
      {DNNL_ARG_DST_LAYER, y},
      {DNNL_ARG_DST_ITER, hn}};
  if (s.cell == Cell::kLstm) {
    args[DNNL_ARG_SRC_ITER_C] = c0;
    args[DNNL_ARG_DST_ITER_C] = cn;
  }
  return args;
}

class RecurrentLayerOneDnnKernel : public OpKernel {
 public:
  explicit RecurrentLayerOneDnnKernel(const KernelArgs& a)
      : node_(a.node.name()),
        stream_(&a.onednn->stream),
        eng_(a.onednn->engine),
        s_(a),
        d_(MakeRnnDescs(s_, eng_, false)),
        inputs_(a.inputs),
        y_(a.outputs[0]),
        hn_(a.outputs[1]),
        cn_(a.outputs[2]),
        offer_(a) {}

  absl::Status Compute() override {
    if (offer_.bound()) return offer_.RunBound(y_, hn_, cn_);
    RETURN_IF_ERROR(DnnlRun(node_, [&] {
      if (!w_) PrepareInference();
      w_->Refresh(*stream_);
      conversions_->Before(*stream_);
      d_.fwd_p.execute(*stream_, args_);
      conversions_->After(*stream_);
      stream_->wait();
    }));
    // Only the LSTM has a cell state; the others output hn again.
    if (s_.cell != Cell::kLstm) CopyOut(hn_.data<float>(), cn_);
    return absl::OkStatus();
  }

 private:
  // The weights in the inference primitive's layouts and its arguments,
  // made on the first run that needs them: a layer whose gradient kernel
  // shares its forward_training never does, and so never holds a second
  // copy of its weights.
  // All or nothing: a oneDNN error midway leaves w_ null, to retry.
  void PrepareInference() {
    auto w = std::make_unique<RnnWeights>(s_, eng_, inputs_);
    auto c = std::make_unique<Conversions>(eng_);
    const bool lstm = s_.cell == Cell::kLstm;
    const memory x = c->In(Over(s_.src_f32, eng_, inputs_[0]), s_.src);
    const memory h0 = c->In(Over(s_.state_f32, eng_, inputs_[1]), s_.state);
    const memory c0 =
        lstm ? c->In(Over(s_.state_f32, eng_, inputs_[6]), s_.state_c)
             : memory();
    const memory y = c->Out(s_.dst, Over(s_.dst_f32, eng_, y_));
    const memory hn = c->Out(s_.state, Over(s_.state_f32, eng_, hn_));
    const memory cn =
        lstm ? c->Out(s_.state_c, Over(s_.state_f32, eng_, cn_)) : memory();
    args_ = StateArgs(s_, d_.fwd, *w, x, h0, c0, y, hn, cn);
    conversions_ = std::move(c);
    w_ = std::move(w);
  }

  std::string node_;
  dnnl::stream* stream_;
  dnnl::engine eng_;
  RnnShapes s_;
  RnnDescs d_;
  std::vector<Tensor> inputs_;
  Tensor y_, hn_, cn_;
  RecurrentForwardOffer offer_;
  std::unique_ptr<RnnWeights> w_;
  std::unique_ptr<Conversions> conversions_;  // Of x, h0, c0, y, hn, cn.
  std::unordered_map<int, memory> args_;
};

// forward_training (into the kernel's own buffers, for oneDNN's
// workspace), then backward; the forward_training is left to the bound
// forward kernel where there is one (RecurrentForwardLink).
class RecurrentLayerGradOneDnnKernel : public OpKernel {
 public:
  explicit RecurrentLayerGradOneDnnKernel(const KernelArgs& a)
      : node_(a.node.name()),
        stream_(&a.onednn->stream),
        s_(a),
        d_(MakeRnnDescs(s_, a.onednn->engine, true)),
        w_(s_, a.onednn->engine, a.inputs),
        conversions_(a.onednn->engine),
        outputs_(a.outputs) {
    const dnnl::engine& eng = a.onednn->engine;
    const bool lstm = s_.cell == Cell::kLstm;
    Conversions& c = conversions_;
    const memory x = c.In(Over(s_.src_f32, eng, a.inputs[0]), s_.src);
    const memory h0 = c.In(Over(s_.state_f32, eng, a.inputs[1]), s_.state);
    const memory c0 =
        lstm ? c.In(Over(s_.state_f32, eng, a.inputs[8]), s_.state_c)
             : memory();
    // The forward's results, also kept in f32 for a bound forward kernel.
    const memory y32(s_.dst_f32, eng), hn32(s_.state_f32, eng),
        cn32(s_.state_f32, eng);
    const memory y = c.Out(s_.dst, y32), hn = c.Out(s_.state, hn32),
                 cn = c.Out(s_.state_c, cn32);
    memory ws(d_.fwd.workspace_desc(), eng);
    fwd_args_ = StateArgs(s_, d_.fwd, w_, x, h0, c0, y, hn, cn);
    fwd_args_[DNNL_ARG_WORKSPACE] = ws;
    dwl_ = memory(d_.bwd.diff_weights_layer_desc(), eng);
    dwi_ = memory(d_.bwd.diff_weights_iter_desc(), eng);
    dbias_ = memory(d_.bwd.diff_bias_desc(), eng);
    dwl_user_ = memory(s_.wl_user, eng);
    dwi_user_ = memory(s_.wi_user, eng);
    // Made once here, not on every step.
    dwl_to_user_ = dnnl::reorder(dwl_, dwl_user_);
    dwi_to_user_ = dnnl::reorder(dwi_, dwi_user_);
    bwd_args_ = StateArgs(s_, d_.bwd, w_, x, h0, c0, y, hn, cn);
    bwd_args_.insert(
        {{DNNL_ARG_WORKSPACE, ws},
         {DNNL_ARG_DIFF_DST_LAYER, Over(s_.dst_f32, eng, a.inputs[6])},
         {DNNL_ARG_DIFF_DST_ITER, Over(s_.state_f32, eng, a.inputs[7])},
         {DNNL_ARG_DIFF_SRC_LAYER, Over(s_.src_f32, eng, a.outputs[0])},
         {DNNL_ARG_DIFF_SRC_ITER, Over(s_.state_f32, eng, a.outputs[1])},
         {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_},
         {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_},
         {DNNL_ARG_DIFF_BIAS, dbias_}});
    if (lstm) {
      bwd_args_[DNNL_ARG_DIFF_DST_ITER_C] =
          Over(s_.state_f32, eng, a.inputs[9]);
      bwd_args_[DNNL_ARG_DIFF_SRC_ITER_C] =
          Over(s_.state_f32, eng, a.outputs[6]);
    }
    binding_.Bind(
        a, [this] { Forward(); }, Data(y32), Data(hn32),
        Data(lstm ? cn32 : hn32));
  }

  absl::Status Compute() override {
    const bool forward_ran = binding_.TakeFresh();
    RETURN_IF_ERROR(DnnlRun(node_, [&] {
      if (!forward_ran) Forward();
      // The backward adds its weight gradients to what these hold.
      for (memory* m : {&dwl_, &dwi_, &dbias_}) {
        std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
      }
      d_.bwd_p.execute(*stream_, bwd_args_);
      dwl_to_user_.execute(*stream_, dwl_, dwl_user_);
      dwi_to_user_.execute(*stream_, dwi_, dwi_user_);
      stream_->wait();
    }));
    const OneDnnRnnCell c = DnnlCell(s_.cell);
    const int64_t h = s_.h;
    OneDnnToPyTorchWeights(
        c, static_cast<const float*>(dwl_user_.get_data_handle()), h, s_.i,
        outputs_[2].data<float>());
    OneDnnToPyTorchWeights(
        c, static_cast<const float*>(dwi_user_.get_data_handle()), h, h,
        outputs_[3].data<float>());
    const float* db = static_cast<const float*>(dbias_.get_data_handle());
    OneDnnToPyTorchBias(c, db, false, h, outputs_[4].data<float>());
    OneDnnToPyTorchBias(c, db, true, h, outputs_[5].data<float>());
    if (s_.cell != Cell::kLstm) {
      std::fill_n(outputs_[6].data<float>(), outputs_[6].num_elements(), 0.f);
    }
    return absl::OkStatus();
  }

 private:
  void Forward() {
    w_.Refresh(*stream_);
    conversions_.Before(*stream_);
    d_.fwd_p.execute(*stream_, fwd_args_);
    conversions_.After(*stream_);
    stream_->wait();
  }

  std::string node_;
  dnnl::stream* stream_;
  RnnShapes s_;
  RnnDescs d_;
  RnnWeights w_;
  Conversions conversions_;  // Of x, h0, c0 in and y, hn, cn out.
  RecurrentForwardBinding binding_;
  std::vector<Tensor> outputs_;
  memory dwl_, dwi_, dbias_, dwl_user_, dwi_user_;
  dnnl::reorder dwl_to_user_, dwi_to_user_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
};

// With bf16 precision the LSTM runs on rill's own kernels
// (ops/recurrent_lstm_matmul.h): oneDNN 2.6's bf16 LSTM backward reaches
// about 290 GFLOP/s on a Zen 4 where its bf16 matmul reaches 410 (issue 19).
bool RunsLstmMatmul(const KernelArgs& a) {
  return OneDnnCanRun(a) && a.precision == Precision::kBf16 &&
         RecurrentCellOf(a) == Cell::kLstm;
}

template <typename Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> RecurrentOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    return std::make_unique<Kernel>(a);
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerOneDnn(
    const KernelArgs& a) {
  if (RunsLstmMatmul(a)) return MakeLstmMatmulLayer(a, memory::data_type::bf16);
  return RecurrentOneDnn<RecurrentLayerOneDnnKernel>(a);
}

absl::StatusOr<std::unique_ptr<OpKernel>> MakeRecurrentLayerGradOneDnn(
    const KernelArgs& a) {
  if (RunsLstmMatmul(a)) {
    return MakeLstmMatmulLayerGrad(a, memory::data_type::bf16);
  }
  return RecurrentOneDnn<RecurrentLayerGradOneDnnKernel>(a);
}

}  // namespace rill

// The LSTM layer on matmul primitives (ops/recurrent_lstm_matmul.h).
//
// Forward: Gx = x W_ih^T + b_ih + b_hh for all steps in one product, then
// per step G = Gx[t] + h W_hh^T in place (a sum post-op), the gates
// activated by a logistic post-op, and the cell update in f32. The g gate
// needs tanh, not the logistic: its rows of the weights and bias are
// doubled (exact in any precision), so that the post-op gives
// s = sigmoid(2 a) and g = 2 s - 1 = tanh(a). Kept for the backward: the
// activated gates, c and tanh(c) of every step, and the operands x and
// the h that entered each step.
//
// Backward, last step first: the gate gradients dG in f32 (their column
// sums are the bias gradients), rounded to the operand type; the next dh
// is dG W_hh. Then three products over all steps at once:
// dW_ih = dG^T x, dW_hh = dG^T h_prev and dx = dG W_ih.
//
// PyTorch's gate order (i, f, g, o) and [4H, K] weights are used as they
// are.

#include "ops/recurrent_lstm_matmul.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "ops/kernel_util.h"
#include "ops/lstm_cell.h"
#include "ops/recurrent_link.h"

namespace rill {
namespace {

using dnnl::memory;
using Dt = memory::data_type;

// What a layer's kernels are built for.
struct LstmDims {
  int64_t t, b, i, h;
  bool reverse;
  Dt operands;

  // The time index of step s (step 0 runs first).
  int64_t Time(int64_t s) const { return reverse ? t - 1 - s : s; }
  int64_t OperandBytes() const { return operands == Dt::bf16 ? 2 : 4; }
};

LstmDims DimsOf(const KernelArgs& a, Dt operands) {
  const Shape& x = a.inputs[0].shape();
  return {x.dim(0),
          x.dim(1),
          x.dim(2),
          a.inputs[1].shape().dim(1),
          a.attrs.GetBool("reverse"),
          operands};
}

// A [rows, cols] matrix stored row-major, or column-major (the transpose of
// a row-major [cols, rows]) when `transposed`.
memory::desc Matrix(int64_t rows, int64_t cols, Dt dt,
                    bool transposed = false) {
  return memory::desc(
      {rows, cols}, dt,
      transposed ? memory::dims{1, rows} : memory::dims{cols, 1});
}

// A matmul's weights, in the layout it prefers.
memory::desc AnyLayout(int64_t rows, int64_t cols, Dt dt) {
  return memory::desc({rows, cols}, dt, memory::format_tag::any);
}

// A memory of `desc` over `whole`'s buffer from byte `offset`.
memory Part(const memory& whole, const memory::desc& desc, int64_t offset) {
  return memory(desc, whole.get_engine(),
                static_cast<char*>(whole.get_data_handle()) + offset);
}

// `t`'s buffer as a memory of `desc`.
memory Over(const Tensor& t, const memory::desc& desc,
            const dnnl::engine& eng) {
  return memory(desc, eng, t.raw_data());
}

float* F32(const memory& m) { return static_cast<float*>(m.get_data_handle()); }

dnnl::matmul::primitive_desc MatMul(const memory::desc& src,
                                    const memory::desc& weights,
                                    const memory::desc& dst,
                                    const dnnl::engine& eng,
                                    const dnnl::primitive_attr& attr = {}) {
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst),
                                      attr, eng);
}

// A reorder with the memories it always runs on.
struct Conversion {
  Conversion() = default;
  Conversion(const memory& from, const memory& to)
      : reorder(from, to), from(from), to(to) {}
  void Run(dnnl::stream& stream) const {
    reorder.execute(stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }

  dnnl::reorder reorder;
  memory from, to;
};

// PyTorch's [4H, K] weight, the g gate's rows doubled (see the top).
void CopyDoublingG(const Tensor& w, int64_t h, float* to) {
  const int64_t k = w.num_elements() / (4 * h);
  std::memcpy(to, w.raw_data(), w.byte_size());
  for (int64_t e = 2 * h * k; e < 3 * h * k; ++e) to[e] *= 2;
}

// Calls `f` with the operand buffer at `p`: float* or, for bf16,
// uint16_t*.
template <typename F>
void AsOperands(Dt dt, void* p, F f) {
  if (dt == Dt::bf16) {
    f(static_cast<uint16_t*>(p));
  } else {
    f(static_cast<float*>(p));
  }
}

// The inputs x, h0, weight_ih, weight_hh, bias_ih, bias_hh and c0 (input
// `c0` of the node).
std::vector<Tensor> ForwardTensors(const KernelArgs& a, int c0) {
  std::vector<Tensor> in(a.inputs.begin(), a.inputs.begin() + 6);
  in.push_back(a.inputs[c0]);
  return in;
}

// The forward pass, into buffers of its own: y of every step (hn and cn
// point into y and c), and what the backward reads.
class LstmForward {
 public:
  LstmForward(const LstmDims& d, OneDnnContext& ctx, std::vector<Tensor> in)
      : d_(d), eng_(ctx.engine), stream_(&ctx.stream), in_(std::move(in)) {
    const int64_t t = d.t, b = d.b, i = d.i, h = d.h, g = 4 * h;
    const Dt f32 = Dt::f32, op = d.operands;
    dnnl::primitive_attr step_attr;
    dnnl::post_ops post;
    post.append_sum(1.f);
    post.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
    step_attr.set_post_ops(post);
    const dnnl::matmul::primitive_desc gx(
        dnnl::matmul::desc(Matrix(t * b, i, op), AnyLayout(i, g, op),
                           Matrix(1, g, f32), Matrix(t * b, g, f32)),
        eng_);
    auto step = MatMul(Matrix(b, h, op), AnyLayout(h, g, op), Matrix(b, g, f32),
                       eng_, step_attr);
    gx_ = dnnl::matmul(gx);
    step_ = dnnl::matmul(step);
    w_ih_stage_ = memory(Matrix(g, i, f32), eng_);
    w_hh_stage_ = memory(Matrix(g, h, f32), eng_);
    w_ih_ = memory(gx.weights_desc(), eng_);
    w_hh_ = memory(step.weights_desc(), eng_);
    // The staged [4H, K] weights read as [K, 4H].
    to_w_ih_ = {Part(w_ih_stage_, Matrix(i, g, f32, true), 0), w_ih_};
    to_w_hh_ = {Part(w_hh_stage_, Matrix(h, g, f32, true), 0), w_hh_};
    bias_ = memory(Matrix(1, g, f32), eng_);
    x_ = memory(Matrix(t * b, i, op), eng_);
    to_x_ = {Over(in_[0], Matrix(t * b, i, f32), eng_), x_};
    h_prev_ = memory(Matrix(t * b, h, op), eng_);
    to_h0_ = {Over(in_[1], Matrix(b, h, f32), eng_), HPrev(d.Time(0))};
    gates_ = memory(Matrix(t * b, g, f32), eng_);
    c_ = memory(Matrix(t * b, h, f32), eng_);
    tanh_c_ = memory(Matrix(t * b, h, f32), eng_);
    y_ = memory(Matrix(t * b, h, f32), eng_);
    tanh_ = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(
        {dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_tanh,
         Matrix(b, h, f32), 0.f, 0.f},
        eng_));
  }

  void Run() {
    const int64_t b = d_.b, h = d_.h;
    Prepare();
    gx_.execute(*stream_, {{DNNL_ARG_SRC, x_},
                           {DNNL_ARG_WEIGHTS, w_ih_},
                           {DNNL_ARG_BIAS, bias_},
                           {DNNL_ARG_DST, gates_}});
    to_h0_.Run(*stream_);
    for (int64_t s = 0; s < d_.t; ++s) {
      const int64_t t = d_.Time(s);
      step_.execute(*stream_, {{DNNL_ARG_SRC, HPrev(t)},
                               {DNNL_ARG_WEIGHTS, w_hh_},
                               {DNNL_ARG_DST, Rows(gates_, t, 4 * h)}});
      stream_->wait();
      LstmUpdateCell(b, h, RowsAt(gates_, t, 4 * h), CPrev(s),
                     RowsAt(c_, t, h));
      tanh_.execute(*stream_, {{DNNL_ARG_SRC, Rows(c_, t, h)},
                               {DNNL_ARG_DST, Rows(tanh_c_, t, h)}});
      stream_->wait();
      // The next step's h_prev, if there is one, in the operand type.
      void* h_next =
          s + 1 < d_.t ? HPrev(d_.Time(s + 1)).get_data_handle() : nullptr;
      AsOperands(d_.operands, h_next, [&](auto* h_out) {
        LstmHidden(b, h, RowsAt(gates_, t, 4 * h), RowsAt(tanh_c_, t, h),
                   RowsAt(y_, t, h), h_out);
      });
    }
    stream_->wait();
  }

  const LstmDims& dims() const { return d_; }
  const float* y() const { return F32(y_); }
  const float* hn() const { return RowsAt(y_, d_.Time(d_.t - 1), d_.h); }
  const float* cn() const { return RowsAt(c_, d_.Time(d_.t - 1), d_.h); }

  // For the backward: the operands x [T*B, I] and h_prev [T*B, H] (the h
  // that entered each step); and f32 [T*B, ...] buffers: the activated
  // gates (i, f, g, o), c and tanh(c).
  const memory& x() const { return x_; }
  const memory& h_prev() const { return h_prev_; }
  const float* gates(int64_t t) const { return RowsAt(gates_, t, 4 * d_.h); }
  const float* tanh_c(int64_t t) const { return RowsAt(tanh_c_, t, d_.h); }
  // c of the step before step s (c0 for the first).
  const float* CPrev(int64_t s) const {
    if (s == 0) return in_[6].data<float>();
    return RowsAt(c_, d_.Time(s - 1), d_.h);
  }

 private:
  // Time index t's [B, width] rows of an f32 [T*B, width] buffer, as a
  // pointer or as a memory.
  float* RowsAt(const memory& m, int64_t t, int64_t width) const {
    return F32(m) + t * d_.b * width;
  }
  memory Rows(const memory& m, int64_t t, int64_t width) const {
    return Part(m, Matrix(d_.b, width, Dt::f32), t * d_.b * width * 4);
  }
  memory HPrev(int64_t t) const {
    return Part(h_prev_, Matrix(d_.b, d_.h, d_.operands),
                t * d_.b * d_.h * d_.OperandBytes());
  }

  // The weights, bias and x in the primitives' layouts and types.
  void Prepare() {
    const int64_t h = d_.h;
    CopyDoublingG(in_[2], h, F32(w_ih_stage_));
    CopyDoublingG(in_[3], h, F32(w_hh_stage_));
    const float* b_ih = in_[4].data<float>();
    const float* b_hh = in_[5].data<float>();
    float* bias = F32(bias_);
    for (int64_t k = 0; k < 4 * h; ++k) {
      bias[k] = (b_ih[k] + b_hh[k]) * (k >= 2 * h && k < 3 * h ? 2 : 1);
    }
    for (const Conversion* c : {&to_w_ih_, &to_w_hh_, &to_x_}) c->Run(*stream_);
  }

  LstmDims d_;
  dnnl::engine eng_;
  dnnl::stream* stream_;
  std::vector<Tensor> in_;  // x, h0, w_ih, w_hh, b_ih, b_hh, c0
  dnnl::matmul gx_, step_;
  dnnl::eltwise_forward tanh_;
  Conversion to_w_ih_, to_w_hh_, to_x_;
  Conversion to_h0_;  // Into h_prev of the first step.
  memory w_ih_stage_, w_hh_stage_, w_ih_, w_hh_, bias_, x_, h_prev_;
  memory gates_, c_, tanh_c_, y_;
};

// The backward pass over the last run of `f`, into the gradient node's
// outputs dx, dh0, dweight_ih, dweight_hh, dbias_ih, dbias_hh and dc0.
class LstmBackward {
 public:
  LstmBackward(const KernelArgs& a, const LstmForward& f)
      : f_(f),
        eng_(a.onednn->engine),
        stream_(&a.onednn->stream),
        dy_(a.inputs[6]),
        dhn_(a.inputs[7]),
        dcn_(a.inputs[9]),
        out_(a.outputs) {
    const LstmDims& d = f.dims();
    const int64_t tb = d.t * d.b, b = d.b, i = d.i, h = d.h, g = 4 * h;
    const Dt f32 = Dt::f32, op = d.operands;
    auto step =
        MatMul(Matrix(b, g, op), AnyLayout(g, h, op), Matrix(b, h, f32), eng_);
    auto dx = MatMul(Matrix(tb, g, op), AnyLayout(g, i, op), Matrix(tb, i, f32),
                     eng_);
    step_ = dnnl::matmul(step);
    dx_ = dnnl::matmul(dx);
    dw_ih_ = dnnl::matmul(MatMul(Matrix(g, tb, op, true), Matrix(tb, i, op),
                                 Matrix(g, i, f32), eng_));
    dw_hh_ = dnnl::matmul(MatMul(Matrix(g, tb, op, true), Matrix(tb, h, op),
                                 Matrix(g, h, f32), eng_));
    w_hh_ = memory(step.weights_desc(), eng_);
    w_ih_ = memory(dx.weights_desc(), eng_);
    to_w_hh_ = {Over(a.inputs[3], Matrix(g, h, f32), eng_), w_hh_};
    to_w_ih_ = {Over(a.inputs[2], Matrix(g, i, f32), eng_), w_ih_};
    dx_dst_ = Over(a.outputs[0], Matrix(tb, i, f32), eng_);
    dw_ih_dst_ = Over(a.outputs[2], Matrix(g, i, f32), eng_);
    dw_hh_dst_ = Over(a.outputs[3], Matrix(g, h, f32), eng_);
    dg_ = memory(Matrix(tb, g, op), eng_);
    dh_ = memory(Matrix(b, h, f32), eng_);
    db_.resize(g);
  }

  void Run() {
    const LstmDims& d = f_.dims();
    const int64_t b = d.b, h = d.h, g = 4 * h;
    to_w_hh_.Run(*stream_);
    to_w_ih_.Run(*stream_);
    stream_->wait();
    std::memcpy(dh_.get_data_handle(), dhn_.raw_data(), dhn_.byte_size());
    float* dc = out_[6].data<float>();  // dc0 once the loop is done.
    std::memcpy(dc, dcn_.raw_data(), dcn_.byte_size());
    std::fill(db_.begin(), db_.end(), 0.f);
    for (int64_t s = d.t - 1; s >= 0; --s) {
      const int64_t t = d.Time(s);
      const memory dg_t =
          Part(dg_, Matrix(b, g, d.operands), t * b * g * d.OperandBytes());
      const LstmStepGrad step = {
          f_.gates(t), f_.CPrev(s), f_.tanh_c(t), dy_.data<float>() + t * b * h,
          F32(dh_),    dc,          db_.data()};
      AsOperands(d.operands, dg_t.get_data_handle(),
                 [&](auto* dg) { LstmGateGradients(b, h, step, dg); });
      step_.execute(*stream_, {{DNNL_ARG_SRC, dg_t},
                               {DNNL_ARG_WEIGHTS, w_hh_},
                               {DNNL_ARG_DST, dh_}});
      stream_->wait();
    }
    const memory dg_all_t = Part(dg_, Matrix(g, d.t * b, d.operands, true), 0);
    Execute(dw_ih_, dg_all_t, f_.x(), dw_ih_dst_);
    Execute(dw_hh_, dg_all_t, f_.h_prev(), dw_hh_dst_);
    Execute(dx_, dg_, w_ih_, dx_dst_);
    stream_->wait();
    std::memcpy(out_[1].raw_data(), dh_.get_data_handle(), out_[1].byte_size());
    for (int k : {4, 5}) {
      std::memcpy(out_[k].raw_data(), db_.data(), out_[k].byte_size());
    }
  }

 private:
  void Execute(const dnnl::matmul& p, const memory& src, const memory& weights,
               const memory& dst) {
    p.execute(*stream_, {{DNNL_ARG_SRC, src},
                         {DNNL_ARG_WEIGHTS, weights},
                         {DNNL_ARG_DST, dst}});
  }

  const LstmForward& f_;
  dnnl::engine eng_;
  dnnl::stream* stream_;
  Tensor dy_, dhn_, dcn_;
  std::vector<Tensor> out_;
  dnnl::matmul step_, dx_, dw_ih_, dw_hh_;
  Conversion to_w_hh_, to_w_ih_;
  memory w_hh_, w_ih_, dg_, dh_, dx_dst_, dw_ih_dst_, dw_hh_dst_;
  std::vector<float> db_;
};

class LstmLayerKernel : public OpKernel {
 public:
  LstmLayerKernel(const KernelArgs& a, Dt operands)
      : node_(a.node.name()),
        dims_(DimsOf(a, operands)),
        ctx_(a.onednn),
        in_(ForwardTensors(a, 6)),
        out_(a.outputs),
        offer_(a) {}

  absl::Status Compute() override {
    if (offer_.bound()) return offer_.RunBound(out_[0], out_[1], out_[2]);
    RETURN_IF_ERROR(DnnlRun(node_, [&] {
      // Made on the first run that needs it: a layer whose gradient kernel
      // shares its forward pass never does, and holds no second workspace.
      if (!f_) f_ = std::make_unique<LstmForward>(dims_, *ctx_, in_);
      f_->Run();
    }));
    CopyOut(f_->y(), out_[0]);
    CopyOut(f_->hn(), out_[1]);
    CopyOut(f_->cn(), out_[2]);
    return absl::OkStatus();
  }

 private:
  std::string node_;
  LstmDims dims_;
  OneDnnContext* ctx_;
  std::vector<Tensor> in_, out_;
  RecurrentForwardOffer offer_;
  std::unique_ptr<LstmForward> f_;
};

class LstmLayerGradKernel : public OpKernel {
 public:
  LstmLayerGradKernel(const KernelArgs& a, Dt operands)
      : node_(a.node.name()),
        f_(DimsOf(a, operands), *a.onednn, ForwardTensors(a, 8)),
        b_(a, f_) {
    binding_.Bind(
        a, [this] { f_.Run(); }, f_.y(), f_.hn(), f_.cn());
  }

  absl::Status Compute() override {
    const bool forward_ran = binding_.TakeFresh();
    return DnnlRun(node_, [&] {
      if (!forward_ran) f_.Run();
      b_.Run();
    });
  }

 private:
  std::string node_;
  LstmForward f_;
  LstmBackward b_;
  RecurrentForwardBinding binding_;
};

template <typename Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> Make(const KernelArgs& a,
                                               Dt operands) {
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    return std::make_unique<Kernel>(a, operands);
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpKernel>> MakeLstmMatmulLayer(
    const KernelArgs& a, Dt operands) {
  return Make<LstmLayerKernel>(a, operands);
}

absl::StatusOr<std::unique_ptr<OpKernel>> MakeLstmMatmulLayerGrad(
    const KernelArgs& a, Dt operands) {
  return Make<LstmLayerGradKernel>(a, operands);
}

}  // namespace rill

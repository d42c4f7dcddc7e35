// Fused recurrent layers (issue 6): RecurrentLayer runs one unidirectional
// RNN, LSTM or GRU layer over a whole sequence, RecurrentLayerGrad is its
// backward op. The equations are those of models/rnn.h (the unrolled
// builders, SPEC.md "Block semantics"), with PyTorch's weight layout.
//
// No workspace passes from the forward op to the backward op as a tensor:
// the backward recomputes the forward itself (the reference kernel its gate
// activations, the oneDNN kernel a forward_training run for oneDNN's own
// workspace) unless, on oneDNN, the forward node's kernel ran that
// forward_training for it (the `forward` attr).
// oneDNN's workspace is an opaque, build-specific layout that the reference
// kernel cannot read or write, so a tensor holding it would tie the two
// nodes to one backend (the executor may pick the backends of the two
// nodes independently, and the op table feeds the backward op arbitrary
// inputs). The oneDNN kernels of the two nodes, when they meet in one plan,
// share the workspace beside the primitives instead.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_join.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/recurrent_cell.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

using Cell = RecurrentCell;

// ---- Shapes ----

// Dims that must agree: a known dim wins over a symbolic one.
absl::Status Unify(int64_t* have, int64_t got, const std::string& what) {
  if (got == kSymbolicDim) return absl::OkStatus();
  if (*have != kSymbolicDim && *have != got) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", got, " but should be ", *have));
  }
  *have = got;
  return absl::OkStatus();
}

struct Dims {
  Cell cell;
  int64_t t = kSymbolicDim, b = kSymbolicDim, i = kSymbolicDim,
          h = kSymbolicDim;
};

// Checks inputs 0..5, x, h0, weight_ih, weight_hh, bias_ih and bias_hh,
// which both ops take first, and returns the dims they agree on.
absl::StatusOr<Dims> CheckInputs(const InferenceContext& c) {
  Dims d;
  ASSIGN_OR_RETURN(d.cell, ParseRecurrentCell(c.attrs().GetString("cell")));
  const char* names[] = {"x",         "h0",      "weight_ih",
                         "weight_hh", "bias_ih", "bias_hh"};
  const int ranks[] = {3, 2, 2, 2, 1, 1};
  for (int k = 0; k < 6; ++k) {
    if (c.input_shape(k).rank() != ranks[k]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", names[k], "' has shape ", c.input_shape(k).ToString(),
          "; it needs rank ", ranks[k]));
    }
  }
  const int64_t g = GateCount(d.cell);
  const Shape& x = c.input_shape(0);
  d.t = x.dim(0);
  d.b = x.dim(1);
  d.i = x.dim(2);
  const Shape& wih = c.input_shape(2);
  const Shape& whh = c.input_shape(3);
  RETURN_IF_ERROR(Unify(&d.h, whh.dim(1), "weight_hh's dim 1 (H)"));
  RETURN_IF_ERROR(Unify(&d.h, c.input_shape(1).dim(1), "h0's dim 1 (H)"));
  int64_t gh = d.h == kSymbolicDim ? kSymbolicDim : g * d.h;
  for (int k : {2, 3}) {
    RETURN_IF_ERROR(Unify(&gh, c.input_shape(k).dim(0),
                          absl::StrCat(names[k], "'s dim 0 (G*H)")));
  }
  for (int k : {4, 5}) {
    RETURN_IF_ERROR(Unify(&gh, c.input_shape(k).dim(0),
                          absl::StrCat(names[k], "'s size (G*H)")));
  }
  if (gh != kSymbolicDim) {
    if (gh % g != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the weights have ", gh, " rows, not a multiple of ", g, " gates"));
    }
    RETURN_IF_ERROR(Unify(&d.h, gh / g, "H from the weights' rows"));
  }
  RETURN_IF_ERROR(Unify(&d.i, wih.dim(1), "weight_ih's dim 1 (I)"));
  RETURN_IF_ERROR(Unify(&d.b, c.input_shape(1).dim(0), "h0's dim 0 (B)"));
  return d;
}

absl::Status CheckState(const InferenceContext& c, int k, const char* name,
                        Dims* d) {
  const Shape& s = c.input_shape(k);
  if (s.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", name, "' has shape ", s.ToString(), "; it needs [B, H]"));
  }
  RETURN_IF_ERROR(Unify(&d->b, s.dim(0), absl::StrCat(name, "'s dim 0 (B)")));
  return Unify(&d->h, s.dim(1), absl::StrCat(name, "'s dim 1 (H)"));
}

// RecurrentLayer(x, h0, weight_ih, weight_hh, bias_ih, bias_hh[, c0]).
absl::Status RecurrentLayerShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Dims d, CheckInputs(c));
  const int want = d.cell == Cell::kLstm ? 7 : 6;
  if (c.num_inputs() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cell '", c.attrs().GetString("cell"), "' takes ", want,
        " inputs (c0 is the last, for lstm only), not ", c.num_inputs()));
  }
  if (want == 7) RETURN_IF_ERROR(CheckState(c, 6, "c0", &d));
  const DType t = c.input_dtype(0);
  c.SetOutput(0, t, Shape{d.t, d.b, d.h});
  c.SetOutput(1, t, Shape{d.b, d.h});
  c.SetOutput(2, t, Shape{d.b, d.h});
  return absl::OkStatus();
}

// RecurrentLayerGrad(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, dy,
// dhn[, c0, dcn]).
absl::Status RecurrentLayerGradShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Dims d, CheckInputs(c));
  const int want = d.cell == Cell::kLstm ? 10 : 8;
  if (c.num_inputs() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cell '", c.attrs().GetString("cell"), "' takes ", want,
        " inputs (c0 and dcn last, for lstm only), not ", c.num_inputs()));
  }
  const Shape& dy = c.input_shape(6);
  if (dy.rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input 'dy' has shape ", dy.ToString(), "; it needs [T, B, H]"));
  }
  RETURN_IF_ERROR(Unify(&d.t, dy.dim(0), "dy's dim 0 (T)"));
  RETURN_IF_ERROR(Unify(&d.b, dy.dim(1), "dy's dim 1 (B)"));
  RETURN_IF_ERROR(Unify(&d.h, dy.dim(2), "dy's dim 2 (H)"));
  RETURN_IF_ERROR(CheckState(c, 7, "dhn", &d));
  if (want == 10) {
    RETURN_IF_ERROR(CheckState(c, 8, "c0", &d));
    RETURN_IF_ERROR(CheckState(c, 9, "dcn", &d));
  }
  const DType t = c.input_dtype(0);
  const int64_t gh =
      d.h == kSymbolicDim ? kSymbolicDim : GateCount(d.cell) * d.h;
  c.SetOutput(0, t, Shape{d.t, d.b, d.i});
  c.SetOutput(1, t, Shape{d.b, d.h});
  c.SetOutput(2, t, Shape{gh, d.i});
  c.SetOutput(3, t, Shape{gh, d.h});
  c.SetOutput(4, t, Shape{gh});
  c.SetOutput(5, t, Shape{gh});
  c.SetOutput(6, t, Shape{d.b, d.h});
  return absl::OkStatus();
}

// ---- Reference kernels ----
//
// Everything is computed in double, whatever T: the kernels are the
// semantic check of the oneDNN ones, and the sizes they see in tests are
// small.

double Sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

// out[r, o] (+)= sum_k a[r, k] * w[o, k]: a [rows, K] times w^T, w [O, K].
void MatMulT(const double* a, const double* w, int64_t rows, int64_t k,
             int64_t o, double* out, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < o; ++j) {
      double s = accumulate ? out[r * o + j] : 0;
      for (int64_t q = 0; q < k; ++q) s += a[r * k + q] * w[j * k + q];
      out[r * o + j] = s;
    }
  }
}

template <typename T>
std::vector<double> ToDouble(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<double>(p, p + t.num_elements());
}

template <typename T>
void FromDouble(const std::vector<double>& v, Tensor& t) {
  T* p = t.data<T>();
  for (int64_t k = 0; k < t.num_elements(); ++k) p[k] = static_cast<T>(v[k]);
}

// Writes t [T, ...] into `to` (same shape) with its steps in reverse
// order: a layer with `reverse` is the plain recurrence over the reversed
// sequence.
void CopyStepsReversed(const Tensor& t, Tensor& to) {
  const int64_t steps = t.shape().dim(0);
  if (t.byte_size() == 0) return;  // memcpy must not see empty buffers.
  const int64_t row = t.byte_size() / steps;
  const char* from = static_cast<const char*>(t.raw_data());
  char* out = static_cast<char*>(to.raw_data());
  for (int64_t s = 0; s < steps; ++s) {
    std::memcpy(out + s * row, from + (steps - 1 - s) * row, row);
  }
}

Tensor StepsReversed(const Tensor& t) {
  Tensor r = *Tensor::Allocate(t.dtype(), t.shape());
  CopyStepsReversed(t, r);
  return r;
}

// Writes v, a [T, ...] result computed over the steps in the order the
// layer ran them, into `out` in input order.
template <typename T>
void WriteSteps(const std::vector<double>& v, bool reverse, Tensor& out) {
  if (!reverse) {
    FromDouble<T>(v, out);
    return;
  }
  Tensor ran = *Tensor::Allocate(out.dtype(), out.shape());
  FromDouble<T>(v, ran);
  CopyStepsReversed(ran, out);
}

// One layer's forward pass, keeping what the backward pass needs.
struct ForwardPass {
  Cell cell;
  int64_t t, b, i, h, g;
  std::vector<double> x, w_ih, w_hh, b_ih, b_hh;
  // States h_0..h_T and (LSTM) c_0..c_T, [T+1, B, H].
  std::vector<double> hs, cs;
  // Per step [B, G*H]: the gates after their nonlinearity (RNN: h itself;
  // LSTM i, f, g, o; GRU r, z, n).
  std::vector<double> act;
  // Per step [B, H]: PyTorch's GRU W_hn h + b_hn; the seed GRU r * h.
  std::vector<double> aux;

  // Pointer arithmetic rather than &v[k]: with an empty batch the vectors
  // are empty, and indexing one is undefined (UBSan says so).

  double* Act(int64_t s) { return act.data() + s * b * g * h; }
  double* Aux(int64_t s) { return aux.data() + s * b * h; }
  double* H(int64_t s) { return hs.data() + s * b * h; }
  double* C(int64_t s) { return cs.data() + s * b * h; }

  // inputs: x, h0, weight_ih, weight_hh, bias_ih, bias_hh, and c0 at
  // `c0_index` (LSTM).
  template <typename T>
  void Run(Cell c, const std::vector<Tensor>& in, int c0_index) {
    cell = c;
    t = in[0].shape().dim(0);
    b = in[0].shape().dim(1);
    i = in[0].shape().dim(2);
    h = in[1].shape().dim(1);
    g = GateCount(c);
    x = ToDouble<T>(in[0]);
    w_ih = ToDouble<T>(in[2]);
    w_hh = ToDouble<T>(in[3]);
    b_ih = ToDouble<T>(in[4]);
    b_hh = ToDouble<T>(in[5]);
    hs.assign((t + 1) * b * h, 0);
    std::vector<double> h0 = ToDouble<T>(in[1]);
    std::copy(h0.begin(), h0.end(), hs.begin());
    if (c == Cell::kLstm) {
      cs.assign((t + 1) * b * h, 0);
      std::vector<double> c0 = ToDouble<T>(in[c0_index]);
      std::copy(c0.begin(), c0.end(), cs.begin());
    }
    act.assign(t * b * g * h, 0);
    aux.assign(t * b * h, 0);
    const int64_t gh = g * h;
    // The input projection of every step at once, plus bias_ih.
    std::vector<double> xp(t * b * gh);
    MatMulT(x.data(), w_ih.data(), t * b, i, gh, xp.data(), false);
    for (int64_t r = 0; r < t * b; ++r) {
      for (int64_t j = 0; j < gh; ++j) xp[r * gh + j] += b_ih[j];
    }
    std::vector<double> hp(b * gh);
    for (int64_t s = 0; s < t; ++s) {
      const double* hprev = H(s);
      double* hnext = H(s + 1);
      // The seed GRU's n rows multiply r * h, known only after r: they are
      // recomputed below.
      MatMulT(hprev, w_hh.data(), b, h, gh, hp.data(), false);
      for (int64_t r = 0; r < b; ++r) {
        for (int64_t j = 0; j < gh; ++j) hp[r * gh + j] += b_hh[j];
      }
      double* a = Act(s);
      double* ax = Aux(s);
      for (int64_t r = 0; r < b; ++r) {
        const double* xr = &xp[(s * b + r) * gh];
        const double* hr = &hp[r * gh];
        double* ar = &a[r * gh];
        for (int64_t k = 0; k < h; ++k) {
          const int64_t o = r * h + k;
          switch (cell) {
            case Cell::kRnnTanh:
              ar[k] = std::tanh(xr[k] + hr[k]);
              hnext[o] = ar[k];
              break;
            case Cell::kRnnRelu:
              ar[k] = std::max(0.0, xr[k] + hr[k]);
              hnext[o] = ar[k];
              break;
            case Cell::kLstm: {
              double ig = Sigmoid(xr[k] + hr[k]);
              double fg = Sigmoid(xr[h + k] + hr[h + k]);
              double gg = std::tanh(xr[2 * h + k] + hr[2 * h + k]);
              double og = Sigmoid(xr[3 * h + k] + hr[3 * h + k]);
              ar[k] = ig;
              ar[h + k] = fg;
              ar[2 * h + k] = gg;
              ar[3 * h + k] = og;
              double cn = fg * C(s)[o] + ig * gg;
              C(s + 1)[o] = cn;
              hnext[o] = og * std::tanh(cn);
              break;
            }
            case Cell::kGruPyTorch: {
              double rg = Sigmoid(xr[k] + hr[k]);
              double zg = Sigmoid(xr[h + k] + hr[h + k]);
              double ng = std::tanh(xr[2 * h + k] + rg * hr[2 * h + k]);
              ar[k] = rg;
              ar[h + k] = zg;
              ar[2 * h + k] = ng;
              ax[o] = hr[2 * h + k];
              hnext[o] = (1 - zg) * ng + zg * hprev[o];
              break;
            }
            case Cell::kGru: {
              ar[k] = Sigmoid(xr[k] + hr[k]);
              ar[h + k] = Sigmoid(xr[h + k] + hr[h + k]);
              ax[o] = ar[k] * hprev[o];
              break;
            }
          }
        }
      }
      if (cell != Cell::kGru) continue;
      // n = tanh(x_n + (r h) W_hn^T + b_hn); h' = (1 - z) h + z n.
      std::vector<double> hn(b * h);
      MatMulT(ax, w_hh.data() + 2 * h * h, b, h, h, hn.data(), false);
      for (int64_t r = 0; r < b; ++r) {
        for (int64_t k = 0; k < h; ++k) {
          const int64_t o = r * h + k;
          double* ar = &a[r * gh];
          double ng = std::tanh(xp[(s * b + r) * gh + 2 * h + k] + hn[o] +
                                b_hh[2 * h + k]);
          ar[2 * h + k] = ng;
          hnext[o] = (1 - ar[h + k]) * hprev[o] + ar[h + k] * ng;
        }
      }
    }
  }
};

template <typename T>
struct RecurrentLayerReference : OpKernel {
  explicit RecurrentLayerReference(const KernelArgs& a)
      : cell(RecurrentCellOf(a)),
        reverse(a.attrs.GetBool("reverse")),
        in(a.inputs),
        out(a.outputs) {}

  absl::Status Compute() override {
    ForwardPass f;
    std::vector<Tensor> steps = in;
    if (reverse) steps[0] = StepsReversed(in[0]);
    f.Run<T>(cell, steps, 6);
    const int64_t bh = f.b * f.h;
    std::vector<double> y(f.hs.begin() + bh, f.hs.end());
    WriteSteps<T>(y, reverse, out[0]);
    std::vector<double> hn(f.hs.end() - bh, f.hs.end());
    FromDouble<T>(hn, out[1]);
    if (cell == Cell::kLstm) {
      std::vector<double> cn(f.cs.end() - bh, f.cs.end());
      FromDouble<T>(cn, out[2]);
    } else {
      FromDouble<T>(hn, out[2]);
    }
    return absl::OkStatus();
  }

  Cell cell;
  bool reverse;
  std::vector<Tensor> in, out;
};

// Backpropagation through time over the recomputed forward pass.
template <typename T>
struct RecurrentLayerGradReference : OpKernel {
  explicit RecurrentLayerGradReference(const KernelArgs& a)
      : cell(RecurrentCellOf(a)),
        reverse(a.attrs.GetBool("reverse")),
        in(a.inputs),
        out(a.outputs) {}

  absl::Status Compute() override {
    ForwardPass f;
    std::vector<Tensor> steps = in;
    if (reverse) {
      steps[0] = StepsReversed(in[0]);
      steps[6] = StepsReversed(in[6]);
    }
    f.Run<T>(cell, steps, 8);
    const int64_t t = f.t, b = f.b, h = f.h, i = f.i, gh = f.g * h;
    const bool lstm = cell == Cell::kLstm;
    std::vector<double> dy = ToDouble<T>(steps[6]);
    std::vector<double> dh = ToDouble<T>(in[7]);  // Into the current state.
    std::vector<double> dc(b * h, 0);
    if (lstm) dc = ToDouble<T>(in[9]);
    // The gradients of every step's input projection [T*B, G*H] and of the
    // recurrent projection (before bias) of one step.
    std::vector<double> dxp(t * b * gh, 0), dhp(b * gh);
    std::vector<double> dw_hh(gh * h, 0), db_hh(gh, 0);
    std::vector<double> dprev(b * h);
    for (int64_t s = t - 1; s >= 0; --s) {
      const double* a = f.Act(s);
      const double* ax = f.Aux(s);
      const double* hprev = f.H(s);
      const double* hnext = f.H(s + 1);
      double* dx_s = dxp.data() + s * b * gh;
      for (int64_t k = 0; k < b * h; ++k) dh[k] += dy[s * b * h + k];
      std::fill(dprev.begin(), dprev.end(), 0.0);
      for (int64_t r = 0; r < b; ++r) {
        const double* ar = &a[r * gh];
        double* dxr = &dx_s[r * gh];
        double* dhr = &dhp[r * gh];
        for (int64_t k = 0; k < h; ++k) {
          const int64_t o = r * h + k;
          const double d = dh[o];
          switch (cell) {
            case Cell::kRnnTanh:
              dxr[k] = dhr[k] = d * (1 - hnext[o] * hnext[o]);
              break;
            case Cell::kRnnRelu:
              dxr[k] = dhr[k] = hnext[o] > 0 ? d : 0;
              break;
            case Cell::kLstm: {
              double ig = ar[k], fg = ar[h + k], gg = ar[2 * h + k],
                     og = ar[3 * h + k];
              double tc = std::tanh(f.C(s + 1)[o]);
              double dcell = dc[o] + d * og * (1 - tc * tc);
              double pre[4] = {
                  dcell * gg * ig * (1 - ig), dcell * f.C(s)[o] * fg * (1 - fg),
                  dcell * ig * (1 - gg * gg), d * tc * og * (1 - og)};
              for (int q = 0; q < 4; ++q)
                dxr[q * h + k] = dhr[q * h + k] = pre[q];
              dc[o] = dcell * fg;
              break;
            }
            case Cell::kGruPyTorch: {
              double rg = ar[k], zg = ar[h + k], ng = ar[2 * h + k];
              double dn = d * (1 - zg) * (1 - ng * ng);
              double dz = d * (hprev[o] - ng) * zg * (1 - zg);
              double dr = dn * ax[o] * rg * (1 - rg);
              dxr[k] = dhr[k] = dr;
              dxr[h + k] = dhr[h + k] = dz;
              dxr[2 * h + k] = dn;
              dhr[2 * h + k] = dn * rg;
              dprev[o] += d * zg;
              break;
            }
            case Cell::kGru: {
              double zg = ar[h + k], ng = ar[2 * h + k];
              double dn = d * zg * (1 - ng * ng);
              dxr[h + k] = dhr[h + k] = d * (ng - hprev[o]) * zg * (1 - zg);
              dxr[2 * h + k] = dhr[2 * h + k] = dn;
              dprev[o] += d * (1 - zg);
              break;
            }
          }
        }
      }
      if (cell == Cell::kGru) {
        // d(r h) = dn W_hn; then r and h share it.
        std::vector<double> drh(b * h, 0);
        for (int64_t r = 0; r < b; ++r) {
          for (int64_t k = 0; k < h; ++k) {
            double s2 = 0;
            for (int64_t j = 0; j < h; ++j) {
              s2 += dhp[r * gh + 2 * h + j] * f.w_hh[(2 * h + j) * h + k];
            }
            drh[r * h + k] = s2;
          }
        }
        for (int64_t r = 0; r < b; ++r) {
          for (int64_t k = 0; k < h; ++k) {
            const int64_t o = r * h + k;
            double rg = a[r * gh + k];
            double dr = drh[o] * hprev[o] * rg * (1 - rg);
            dx_s[r * gh + k] = dhp[r * gh + k] = dr;
            dprev[o] += drh[o] * rg;
          }
        }
      }
      // The recurrent weights: each block of rows multiplies h_{t-1}, except
      // the seed GRU's n rows, which multiply r h.
      for (int64_t j = 0; j < gh; ++j) {
        const bool by_rh = cell == Cell::kGru && j >= 2 * h;
        for (int64_t r = 0; r < b; ++r) {
          const double d = dhp[r * gh + j];
          db_hh[j] += d;
          const double* src = by_rh ? &ax[r * h] : &hprev[r * h];
          for (int64_t k = 0; k < h; ++k) dw_hh[j * h + k] += d * src[k];
          if (by_rh) continue;
          for (int64_t k = 0; k < h; ++k) {
            dprev[r * h + k] += d * f.w_hh[j * h + k];
          }
        }
      }
      dh = dprev;
    }
    // The input projection of all steps at once.
    std::vector<double> dx(t * b * i, 0), dw_ih(gh * i, 0), db_ih(gh, 0);
    for (int64_t r = 0; r < t * b; ++r) {
      for (int64_t j = 0; j < gh; ++j) {
        const double d = dxp[r * gh + j];
        db_ih[j] += d;
        for (int64_t k = 0; k < i; ++k) {
          dx[r * i + k] += d * f.w_ih[j * i + k];
          dw_ih[j * i + k] += d * f.x[r * i + k];
        }
      }
    }
    WriteSteps<T>(dx, reverse, out[0]);
    FromDouble<T>(dh, out[1]);
    FromDouble<T>(dw_ih, out[2]);
    FromDouble<T>(dw_hh, out[3]);
    FromDouble<T>(db_ih, out[4]);
    FromDouble<T>(db_hh, out[5]);
    if (!lstm) std::fill(dc.begin(), dc.end(), 0.0);
    FromDouble<T>(dc, out[6]);
    return absl::OkStatus();
  }

  Cell cell;
  bool reverse;
  std::vector<Tensor> in, out;
};

// ---- Gradient ----

// One RecurrentLayerGrad for every input. cn is hn again for the cells
// without a cell state, so the gradients reaching both are summed.
absl::Status RecurrentLayerGradient(GradContext& g) {
  const bool lstm = g.attrs().GetString("cell") == "lstm";
  std::vector<std::string> in;
  for (int k = 0; k < 6; ++k) in.push_back(g.input(k));
  in.push_back(g.OutputGradOrZeros(0));
  std::string dhn = g.OutputGradOrZeros(1);
  if (!lstm && !g.output_grad(2).empty()) {
    dhn = g.Emit("Add", {dhn, g.output_grad(2)});
  }
  in.push_back(dhn);
  if (lstm) {
    in.push_back(g.input(6));
    in.push_back(g.OutputGradOrZeros(2));
  }
  std::map<std::string, AttrValue> attrs = g.AttrsOf({"cell", "reverse"});
  attrs["forward"] = StringAttr(g.node().name());
  const std::string grads = g.Emit("RecurrentLayerGrad", in, attrs);
  for (int k = 0; k < 6; ++k) {
    if (g.Wants(k)) g.SetInputGrad(k, absl::StrCat(grads, ":", k));
  }
  if (lstm && g.Wants(6)) g.SetInputGrad(6, absl::StrCat(grads, ":6"));
  return absl::OkStatus();
}

}  // namespace

namespace {

// The `cell` attr's spellings, in enum order.
constexpr const char* kCellNames[] = {"rnn_tanh", "rnn_relu", "lstm", "gru",
                                      "gru_pytorch"};

}  // namespace

absl::StatusOr<RecurrentCell> ParseRecurrentCell(const std::string& s) {
  for (size_t k = 0; k < std::size(kCellNames); ++k) {
    if (s == kCellNames[k]) return static_cast<RecurrentCell>(k);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "attr 'cell' = '", s, "' is not one of ",
      absl::StrJoin(std::begin(kCellNames), std::end(kCellNames), ", ")));
}

const char* RecurrentCellName(RecurrentCell cell) {
  return kCellNames[static_cast<int>(cell)];
}

int64_t GateCount(RecurrentCell c) {
  switch (c) {
    case RecurrentCell::kLstm:
      return 4;
    case RecurrentCell::kGru:
    case RecurrentCell::kGruPyTorch:
      return 3;
    default:
      return 1;
  }
}

RecurrentCell RecurrentCellOf(const KernelArgs& a) {
  return *ParseRecurrentCell(a.attrs.GetString("cell"));
}

void RegisterRecurrentOps(OpRegistry& r) {
  r.Add(OpDef("RecurrentLayer")
            .Doc("One unidirectional recurrent layer over a whole sequence, "
                 "the equations of models/rnn.h (SPEC.md \"Block "
                 "semantics\") in PyTorch's layout: x [T, B, I], h0 [B, H], "
                 "weight_ih [G*H, I], weight_hh [G*H, H], bias_ih and "
                 "bias_hh [G*H], and for cell 'lstm' only a last input c0 "
                 "[B, H]. `cell`: rnn_tanh, rnn_relu (G = 1), lstm (G = 4, "
                 "gates i, f, g, o), gru (the seed GRU: reset before the "
                 "W_hn matmul, h' = (1 - z) h + z n) or gru_pytorch "
                 "(PyTorch's: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), "
                 "h' = (1 - z) n + z h), GRU gates r, z, n (G = 3). H comes "
                 "from the weights. `reverse` runs the recurrence from the "
                 "last step to the first (the backward direction of a "
                 "bidirectional layer; y stays in input order). Outputs "
                 "y [T, B, H] (h of every step), hn [B, H] and cn [B, H], "
                 "the final cell state for lstm and hn again for the other "
                 "cells. No workspace is output; see RecurrentLayerGrad's "
                 "`forward`. With bf16 precision its kernel (and its "
                 "gradient's) multiplies bf16 x, h and weights with f32 "
                 "accumulation; bias, cell state and gradients stay f32. "
                 "The LSTM then runs rill's own kernels on oneDNN matmuls "
                 "(ops/recurrent_lstm_matmul.h), the other cells oneDNN's "
                 "RNN primitives.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Input("h0", "T")
            .Input("weight_ih", "T")
            .Input("weight_hh", "T")
            .Input("bias_ih", "T")
            .Input("bias_hh", "T")
            .VariadicInput("c0", "T", 0)
            .Output("y")
            .Output("hn")
            .Output("cn")
            .Attr("cell", AttrType::kString)
            .Attr("reverse", AttrType::kBool, BoolAttr(false))
            .Shape(RecurrentLayerShape)
            .Gradient(RecurrentLayerGradient)
            .Reference(MakeFloatKernel<RecurrentLayerReference>)
            .OneDnn(MakeRecurrentLayerOneDnn)
            .FollowsPrecision());
  r.Add(OpDef("RecurrentLayerGrad")
            .Doc("The gradient of RecurrentLayer (same `cell` and "
                 "`reverse`) from its inputs x, h0, weight_ih, weight_hh, "
                 "bias_ih, bias_hh and "
                 "the gradients dy [T, B, H] and dhn [B, H] reaching y and "
                 "hn; for lstm two more inputs follow, c0 and dcn. For the "
                 "other cells pass dhn + dcn as dhn (cn is hn). Recomputes "
                 "the forward pass (on oneDNN, unless the RecurrentLayer "
                 "node named by `forward` ran in the same run over the same "
                 "tensors and kept its workspace for it), then "
                 "backpropagates through time. Outputs dx, dh0, dweight_ih, "
                 "dweight_hh, dbias_ih, "
                 "dbias_hh and dc0 (zeros but for lstm). Not "
                 "differentiable, by design: second order through a fused "
                 "layer is out of scope; the unrolled builders "
                 "(models/rnn.h) give it.")
            .TypeVar("T", kFloatTypes)
            .Input("x", "T")
            .Input("h0", "T")
            .Input("weight_ih", "T")
            .Input("weight_hh", "T")
            .Input("bias_ih", "T")
            .Input("bias_hh", "T")
            .Input("dy", "T")
            .Input("dhn", "T")
            .VariadicInput("lstm_state", "T", 0)
            .Output("dx")
            .Output("dh0")
            .Output("dweight_ih")
            .Output("dweight_hh")
            .Output("dbias_ih")
            .Output("dbias_hh")
            .Output("dc0")
            .Attr("cell", AttrType::kString)
            .Attr("reverse", AttrType::kBool, BoolAttr(false))
            // The RecurrentLayer node this is the gradient of: on oneDNN,
            // its kernel runs the forward_training pass this kernel would
            // otherwise recompute (ops/recurrent_link.h). Optional.
            .Attr("forward", AttrType::kString, StringAttr(""))
            .Shape(RecurrentLayerGradShape)
            .NoGradient()
            .Reference(MakeFloatKernel<RecurrentLayerGradReference>)
            .OneDnn(MakeRecurrentLayerGradOneDnn)
            .FollowsPrecision());
}

}  // namespace rill

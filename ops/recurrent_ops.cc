// Fused recurrent layers (issue 6): RecurrentLayer runs one unidirectional
// RNN, LSTM or GRU layer over a whole sequence, RecurrentLayerGrad is its
// backward op. The equations are those of models/rnn.h (the unrolled
// builders, SPEC.md "Block semantics"), with PyTorch's weight layout.
//
// No workspace passes from the forward op to the backward op: the backward
// recomputes the forward itself (the reference kernel its gate activations,
// the oneDNN kernel a forward_training run for oneDNN's own workspace).
// oneDNN's workspace is an opaque, build-specific layout that the reference
// kernel cannot read or write, so a tensor holding it would tie the two
// nodes to one backend (the executor may pick the backends of the two
// nodes independently, and the op table feeds the backward op arbitrary
// inputs). The price is one extra forward pass in every backward; removing
// it is left to the executor's fused path, which can keep the workspace
// next to the primitives.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/onednn_rnn.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

enum class Cell { kRnnTanh, kRnnRelu, kLstm, kGru, kGruPyTorch };

absl::StatusOr<Cell> ParseCell(const std::string& s) {
  if (s == "rnn_tanh") return Cell::kRnnTanh;
  if (s == "rnn_relu") return Cell::kRnnRelu;
  if (s == "lstm") return Cell::kLstm;
  if (s == "gru") return Cell::kGru;
  if (s == "gru_pytorch") return Cell::kGruPyTorch;
  return absl::InvalidArgumentError(
      absl::StrCat("attr 'cell' = '", s,
                   "' is not one of rnn_tanh, rnn_relu, lstm, gru, "
                   "gru_pytorch"));
}

int64_t Gates(Cell c) {
  switch (c) {
    case Cell::kLstm:
      return 4;
    case Cell::kGru:
    case Cell::kGruPyTorch:
      return 3;
    default:
      return 1;
  }
}

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
  ASSIGN_OR_RETURN(d.cell, ParseCell(c.attrs().GetString("cell")));
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
  const int64_t g = Gates(d.cell);
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
  const int64_t gh = d.h == kSymbolicDim ? kSymbolicDim : Gates(d.cell) * d.h;
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
    g = Gates(c);
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

Cell CellOf(const KernelArgs& a) {
  return *ParseCell(a.attrs.GetString("cell"));
}

template <typename T>
struct RecurrentLayerReference : OpKernel {
  explicit RecurrentLayerReference(const KernelArgs& a)
      : cell(CellOf(a)), in(a.inputs), out(a.outputs) {}

  absl::Status Compute() override {
    ForwardPass f;
    f.Run<T>(cell, in, 6);
    const int64_t bh = f.b * f.h;
    std::vector<double> y(f.hs.begin() + bh, f.hs.end());
    FromDouble<T>(y, out[0]);
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
  std::vector<Tensor> in, out;
};

// Backpropagation through time over the recomputed forward pass.
template <typename T>
struct RecurrentLayerGradReference : OpKernel {
  explicit RecurrentLayerGradReference(const KernelArgs& a)
      : cell(CellOf(a)), in(a.inputs), out(a.outputs) {}

  absl::Status Compute() override {
    ForwardPass f;
    f.Run<T>(cell, in, 8);
    const int64_t t = f.t, b = f.b, h = f.h, i = f.i, gh = f.g * h;
    const bool lstm = cell == Cell::kLstm;
    std::vector<double> dy = ToDouble<T>(in[6]);
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
    FromDouble<T>(dx, out[0]);
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
  std::vector<Tensor> in, out;
};

// ---- oneDNN kernels ----
//
// oneDNN 2.6's lstm, gru (the seed GRU), lbr_gru (PyTorch's) and
// vanilla_rnn primitives, f32; ops/onednn_rnn.h converts between PyTorch's
// gate blocks and theirs.
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
  int64_t t, b, i, h, g;
  memory::desc src, dst, state, wl_any, wi_any, bias, wl_user, wi_user;

  explicit RnnShapes(Cell c, const Shape& x, int64_t hidden)
      : cell(c), t(x.dim(0)), b(x.dim(1)), i(x.dim(2)), h(hidden), g(Gates(c)) {
    const auto f32 = memory::data_type::f32;
    src = memory::desc({t, b, i}, f32, Tag::tnc);
    dst = memory::desc({t, b, h}, f32, Tag::tnc);
    state = memory::desc({1, 1, b, h}, f32, Tag::ldnc);
    wl_any = memory::desc({1, 1, i, g, h}, f32, Tag::any);
    wi_any = memory::desc({1, 1, h, g, h}, f32, Tag::any);
    wl_user = memory::desc({1, 1, i, g, h}, f32, Tag::ldgoi);
    wi_user = memory::desc({1, 1, h, g, h}, f32, Tag::ldgoi);
    bias = memory::desc({1, 1, OneDnnRnnBiasGates(DnnlCell(c)), h}, f32,
                        Tag::ldgo);
  }
};

// Builds the forward primitive (and, with `backward`, the backward one
// with the forward as its hint). Explicit initial states are always
// given: oneDNN 2.6's backward gets diff_weights_iter wrong without them
// (bench/rnn_bench.cc).
RnnDescs MakeRnnDescs(const RnnShapes& s, const dnnl::engine& eng,
                      bool backward) {
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  const auto prop = backward ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  const auto bprop = dnnl::prop_kind::backward;
  const memory::desc &x = s.src, &y = s.dst, &st = s.state, &wl = s.wl_any,
                     &wi = s.wi_any, &bias = s.bias;
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
            {bprop, act, dir, x, st, wl, wi, bias, y, st, x, st, wl, wi, bias,
             y, st},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::vanilla_rnn_backward(b);
      }
      break;
    }
    case Cell::kLstm: {
      dnnl::lstm_forward::primitive_desc f(
          {prop, dir, x, st, st, wl, wi, bias, y, st, st}, eng);
      d.fwd = f;
      d.fwd_p = dnnl::lstm_forward(f);
      if (backward) {
        dnnl::lstm_backward::primitive_desc b(
            {bprop, dir, x,  st, st, wl, wi,   bias, y,  st,
             st,    x,   st, st, wl, wi, bias, y,    st, st},
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
            {bprop, dir, x, st, wl, wi, bias, y, st, x, st, wl, wi, bias, y,
             st},
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
            {bprop, dir, x, st, wl, wi, bias, y, st, x, st, wl, wi, bias, y,
             st},
            eng, f);
        d.bwd = b;
        d.bwd_p = dnnl::lbr_gru_backward(b);
      }
      break;
    }
  }
  return d;
}

// Weights and bias in the primitives' layouts, refreshed from the op's
// inputs on every run: PyTorch's blocks go into ldgoi staging buffers once,
// then are reordered into each layout a primitive asked for.
class RnnWeights {
 public:
  RnnWeights(const RnnShapes& s, const dnnl::engine& eng, const KernelArgs& a)
      : s_(s),
        eng_(eng),
        w_ih_(a.inputs[2]),
        w_hh_(a.inputs[3]),
        b_ih_(a.inputs[4]),
        b_hh_(a.inputs[5]),
        wl_user_(s.wl_user, eng),
        wi_user_(s.wi_user, eng),
        bias_(s.bias, eng) {}

  // weight_ih in layout `want` (weights_layer_desc of a primitive).
  memory Layer(const memory::desc& want) { return Target(wl_user_, want); }
  // weight_hh in layout `want` (weights_iter_desc).
  memory Iter(const memory::desc& want) { return Target(wi_user_, want); }
  const memory& bias() const { return bias_; }

  void Refresh(dnnl::stream& stream) {
    const OneDnnRnnCell c = DnnlCell(s_.cell);
    PyTorchToOneDnnWeights(c, w_ih_.data<float>(), s_.h, s_.i,
                           static_cast<float*>(wl_user_.get_data_handle()));
    PyTorchToOneDnnWeights(c, w_hh_.data<float>(), s_.h, s_.h,
                           static_cast<float*>(wi_user_.get_data_handle()));
    PyTorchToOneDnnBias(c, b_ih_.data<float>(), b_hh_.data<float>(), s_.h,
                        static_cast<float*>(bias_.get_data_handle()));
    for (auto& [reorder, from, to] : reorders_) {
      reorder.execute(stream, from, to);
    }
  }

 private:
  memory Target(const memory& user, const memory::desc& want) {
    if (want == user.get_desc()) return user;
    memory m(want, eng_);
    reorders_.push_back({dnnl::reorder(user, m), user, m});
    return m;
  }

  RnnShapes s_;
  dnnl::engine eng_;
  Tensor w_ih_, w_hh_, b_ih_, b_hh_;
  memory wl_user_, wi_user_, bias_;
  std::vector<std::tuple<dnnl::reorder, memory, memory>> reorders_;
};

// Runs `f` and turns a dnnl::error into a Status naming the node.
absl::Status DnnlRun(const std::string& node, const std::function<void()>& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("node '", node, "': oneDNN: ", e.what()));
  }
  return absl::OkStatus();
}

class RecurrentLayerOneDnnKernel : public OpKernel {
 public:
  explicit RecurrentLayerOneDnnKernel(const KernelArgs& a)
      : node_(a.node.name()),
        stream_(&a.onednn->stream),
        s_(CellOf(a), a.inputs[0].shape(), a.inputs[1].shape().dim(1)),
        d_(MakeRnnDescs(s_, a.onednn->engine, false)),
        w_(s_, a.onednn->engine, a),
        hn_(a.outputs[1]),
        cn_(a.outputs[2]) {
    const dnnl::engine& eng = a.onednn->engine;
    args_ = {{DNNL_ARG_SRC_LAYER, memory(s_.src, eng, a.inputs[0].raw_data())},
             {DNNL_ARG_SRC_ITER, memory(s_.state, eng, a.inputs[1].raw_data())},
             {DNNL_ARG_WEIGHTS_LAYER, w_.Layer(d_.fwd.weights_layer_desc())},
             {DNNL_ARG_WEIGHTS_ITER, w_.Iter(d_.fwd.weights_iter_desc())},
             {DNNL_ARG_BIAS, w_.bias()},
             {DNNL_ARG_DST_LAYER, memory(s_.dst, eng, a.outputs[0].raw_data())},
             {DNNL_ARG_DST_ITER, memory(s_.state, eng, hn_.raw_data())}};
    if (s_.cell == Cell::kLstm) {
      args_[DNNL_ARG_SRC_ITER_C] =
          memory(s_.state, eng, a.inputs[6].raw_data());
      args_[DNNL_ARG_DST_ITER_C] = memory(s_.state, eng, cn_.raw_data());
    }
  }

  absl::Status Compute() override {
    RETURN_IF_ERROR(DnnlRun(node_, [&] {
      w_.Refresh(*stream_);
      d_.fwd_p.execute(*stream_, args_);
      stream_->wait();
    }));
    // Only the LSTM has a cell state; the others output hn again.
    if (s_.cell != Cell::kLstm) {
      std::memcpy(cn_.raw_data(), hn_.raw_data(),
                  hn_.num_elements() * sizeof(float));
    }
    return absl::OkStatus();
  }

 private:
  std::string node_;
  dnnl::stream* stream_;
  RnnShapes s_;
  RnnDescs d_;
  RnnWeights w_;
  Tensor hn_, cn_;
  std::unordered_map<int, memory> args_;
};

// forward_training (into the kernel's own buffers, for oneDNN's
// workspace), then backward.
class RecurrentLayerGradOneDnnKernel : public OpKernel {
 public:
  explicit RecurrentLayerGradOneDnnKernel(const KernelArgs& a)
      : node_(a.node.name()),
        stream_(&a.onednn->stream),
        s_(CellOf(a), a.inputs[0].shape(), a.inputs[1].shape().dim(1)),
        d_(MakeRnnDescs(s_, a.onednn->engine, true)),
        w_(s_, a.onednn->engine, a),
        outputs_(a.outputs) {
    const dnnl::engine& eng = a.onednn->engine;
    const bool lstm = s_.cell == Cell::kLstm;
    auto over = [&](const memory::desc& md, const Tensor& t) {
      return memory(md, eng, t.raw_data());
    };
    memory x = over(s_.src, a.inputs[0]), h0 = over(s_.state, a.inputs[1]);
    memory y(s_.dst, eng), hn(s_.state, eng), cn(s_.state, eng);
    memory ws(d_.fwd.workspace_desc(), eng);
    fwd_args_ = {
        {DNNL_ARG_SRC_LAYER, x},
        {DNNL_ARG_SRC_ITER, h0},
        {DNNL_ARG_WEIGHTS_LAYER, w_.Layer(d_.fwd.weights_layer_desc())},
        {DNNL_ARG_WEIGHTS_ITER, w_.Iter(d_.fwd.weights_iter_desc())},
        {DNNL_ARG_BIAS, w_.bias()},
        {DNNL_ARG_DST_LAYER, y},
        {DNNL_ARG_DST_ITER, hn},
        {DNNL_ARG_WORKSPACE, ws}};
    dwl_ = memory(d_.bwd.diff_weights_layer_desc(), eng);
    dwi_ = memory(d_.bwd.diff_weights_iter_desc(), eng);
    dbias_ = memory(d_.bwd.diff_bias_desc(), eng);
    dwl_user_ = memory(s_.wl_user, eng);
    dwi_user_ = memory(s_.wi_user, eng);
    bwd_args_ = {
        {DNNL_ARG_SRC_LAYER, x},
        {DNNL_ARG_SRC_ITER, h0},
        {DNNL_ARG_WEIGHTS_LAYER, w_.Layer(d_.bwd.weights_layer_desc())},
        {DNNL_ARG_WEIGHTS_ITER, w_.Iter(d_.bwd.weights_iter_desc())},
        {DNNL_ARG_BIAS, w_.bias()},
        {DNNL_ARG_DST_LAYER, y},
        {DNNL_ARG_DST_ITER, hn},
        {DNNL_ARG_WORKSPACE, ws},
        {DNNL_ARG_DIFF_DST_LAYER, over(s_.dst, a.inputs[6])},
        {DNNL_ARG_DIFF_DST_ITER, over(s_.state, a.inputs[7])},
        {DNNL_ARG_DIFF_SRC_LAYER, over(s_.src, a.outputs[0])},
        {DNNL_ARG_DIFF_SRC_ITER, over(s_.state, a.outputs[1])},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_},
        {DNNL_ARG_DIFF_BIAS, dbias_}};
    if (lstm) {
      memory c0 = over(s_.state, a.inputs[8]);
      fwd_args_[DNNL_ARG_SRC_ITER_C] = c0;
      fwd_args_[DNNL_ARG_DST_ITER_C] = cn;
      bwd_args_[DNNL_ARG_SRC_ITER_C] = c0;
      bwd_args_[DNNL_ARG_DST_ITER_C] = cn;
      bwd_args_[DNNL_ARG_DIFF_DST_ITER_C] = over(s_.state, a.inputs[9]);
      bwd_args_[DNNL_ARG_DIFF_SRC_ITER_C] = over(s_.state, a.outputs[6]);
    }
  }

  absl::Status Compute() override {
    RETURN_IF_ERROR(DnnlRun(node_, [&] {
      w_.Refresh(*stream_);
      d_.fwd_p.execute(*stream_, fwd_args_);
      // The backward adds its weight gradients to what these hold.
      for (memory* m : {&dwl_, &dwi_, &dbias_}) {
        std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
      }
      d_.bwd_p.execute(*stream_, bwd_args_);
      dnnl::reorder(dwl_, dwl_user_).execute(*stream_, dwl_, dwl_user_);
      dnnl::reorder(dwi_, dwi_user_).execute(*stream_, dwi_, dwi_user_);
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
  std::string node_;
  dnnl::stream* stream_;
  RnnShapes s_;
  RnnDescs d_;
  RnnWeights w_;
  std::vector<Tensor> outputs_;
  memory dwl_, dwi_, dbias_, dwl_user_, dwi_user_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
};

template <typename Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> RecurrentOneDnn(const KernelArgs& a) {
  if (!OneDnnCanRun(a)) return nullptr;
  return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
    return std::make_unique<Kernel>(a);
  });
}

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
  const std::string grads =
      g.Emit("RecurrentLayerGrad", in, g.AttrsOf({"cell"}));
  for (int k = 0; k < 6; ++k) {
    if (g.Wants(k)) g.SetInputGrad(k, absl::StrCat(grads, ":", k));
  }
  if (lstm && g.Wants(6)) g.SetInputGrad(6, absl::StrCat(grads, ":6"));
  return absl::OkStatus();
}

}  // namespace

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
                 "from the weights. Outputs y [T, B, H] (h of every step), "
                 "hn [B, H] and cn [B, H], the final cell state for lstm "
                 "and hn again for the other cells. No workspace is output: "
                 "RecurrentLayerGrad recomputes the forward pass.")
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
            .Shape(RecurrentLayerShape)
            .Gradient(RecurrentLayerGradient)
            .Reference(MakeFloatKernel<RecurrentLayerReference>)
            .OneDnn(RecurrentOneDnn<RecurrentLayerOneDnnKernel>));
  r.Add(OpDef("RecurrentLayerGrad")
            .Doc("The gradient of RecurrentLayer (same `cell`) from its "
                 "inputs x, h0, weight_ih, weight_hh, bias_ih, bias_hh and "
                 "the gradients dy [T, B, H] and dhn [B, H] reaching y and "
                 "hn; for lstm two more inputs follow, c0 and dcn. For the "
                 "other cells pass dhn + dcn as dhn (cn is hn). Recomputes "
                 "the forward pass, then backpropagates through time. "
                 "Outputs dx, dh0, dweight_ih, dweight_hh, dbias_ih, "
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
            .Shape(RecurrentLayerGradShape)
            .NoGradient()
            .Reference(MakeFloatKernel<RecurrentLayerGradReference>)
            .OneDnn(RecurrentOneDnn<RecurrentLayerGradOneDnnKernel>));
}

}  // namespace rill

#include "ops/lstm_cell.h"

#include <cstring>

namespace rill {
namespace {

void Store(float x, float* to) { *to = x; }

// Round to nearest even; a NaN stays a (quiet) NaN.
void Store(float x, uint16_t* to) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  *to = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded;
}

}  // namespace

void LstmUpdateCell(int64_t b, int64_t h, float* gates, const float* c_prev,
                    float* c) {
  for (int64_t r = 0; r < b; ++r) {
    float* __restrict gr = gates + r * 4 * h;
    const float* __restrict cp = c_prev + r * h;
    float* __restrict cr = c + r * h;
    for (int64_t j = 0; j < h; ++j) {
      const float g = 2 * gr[2 * h + j] - 1;
      gr[2 * h + j] = g;
      cr[j] = gr[h + j] * cp[j] + gr[j] * g;
    }
  }
}

template <typename Operand>
void LstmHidden(int64_t b, int64_t h, const float* gates, const float* tanh_c,
                float* y, Operand* h_out) {
  for (int64_t r = 0; r < b; ++r) {
    const float* __restrict o = gates + r * 4 * h + 3 * h;
    const float* __restrict tc = tanh_c + r * h;
    float* __restrict yr = y + r * h;
    for (int64_t j = 0; j < h; ++j) yr[j] = o[j] * tc[j];
    if (h_out == nullptr) continue;
    Operand* __restrict hr = h_out + r * h;
    for (int64_t j = 0; j < h; ++j) Store(yr[j], hr + j);
  }
}

// Gate k's block of a row of 4 blocks of h.
template <typename T>
struct Blocks {
  Blocks(T* row, int64_t h)
      : i(row), f(row + h), g(row + 2 * h), o(row + 3 * h) {}
  T *i, *f, *g, *o;
};

// One row of LstmGateGradients. Each gate's block is its own restrict
// parameter: for GCC, the blocks of one pointer h apart might overlap.
template <typename Operand>
void GateGradientsRow(int64_t h, const float* __restrict i,
                      const float* __restrict f, const float* __restrict g,
                      const float* __restrict o, const float* __restrict c_prev,
                      const float* __restrict tanh_c,
                      const float* __restrict dy,
                      const float* __restrict dh_next, float* __restrict dc,
                      float* __restrict db_i, float* __restrict db_f,
                      float* __restrict db_g, float* __restrict db_o,
                      Operand* __restrict dg_i, Operand* __restrict dg_f,
                      Operand* __restrict dg_g, Operand* __restrict dg_o) {
  for (int64_t j = 0; j < h; ++j) {
    const float tc = tanh_c[j];
    const float dh = dy[j] + dh_next[j];
    const float dcj = dc[j] + dh * o[j] * (1 - tc * tc);
    const float di = dcj * g[j] * i[j] * (1 - i[j]);
    const float df = dcj * c_prev[j] * f[j] * (1 - f[j]);
    const float dgg = dcj * i[j] * (1 - g[j] * g[j]);
    const float d_o = dh * tc * o[j] * (1 - o[j]);
    Store(di, dg_i + j);
    Store(df, dg_f + j);
    Store(dgg, dg_g + j);
    Store(d_o, dg_o + j);
    db_i[j] += di;
    db_f[j] += df;
    db_g[j] += dgg;
    db_o[j] += d_o;
    dc[j] = dcj * f[j];
  }
}

template <typename Operand>
void LstmGateGradients(int64_t b, int64_t h, const LstmStepGrad& s,
                       Operand* dg) {
  const Blocks<float> db(s.db, h);
  for (int64_t r = 0; r < b; ++r) {
    const Blocks<const float> gates(s.gates + r * 4 * h, h);
    const Blocks<Operand> d(dg + r * 4 * h, h);
    GateGradientsRow(h, gates.i, gates.f, gates.g, gates.o, s.c_prev + r * h,
                     s.tanh_c + r * h, s.dy + r * h, s.dh_next + r * h,
                     s.dc + r * h, db.i, db.f, db.g, db.o, d.i, d.f, d.g, d.o);
  }
}

template void LstmHidden(int64_t, int64_t, const float*, const float*, float*,
                         float*);
template void LstmHidden(int64_t, int64_t, const float*, const float*, float*,
                         uint16_t*);
template void LstmGateGradients(int64_t, int64_t, const LstmStepGrad&, float*);
template void LstmGateGradients(int64_t, int64_t, const LstmStepGrad&,
                                uint16_t*);

}  // namespace rill

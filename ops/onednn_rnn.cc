#include "ops/onednn_rnn.h"

#include <algorithm>

namespace rill {

int64_t OneDnnRnnGates(OneDnnRnnCell c) {
  switch (c) {
    case OneDnnRnnCell::kVanilla:
      return 1;
    case OneDnnRnnCell::kLstm:
      return 4;
    case OneDnnRnnCell::kGru:
    case OneDnnRnnCell::kLbrGru:
      return 3;
  }
  return 0;
}

int64_t OneDnnRnnBiasGates(OneDnnRnnCell c) {
  return c == OneDnnRnnCell::kLbrGru ? 4 : OneDnnRnnGates(c);
}

int64_t OneDnnRnnGate(OneDnnRnnCell c, int64_t p) {
  if (c != OneDnnRnnCell::kGru && c != OneDnnRnnCell::kLbrGru) return p;
  return p == 0 ? 1 : p == 1 ? 0 : 2;
}

int64_t OneDnnRnnBias(OneDnnRnnCell c, int64_t p, bool hh) {
  if (c == OneDnnRnnCell::kLbrGru && p == 2 && hh) return 3;
  return OneDnnRnnGate(c, p);
}

float OneDnnRnnSign(OneDnnRnnCell c, int64_t p) {
  return c == OneDnnRnnCell::kGru && p == 1 ? -1.f : 1.f;
}

void PyTorchToOneDnnWeights(OneDnnRnnCell c, const float* from, int64_t h,
                            int64_t k, float* to) {
  for (int64_t p = 0; p < OneDnnRnnGates(c); ++p) {
    const float sign = OneDnnRnnSign(c, p);
    const float* src = from + p * h * k;
    float* dst = to + OneDnnRnnGate(c, p) * h * k;
    for (int64_t e = 0; e < h * k; ++e) dst[e] = sign * src[e];
  }
}

void OneDnnToPyTorchWeights(OneDnnRnnCell c, const float* from, int64_t h,
                            int64_t k, float* to) {
  for (int64_t p = 0; p < OneDnnRnnGates(c); ++p) {
    const float sign = OneDnnRnnSign(c, p);
    const float* src = from + OneDnnRnnGate(c, p) * h * k;
    float* dst = to + p * h * k;
    for (int64_t e = 0; e < h * k; ++e) dst[e] = sign * src[e];
  }
}

void PyTorchToOneDnnBias(OneDnnRnnCell c, const float* b_ih, const float* b_hh,
                         int64_t h, float* to) {
  std::fill_n(to, OneDnnRnnBiasGates(c) * h, 0.f);
  for (bool hh : {false, true}) {
    const float* from = hh ? b_hh : b_ih;
    for (int64_t p = 0; p < OneDnnRnnGates(c); ++p) {
      const float sign = OneDnnRnnSign(c, p);
      float* dst = to + OneDnnRnnBias(c, p, hh) * h;
      for (int64_t o = 0; o < h; ++o) dst[o] += sign * from[p * h + o];
    }
  }
}

void OneDnnToPyTorchBias(OneDnnRnnCell c, const float* from, bool hh, int64_t h,
                         float* to) {
  for (int64_t p = 0; p < OneDnnRnnGates(c); ++p) {
    const float sign = OneDnnRnnSign(c, p);
    const float* src = from + OneDnnRnnBias(c, p, hh) * h;
    for (int64_t o = 0; o < h; ++o) to[p * h + o] = sign * src[o];
  }
}

}  // namespace rill

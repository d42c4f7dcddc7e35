#ifndef RILL_OPS_ONEDNN_RNN_H_
#define RILL_OPS_ONEDNN_RNN_H_

// PyTorch's recurrent weight layout against oneDNN 2.6's RNN primitives, in
// one place for the RecurrentLayer kernels (ops/recurrent_ops.cc) and the
// benchmark's anchor (bench/rnn_bench.cc).
//
// PyTorch keeps weight_ih [G*H, I] and weight_hh [G*H, H] per direction,
// gate blocks stacked along the rows; oneDNN's ldgoi layout is the same
// (gate, output, input) order, so a weight converts block by block:
//   - GRU gates are u, r, o in oneDNN where PyTorch has r, z, n.
//   - oneDNN's gru computes h' = u h + (1 - u) o; the seed GRU's h' = (1 -
//     z) h + z n has u = 1 - z = sigmoid(-(z's pre-activation)), so z's
//     weights and bias are negated (and so are their gradients).
//   - oneDNN has one bias per gate, added once: it is bias_ih + bias_hh,
//     and both get its gradient. lbr_gru keeps a fourth bias, PyTorch's
//     b_hn, which the reset gate multiplies.
// LSTM (i, f, g, o) and the vanilla RNN convert as they are.

#include <cstdint>

namespace rill {

enum class OneDnnRnnCell {
  kVanilla,  // vanilla_rnn, tanh or relu
  kLstm,
  kGru,     // gru: the seed GRU, through the negated update gate
  kLbrGru,  // lbr_gru: PyTorch's GRU
};

int64_t OneDnnRnnGates(OneDnnRnnCell c);      // G: 1, 4, 3, 3
int64_t OneDnnRnnBiasGates(OneDnnRnnCell c);  // G, but 4 for lbr_gru
// oneDNN's gate block of PyTorch's gate p.
int64_t OneDnnRnnGate(OneDnnRnnCell c, int64_t p);
// oneDNN's bias block of PyTorch's gate p of bias_ih (hh false) or bias_hh.
int64_t OneDnnRnnBias(OneDnnRnnCell c, int64_t p, bool hh);
// -1 for a block stored negated (the seed GRU's z), else 1.
float OneDnnRnnSign(OneDnnRnnCell c, int64_t p);

// One direction's PyTorch [G*H, K] weight into ldgoi [K, G, H] (as
// oneDNN's dims), gates permuted and signs applied; and back, for its
// gradient.
void PyTorchToOneDnnWeights(OneDnnRnnCell c, const float* from, int64_t h,
                            int64_t k, float* to);
void OneDnnToPyTorchWeights(OneDnnRnnCell c, const float* from, int64_t h,
                            int64_t k, float* to);
// One direction's ldgo bias [BiasGates, H] from bias_ih and bias_hh [G*H];
// and back: the gradient of each of bias_ih (hh false) and bias_hh.
void PyTorchToOneDnnBias(OneDnnRnnCell c, const float* b_ih, const float* b_hh,
                         int64_t h, float* to);
void OneDnnToPyTorchBias(OneDnnRnnCell c, const float* from, bool hh, int64_t h,
                         float* to);

}  // namespace rill

#endif  // RILL_OPS_ONEDNN_RNN_H_

#ifndef RILL_OPS_LSTM_CELL_H_
#define RILL_OPS_LSTM_CELL_H_

// The elementwise parts of rill's LSTM layer (ops/recurrent_lstm_matmul.cc)
// over one step's B rows of gates [B, 4H] (i, f, g, o) and states [B, H].
// All arithmetic is f32; `Operand` is what the layer's matrix products
// read: float, or uint16_t holding bf16 (rounded to nearest even, as
// oneDNN rounds). A target of its own, compiled with -O3: at -O2 GCC 12
// vectorizes no loop whose trip count is known only at run time.

#include <cstdint>

namespace rill {

// Gates (i, f, s, o), where s = sigmoid(2 a_g) as the step's logistic
// post-op leaves it for doubled g rows, become (i, f, g, o) with
// g = 2 s - 1 = tanh(a_g); then c = f c_prev + i g.
void LstmUpdateCell(int64_t b, int64_t h, float* gates, const float* c_prev,
                    float* c);

// y = o tanh(c); also into `h` in the operand type unless it is null.
template <typename Operand>
void LstmHidden(int64_t b, int64_t h, const float* gates, const float* tanh_c,
                float* y, Operand* h_out);

// One step of the backward: its activated gates, c_prev and tanh(c), dy,
// and the dh that the later step passed back.
struct LstmStepGrad {
  const float *gates, *c_prev, *tanh_c, *dy, *dh_next;
  float* dc;  // The later step's dc in, this step's part of dc_prev out.
  float* db;  // Adds the gate gradients' column sums.
};

// The gate gradients dG [B, 4H], in the operand type.
template <typename Operand>
void LstmGateGradients(int64_t b, int64_t h, const LstmStepGrad& s,
                       Operand* dg);

}  // namespace rill

#endif  // RILL_OPS_LSTM_CELL_H_

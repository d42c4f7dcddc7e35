#ifndef RILL_MODELS_ESN_GRAPH_H_
#define RILL_MODELS_ESN_GRAPH_H_

// The Echo State Network as a rill graph: `steps` state updates
//
//   x_t = (1 - a) x_{t-1} + a f(W_in u_t + W x_{t-1} + b)
//
// unrolled into primitive ops, in float64, with the reservoir's weights as
// Const nodes (W as a SparseMatMul over its nonzeros, or a dense MatMul:
// Reservoir::uses_dense_product). Each step adds, in this order, W x, then
// W_in u (one MatMul for all steps), then b, as the ESN always has, so the
// states are the ones it has always computed.
//
//   inputs:  u [steps, inputs], x0 [1, units] (the state before step 0)
//   outputs: esn/states [steps, units]; esn/t<k>/x [1, units] after step k
// With a readout (for `rill run` and `rill grad`, and for predictions):
//   inputs:  target [steps, outputs]
//   Parameter esn/w_out [1 + inputs + units, outputs] (W_out transposed),
//   y = [1, u, states] . esn/w_out [steps, outputs] (as (u . W_u + w_b) +
//   states . W_x, the ESN's sums before its graph), and
//   loss = MeanSquaredError(y, target).

#include <cstdint>
#include <map>
#include <memory>

#include "models/esn.h"
#include "proto/graph.pb.h"
#include "runtime/executor.h"

namespace rill {

inline constexpr char kEsnInputNode[] = "u";
inline constexpr char kEsnStartStateNode[] = "x0";
inline constexpr char kEsnStatesNode[] = "esn/states";
inline constexpr char kEsnTargetNode[] = "target";
inline constexpr char kEsnReadoutNode[] = "esn/w_out";
inline constexpr char kEsnOutputNode[] = "y";
inline constexpr char kEsnLossNode[] = "loss";

// The node holding the state after step `t` (0-based).
std::string EsnStateNode(int64_t t);

struct EsnGraphOptions {
  int64_t steps = 1;
  // Adds the readout: W_out [outputs, 1 + inputs + units], or zeros of
  // `outputs` rows when null (a readout to train).
  bool readout = false;
  const EsnMatrix* w_out = nullptr;
  int64_t outputs = 1;
};

absl::StatusOr<Graph> BuildEsnGraph(const Reservoir& reservoir,
                                    const EsnGraphOptions& options);

// Runs a graph of BuildEsnGraph over sequences of any length, a chunk of
// steps at a time, with one compiled executor per chunk length.
class EsnGraphRunner {
 public:
  // Chunks of at most `chunk_steps`; the options' `steps` is ignored.
  EsnGraphRunner(EsnGraphOptions options, int64_t chunk_steps);

  // The states [T, units] for inputs u [T, inputs] from *x, leaving *x at
  // the last state; with a readout, also the outputs [T, outputs] into *y.
  absl::Status Run(const Reservoir& reservoir, const EsnMatrix& u, EsnVector* x,
                   EsnMatrix* states, EsnMatrix* y);

 private:
  absl::StatusOr<Executor*> ExecutorFor(const Reservoir& reservoir,
                                        int64_t steps);

  EsnGraphOptions options_;
  int64_t chunk_steps_;
  std::map<int64_t, std::unique_ptr<Executor>> executors_;  // By steps.
};

}  // namespace rill

#endif  // RILL_MODELS_ESN_GRAPH_H_

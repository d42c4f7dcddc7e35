#ifndef RILL_GRAPH_RECURRENT_STEP_H_
#define RILL_GRAPH_RECURRENT_STEP_H_

// One step of each recurrent cell as primitive ops, written once as data:
// models/rnn.cc instantiates it for every step it unrolls, and the fusion
// pass (graph/fuse_recurrent.h) matches it against a graph to recognise an
// unrolled layer, wherever the graph came from. The equations are those of
// SPEC.md ("Block semantics"), in PyTorch's gate layout (models/rnn.h).
//
// An input of a StepOp is one of the step's variables ("$xp" ...), or
// another StepOp of the same step ("gates", or "gates_split:2" for output
// k). The variables:
//   $xp            this step's input projection [B, G*H] (bias_ih added)
//   $h, $c         the previous state [B, H] ($c: LSTM only)
//   $w_hh, $b_hh   weight_hh [G*H, H] and bias_hh [G*H]
//   $w_hrz, $b_hrz, $w_hn, $b_hn
//                  the seed GRU's instead: weight_hh and bias_hh split once
//                  into rows [0, 2H) (r, z) and [2H, 3H) (n), Split with
//                  sizes {2H, H}
// The step's new state is the op named "h" (and "c" for the LSTM).

#include <string>
#include <utility>
#include <vector>

#include "ops/recurrent_cell.h"
#include "proto/graph.pb.h"

namespace rill {

struct StepOp {
  std::string name;  // Within the step's scope: <prefix>/t<k>/<name>.
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::pair<std::string, AttrValue>> attrs;
};

// The ops of one step of `cell`, in the order a builder emits them (every
// op after the ops it reads).
const std::vector<StepOp>& RecurrentStepOps(RecurrentCell cell);

// Whether a StepOp input names a variable rather than another op.
inline bool IsStepVariable(const std::string& input) {
  return !input.empty() && input[0] == '$';
}

}  // namespace rill

#endif  // RILL_GRAPH_RECURRENT_STEP_H_

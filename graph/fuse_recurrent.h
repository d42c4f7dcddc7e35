#ifndef RILL_GRAPH_FUSE_RECURRENT_H_
#define RILL_GRAPH_FUSE_RECURRENT_H_

// The fusion pass for recurrent layers (issues 6 and 22): a pattern matcher
// over the primitive graph. It recognises an unrolled fixed-length layer,
// one direction at a time, wherever the graph came from (models/rnn.h,
// a hand-written or an imported graph):
//   - one input projection over all steps: x [T, B, I] reshaped to
//     [-1, I], MatMul(transpose_b) by weight_ih [G*H, I], Add bias_ih [G*H],
//     Split into the T steps (axis 0);
//   - T steps, each the ops graph/recurrent_step.h lists for its cell
//     (PyTorch's gate layout), chained through the state: forward from
//     step 0, or reverse from step T-1;
// and, when present, the layer's assembly: a bidirectional merge of the two
// directions per step (Concat on axis 1 or Add) and the output sequence
// (each step's output ExpandDims'd on axis 0 and Concat'ed on axis 0).
// Each direction then runs as one RecurrentLayer node (`reverse` for the
// backward one) over the same x, initial state and weights; the merged
// sequence is one Concat (axis 2) or Add of the two; a step's output that
// something still reads is a Gather of the sequence. The pass rewires every
// reader of the unrolled results to these (the unrolled nodes fall out of
// use and never run), so that the layer runs on oneDNN's RNN primitives
// and autodiff, run after the pass, differentiates it through
// RecurrentLayerGrad. `--no-fuse` skips the pass: the graph as written is
// the unrolled form, so nothing else is needed for it.
//
// Why a matcher rather than composite ops that carry their decomposition
// (issue 22 allows both): the builder's primitive graph stays the one
// semantic truth (DESIGN.md, decision 6), so `--no-fuse` and second-order
// autodiff need no decomposition pass, the step nodes that users and tests
// fetch by name (<prefix>/t3/h) keep existing, and the cell equations live
// once, in graph/recurrent_step.h, which the builder instantiates and this
// pass matches. The cost: a saved graph still shows every unrolled step.
//
// Variable-length layers stay unrolled: their step masks sit between one
// step and the next, so the chain does not match. So do layers whose
// shapes the op cannot take (e.g. a bias that broadcasts from [1, G*H]).
//
// The two fusion places differ in kind. This pass rewrites the graph, before
// autodiff: the fused layer has its own gradient op, and the rewrite is
// backend-independent. runtime/fusion.h picks kernels at plan compile time:
// a MatMul + bias Add [+ activation] chain runs as one oneDNN kernel only
// when the concrete shapes, the dtype, the backend and the fetches allow,
// and the graph (so autodiff and `rill grad`) never sees it. The pipeline
// is: load, FuseRecurrentLayers (unless --no-fuse), validate, autodiff,
// then per plan FindMatMulChains.

#include "absl/status/statusor.h"
#include "proto/graph.pb.h"

namespace rill {

// Fuses every recognised layer of `graph` whose results something reads;
// returns how many layers it fused (a bidirectional layer counts once). A
// graph that does not validate is left as it is (0): the caller's
// validation reports it.
absl::StatusOr<int> FuseRecurrentLayers(Graph* graph);

}  // namespace rill

#endif  // RILL_GRAPH_FUSE_RECURRENT_H_

#ifndef RILL_RUNTIME_FUSION_H_
#define RILL_RUNTIME_FUSION_H_

#include <set>
#include <utility>
#include <vector>

#include "graph/validate.h"
#include "ops/matmul_ops.h"
#include "runtime/bound_shapes.h"

namespace rill {

// A MatMul -> bias Add [-> activation] chain that runs as one kernel.
// Unlike the recurrent pass of graph/fuse_recurrent.h, which rewrites the
// graph before autodiff (another op, with its own gradient), this is a
// kernel choice made per plan: it depends on the concrete shapes, the
// dtype, the backend and the fetches, and the graph never sees it. The
// pipeline is: load, FuseRecurrentLayers (unless --no-fuse), validate,
// autodiff, then FindMatMulChains for every plan compiled.
struct MatMulChain {
  int matmul = -1;
  int add = -1;
  int activation = -1;  // -1: none.
  TensorRef bias;
  FusedActivation kind = FusedActivation::kNone;
  int last() const { return activation >= 0 ? activation : add; }
};

// Finds the chains among the scheduled nodes: f32, each intermediate result
// consumed only by the next node of the chain and not fetched, and a bias
// that oneDNN's matmul takes. `shapes` are the plan's concrete shapes.
std::vector<MatMulChain> FindMatMulChains(
    const ValidGraph& g, const std::vector<int>& schedule,
    const BoundShapes& shapes, const std::set<std::pair<int, int>>& fetched);

}  // namespace rill

#endif  // RILL_RUNTIME_FUSION_H_

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

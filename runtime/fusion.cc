#include "runtime/fusion.h"

#include <map>

namespace rill {

std::vector<MatMulChain> FindMatMulChains(
    const ValidGraph& g, const std::vector<int>& schedule,
    const BoundShapes& shapes, const std::set<std::pair<int, int>>& fetched) {
  // How many scheduled nodes read each output 0, and the last of them.
  // Reading only its shape (ZerosLike, ReduceSumLike, ...) does not count:
  // the shape is known when the plan is compiled.
  std::vector<int> readers(g.num_nodes(), 0), reader(g.num_nodes(), -1);
  for (int n : schedule) {
    const NodeInfo& info = g.info(n);
    for (size_t k = 0; k < info.inputs.size(); ++k) {
      const TensorRef& in = info.inputs[k];
      if (in.output != 0 || info.op->InputArg(static_cast<int>(k)).shape_only)
        continue;
      ++readers[in.node];
      reader[in.node] = n;
    }
  }
  // The one node that consumes n's output 0, if it is fused into a chain.
  auto sole_consumer = [&](int n) -> int {
    if (readers[n] != 1 || fetched.count({n, 0}) ||
        g.info(n).dtypes.size() != 1) {
      return -1;
    }
    return reader[n];
  };
  std::vector<MatMulChain> chains;
  for (int m : schedule) {
    if (g.node(m).op() != "MatMul" || g.info(m).dtypes[0] != DType::kF32) {
      continue;
    }
    const Shape& out = shapes[m][0];
    if (*out.NumElements() == 0) continue;
    MatMulChain chain;
    chain.matmul = m;
    chain.add = sole_consumer(m);
    if (chain.add < 0 || g.node(chain.add).op() != "Add") continue;
    const NodeInfo& add = g.info(chain.add);
    // The bias is whichever Add input is not the MatMul (not the same
    // tensor twice).
    chain.bias = add.inputs[0].node == m ? add.inputs[1] : add.inputs[0];
    if (chain.bias.node == m) continue;
    const Shape& bias = shapes[chain.bias.node][chain.bias.output];
    if (shapes[chain.add][0] != out || !IsMatMulBias(bias, out)) continue;
    int act = sole_consumer(chain.add);
    if (act >= 0) {
      std::optional<FusedActivation> kind = FusableActivation(g.node(act).op());
      if (kind.has_value()) {
        chain.activation = act;
        chain.kind = *kind;
      }
    }
    chains.push_back(chain);
  }
  return chains;
}

}  // namespace rill

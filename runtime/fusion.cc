#include "runtime/fusion.h"

#include <map>

namespace rill {

std::vector<MatMulChain> FindMatMulChains(
    const ValidGraph& g, const std::vector<int>& schedule,
    const std::vector<std::vector<Shape>>& shapes,
    const std::set<std::pair<int, int>>& fetched) {
  // The consumers of each output-0 among the scheduled nodes.
  std::map<int, std::vector<int>> consumers;
  for (int n : schedule) {
    for (const TensorRef& in : g.info(n).inputs) {
      if (in.output == 0) consumers[in.node].push_back(n);
    }
  }
  // The one node that consumes n's output 0, if it is fused into a chain.
  auto sole_consumer = [&](int n) -> int {
    auto it = consumers.find(n);
    if (it == consumers.end() || it->second.size() != 1 ||
        fetched.count({n, 0}) || g.info(n).dtypes.size() != 1) {
      return -1;
    }
    return it->second[0];
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

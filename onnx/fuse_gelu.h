#ifndef RILL_ONNX_FUSE_GELU_H_
#define RILL_ONNX_FUSE_GELU_H_

// The exact GELU that PyTorch 1.13 exports for nn.GELU and F.gelu, five
// ONNX nodes (Div by sqrt(2), Erf, Add 1, Mul by x, Mul by 0.5), found
// before translation so that it imports as rill's Gelu: one kernel (one
// oneDNN eltwise) instead of five.

#include <map>
#include <set>

#include "onnx/onnx.pb.h"

namespace rill {

// The domain of the nodes that stand in for a matched subgraph.
inline constexpr char kFusedOnnxDomain[] = "rill.fused";

struct OnnxFusions {
  // Nodes translated as part of a later one (their outputs feed only the
  // pattern and are not graph outputs).
  std::set<int> absorbed;
  // The last node of each match and the node translated in its place:
  // op_type "Gelu" in kFusedOnnxDomain, the pattern's input and output.
  std::map<int, ::onnx::NodeProto> fused;
};

OnnxFusions FindGeluPatterns(const ::onnx::GraphProto& g);

}  // namespace rill

#endif  // RILL_ONNX_FUSE_GELU_H_

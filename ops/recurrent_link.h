#ifndef RILL_OPS_RECURRENT_LINK_H_
#define RILL_OPS_RECURRENT_LINK_H_

// How a fused recurrent layer's forward kernel and the gradient kernel bound
// to it share one forward pass per run, through the plan's KernelLinks
// (ops/kernel_links.h). Used by both implementations of the layer: oneDNN's
// RNN primitives (ops/recurrent_onednn.cc) and rill's LSTM on matmul
// primitives (ops/recurrent_lstm_matmul.cc).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ops/op_def.h"

namespace rill {

// The gradient kernel, created after the forward one in the same plan and
// reading the same input tensors, sets `train` (its own forward pass into
// its own y, hn, cn and workspace); the forward kernel then runs it instead
// of its inference pass, copies y, hn and cn out, and marks the result
// fresh; the backward consumes a fresh result and recomputes otherwise.
// y, hn and cn stay in the gradient kernel's buffers because the forward's
// outputs may be reused before the backward runs.
struct RecurrentForwardLink {
  std::vector<std::string> inputs;  // x, h0, weights, biases[, c0]: "node:k".
  std::string layer;                // Its cell and direction.
  std::function<void()> train;
  const float *y = nullptr, *hn = nullptr, *cn = nullptr;
  bool fresh = false;
};

// Copies a layer result from a kernel's own f32 buffer into `to`, whole.
void CopyOut(const float* from, Tensor& to);

// Runs `f` and turns a dnnl::error into a Status naming the node.
absl::Status DnnlRun(const std::string& node, const std::function<void()>& f);

// The forward kernel's side: offers the link under its node's name.
class RecurrentForwardOffer {
 public:
  explicit RecurrentForwardOffer(const KernelArgs& a);
  // Whether a gradient kernel took the offer.
  bool bound() const { return link_->train != nullptr; }
  // For a bound offer: runs the gradient kernel's forward pass and copies
  // y, hn and cn into `y`, `hn` and `cn`.
  absl::Status RunBound(Tensor& y, Tensor& hn, Tensor& cn);

 private:
  std::string node_;
  std::shared_ptr<RecurrentForwardLink> link_;
};

// The gradient kernel's side.
class RecurrentForwardBinding {
 public:
  RecurrentForwardBinding() = default;
  RecurrentForwardBinding(const RecurrentForwardBinding&) = delete;
  RecurrentForwardBinding& operator=(const RecurrentForwardBinding&) = delete;
  ~RecurrentForwardBinding();

  // Hands `train`, which runs the forward pass into y, hn and cn (cn: hn
  // again for cells without a cell state), to the forward node named by
  // the `forward` attr, if its kernel is in this plan, reads the same
  // tensors and is the same layer (a node fed other values, or a gradient
  // node of another cell or direction, must recompute).
  void Bind(const KernelArgs& a, std::function<void()> train, const float* y,
            const float* hn, const float* cn);
  // Whether the bound forward kernel ran the forward pass of this run;
  // each result counts once.
  bool TakeFresh();

 private:
  std::shared_ptr<RecurrentForwardLink> link_;
};

}  // namespace rill

#endif  // RILL_OPS_RECURRENT_LINK_H_

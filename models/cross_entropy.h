#ifndef RILL_MODELS_CROSS_ENTROPY_H_
#define RILL_MODELS_CROSS_ENTROPY_H_

// Cross-entropy loss with label smoothing (issue 8), appended to a Graph as
// primitive ops. With smoothing eps and C classes the target of a row is
// (1 - eps) * onehot(label) + eps / C, so that, over the rows whose label
// is not ignore_index,
//   loss = (1 - eps) * mean_r nll_r + eps * mean_r smooth_r,
//   nll_r = -log_softmax(logits_r)[label_r],
//   smooth_r = -mean_k log_softmax(logits_r)[k],
// which is torch.nn.functional.cross_entropy's formula (reduction "mean",
// no class weights). Nodes, with <p> the prefix:
//   eps = 0:  <p>/loss, one SoftmaxCrossEntropy node.
//   eps > 0:  <p>/nll (SoftmaxCrossEntropy), the smoothing term's nodes
//             under <p>/, and <p>/loss.
// When every row is ignored the loss is 0 and so is its gradient (PyTorch
// gives NaN): SoftmaxCrossEntropy gives 0 there, and the smoothing term
// divides its (empty) sum by max(count, 1).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "proto/graph.pb.h"

namespace rill {

struct CrossEntropyOptions {
  std::string prefix;           // Of every node name; a valid node name.
  double label_smoothing = 0;   // In [0, 1).
  int64_t ignore_index = -100;  // Rows with this label are skipped.
  DType dtype = DType::kF32;    // Of logits: kF32 or kF64.
};

// The scalar mean loss of logits [..., C] against integer labels [...]
// (i32/i64), as torch.nn.functional.cross_entropy(logits, labels,
// ignore_index=..., label_smoothing=..., reduction="mean"), except that it
// is 0 (not NaN) when every row is ignored. Returns the loss node's name.
// With label_smoothing 0 it is one SoftmaxCrossEntropy node. Fails, leaving
// `graph` unchanged, on bad options or a node name that exists.
absl::StatusOr<std::string> AddCrossEntropyLoss(
    const std::string& logits, const std::string& labels,
    const CrossEntropyOptions& options, Graph* graph);

}  // namespace rill

#endif  // RILL_MODELS_CROSS_ENTROPY_H_

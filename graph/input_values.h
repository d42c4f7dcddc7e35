#ifndef RILL_GRAPH_INPUT_VALUES_H_
#define RILL_GRAPH_INPUT_VALUES_H_
// An integer Input may declare, in its `allowed_values` attr, the only
// values its elements may take (BERT's attention_mask: 0 or 1); and an
// Input that feeds the indices of a Gather or the labels of a
// SoftmaxCrossEntropy may only hold values that index what the graph
// fixes (BERT's input_ids: [0, vocab_size)). Both the executor (each feed)
// and the trainer (each data file, at load) check both, so that a stray
// value is named where it is, before anything runs, not misread silently
// as a mask or found by a kernel half way through a step.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/tensor.h"
#include "graph/validate.h"
#include "proto/graph.pb.h"

namespace rill {

// The node's `allowed_values`, viewed in place (the executor asks on every
// run); empty when any value is allowed.
absl::Span<const int64_t> AllowedValues(const Node& input);

// The flat index of the first of the first `count` elements of the integer
// tensor `t` that is not in `allowed`, or -1 when all are (or `allowed` is
// empty, or `t` is not integer).
int64_t FirstDisallowedValue(const Tensor& t, int64_t count,
                             absl::Span<const int64_t> allowed);

// Element k of the i32 or i64 tensor `t`, for messages.
int64_t IntegerElement(const Tensor& t, int64_t k);

// "0, 1" for messages.
std::string AllowedValuesText(absl::Span<const int64_t> allowed);

// A use of an Input's values as indices of something of fixed size.
struct IndexUse {
  int consumer = -1;
  int64_t size = 0;          // Valid values are [0, size) ...
  int64_t allowed = -1;      // ... and this one (SoftmaxCrossEntropy's
  bool has_allowed = false;  // ignore_index).
  const char* what = "";     // "index" or "label".
};

// The uses of Input node `input` as labels of a SoftmaxCrossEntropy or as
// the indices of a Gather, where the graph fixes the class count or the
// gathered axis.
std::vector<IndexUse> IndexUses(const ValidGraph& graph, int input);

// The flat index of the first of the first `count` elements of the integer
// tensor `t` that `use` does not allow, or -1 when all are allowed (or `t`
// is not integer).
int64_t FirstOutOfRange(const Tensor& t, int64_t count, const IndexUse& use);

// "index 7 is outside [0, 5); input 'ids' feeds node 'y' (Gather)".
std::string OutOfRangeText(const ValidGraph& graph, const std::string& input,
                           const IndexUse& use, int64_t value);

}  // namespace rill

#endif  // RILL_GRAPH_INPUT_VALUES_H_

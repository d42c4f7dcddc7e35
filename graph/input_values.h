#ifndef RILL_GRAPH_INPUT_VALUES_H_
#define RILL_GRAPH_INPUT_VALUES_H_
// An integer Input may declare, in its `allowed_values` attr, the only
// values its elements may take (BERT's attention_mask: 0 or 1). Both the
// executor (each feed) and the trainer (each data file, at load) check
// them, so that a stray value is named where it is, not misread silently
// as a mask.

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "core/tensor.h"
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

}  // namespace rill

#endif  // RILL_GRAPH_INPUT_VALUES_H_

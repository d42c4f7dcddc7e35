#ifndef RILL_OPS_SHAPE_FNS_H_
#define RILL_OPS_SHAPE_FNS_H_

#include "ops/op_def.h"

namespace rill {

// Output 0 has input 0's dtype and shape.
absl::Status UnchangedShape(InferenceContext& c);

// NumPy broadcasting of two shapes, aligned on the right. A symbolic
// dimension against 1 stays symbolic; against n > 1 it becomes n.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// OK when `from` broadcasts to exactly `to` (NumPy rules), as far as
// symbolic dims allow telling.
absl::Status CheckBroadcastsTo(const Shape& from, const Shape& to);

// Output 0 is the broadcast of inputs 0 and 1, with input 0's dtype.
absl::Status BroadcastBinaryShape(InferenceContext& c);

// Resolves each axis of the list attr `attr` against `rank`; an axis out of
// range, or named twice (as 1 and -1, say), is an error naming the entry.
absl::StatusOr<std::vector<int>> NormalizeAxes(const std::vector<int64_t>& list,
                                               int rank,
                                               const std::string& attr);

// Whether two shapes, possibly with symbolic dims, can be equal once bound.
bool ShapesCompatible(const Shape& a, const Shape& b);

// "[1, 2]"
std::string IntListText(const std::vector<int64_t>& v);
// "attr 'perm' = [0, 0]: names axis 0 twice"
absl::Status AttrListError(const std::string& attr,
                           const std::vector<int64_t>& values,
                           const std::string& why);

// Resolves `axis` (negative counts from the end) against `rank`.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank,
                                  const std::string& attr_name);

}  // namespace rill

#endif  // RILL_OPS_SHAPE_FNS_H_

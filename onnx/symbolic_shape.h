#ifndef RILL_ONNX_SYMBOLIC_SHAPE_H_
#define RILL_ONNX_SYMBOLIC_SHAPE_H_

// Exports with dynamic axes compute shapes at run time (Shape, Gather,
// Concat, Mul, then Reshape or ConstantOfShape). rill's shapes are
// attributes, so the importer keeps that arithmetic symbolic
// (SymbolicShape: each entry a factor times dims of rill tensors) and, where
// a shape is used, emits a tensor of that shape from slices of the tensors
// whose dims it names, for ReshapeLike or BroadcastLike. Shapes that are
// fully known stay constants and fold as before.

#include <string>

#include "onnx/import_context.h"

namespace rill {

// Input i as shape entries: a constant integer tensor or a symbolic value.
absl::StatusOr<SymbolicShape> ShapeEntries(NodeTranslation& n, int i,
                                           const char* what);

// The dims of `ref` (a rill tensor), symbolic ones by reference.
SymbolicShape DimsOf(NodeTranslation& n, const std::string& ref);

// A f32 tensor of zeros whose shape is `shape` at run time.
absl::StatusOr<std::string> TensorOfShape(NodeTranslation& n,
                                          const SymbolicShape& shape);

// A node with a symbolic input that is shape arithmetic (Gather, Unsqueeze,
// Squeeze, Concat, Mul, Div, Cast, Identity); false when `n` is another op.
bool IsShapeArithmetic(const std::string& op);
absl::Status TranslateShapeArithmetic(NodeTranslation& n);

}  // namespace rill

#endif  // RILL_ONNX_SYMBOLIC_SHAPE_H_

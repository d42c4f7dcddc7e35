#ifndef RILL_OPS_PARAMETER_VALUE_H_
#define RILL_OPS_PARAMETER_VALUE_H_

// The one place where a Const's or Parameter's tensor is made: decoded from
// attr `value`, or, for a Parameter with attr `init`, drawn from its
// initializer (proto/graph.proto lists them). Everything that needs a
// source node's values (the executor, weight export, the CLI) comes here.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/initializer.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "ops/op_def.h"

namespace rill {

// A Parameter's initializer as graph attrs, for builders to write:
// Initializer::Normal(0, 0.02, seed) becomes
//   attr { key: "init" value { s: "normal" } } ... mean, std, seed.
struct Initializer {
  static Initializer Zeros() { return {"zeros", {}}; }
  static Initializer Ones() { return {"ones", {}}; }
  static Initializer Constant(double fill);
  static Initializer Normal(double mean, double std, uint64_t seed);
  static Initializer Uniform(double a, double b, uint64_t seed);

  std::string kind;  // Attr `init`.
  std::vector<std::pair<std::string, AttrValue>> attrs;
};

// Writes `init` with `dtype` and `shape` into a Parameter node, replacing
// any `value`.
void SetInitializer(const Initializer& init, DType dtype, const Shape& shape,
                    Node* node);

// Sets a Parameter's `value` to `t`, dropping any initializer attrs.
void SetParameterValue(const Tensor& t, Node* node);

// Whether a Parameter node is given by an initializer (attr `init`).
bool HasInitializer(const Node& node);

// A Parameter's dtype, shape and the distribution of its values.
struct ParameterInit {
  DType dtype = DType::kF32;
  Shape shape;
  Distribution distribution;
};

// Checks a Parameter's initializer attrs and resolves them (fans, gains):
// an error names the attr. The Parameter op's shape function.
absl::StatusOr<ParameterInit> ResolveInitializer(const Attrs& attrs);

// For a Parameter without `init`: `value` is there and no initializer
// attr is.
absl::Status CheckValueAttrs(const Attrs& attrs);

// The dtype and shape of a Const or Parameter node (of a graph that may not
// be validated yet), without decoding or drawing its values; a value over
// `max_bytes` is an error.
absl::Status SourceType(const Node& node, int64_t max_bytes, DType* dtype,
                        Shape* shape);

// The tensor of a Const or Parameter node of a validated graph (its size
// checked against `memory_budget`). `threads`
// draw an initializer's values (the result does not depend on it).
absl::StatusOr<Tensor> SourceValue(const Node& node, int64_t memory_budget,
                                   int threads = 1);

// SourceValue without the drawing: an initializer's tensor is allocated,
// unfilled, and its distribution set in `*undrawn` (left empty for a
// `value`), for FillFromDistribution, which cannot fail on it, to fill
// when the values are first needed, or never, when a checkpoint
// overwrites them.
absl::StatusOr<Tensor> SourceBuffer(const Node& node, int64_t memory_budget,
                                    std::optional<Distribution>* undrawn);

// The Parameter op's attrs besides `value`, with their (unset) defaults.
void AddInitializerAttrs(OpDef& op);

}  // namespace rill

#endif  // RILL_OPS_PARAMETER_VALUE_H_

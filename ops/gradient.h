#ifndef RILL_OPS_GRADIENT_H_
#define RILL_OPS_GRADIENT_H_

// What a gradient builder sees (DESIGN.md, decision 4). The autodiff pass
// (graph/autodiff.cc) implements GradContext; each differentiable op's
// builder, registered with OpDef::Gradient, reads the forward node and the
// gradients reaching its outputs, and emits primitive-op nodes for the
// gradients of its inputs.
//
// Tensors are named by references, "node" or "node:k", so a builder reads
// like the text proto it produces. Emitting never fails loudly: the first
// error is kept and reported by the pass (naming the op and the node) after
// the builder returns, which keeps builders short.

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "ops/op_def.h"

namespace rill {

class GradContext {
 public:
  virtual ~GradContext() = default;

  // ---- The forward node ----
  virtual const Node& node() const = 0;
  virtual const Attrs& attrs() const = 0;
  int num_inputs() const { return node().input_size(); }
  virtual int num_outputs() const = 0;
  // References to the forward node's inputs and outputs.
  const std::string& input(int i) const { return node().input(i); }
  std::string output(int i) const;

  // The gradient reaching output `i`, or "" when none does (no consumer of
  // that output lies on a path to the loss). Same dtype and shape as the
  // output.
  virtual const std::string& output_grad(int i) const = 0;
  // Whether input `i` needs a gradient: it has a float dtype and lies on a
  // path from a tensor being differentiated to the loss. Builders emit only
  // what is needed; the pass drops anything else.
  virtual bool needs_input_grad(int i) const = 0;
  // Sets the gradient of input `i`; it must have the input's dtype and
  // shape (see SumToShapeOf for broadcasting inputs).
  virtual void SetInputGrad(int i, const std::string& grad) = 0;

  // The dtype and (possibly symbolic) shape of any tensor: forward or
  // emitted.
  virtual DType dtype_of(const std::string& ref) const = 0;
  virtual const Shape& shape_of(const std::string& ref) const = 0;

  // Adds a node `<forward node>/grad/<op>` (with a numeric suffix when the
  // name is taken), checks it like the validator does, and returns a
  // reference to its output 0 (append ":k" for output k).
  virtual std::string Emit(
      const std::string& op, const std::vector<std::string>& inputs,
      const std::map<std::string, AttrValue>& attrs = {}) = 0;
  // Records an error about this node; the pass reports the first one.
  virtual void Fail(const std::string& message) = 0;

  // ---- Helpers shared by every builder (ops/gradient.cc) ----

  // A scalar Const of `like`'s dtype.
  std::string Scalar(double value, const std::string& like);
  // `grad`, summed over the axes along which `like` was broadcast to reach
  // grad's shape, so that it has like's shape. No node when the shapes are
  // known to be equal.
  std::string SumToShapeOf(const std::string& grad, const std::string& like);
  // SetInputGrad(i, SumToShapeOf(grad, input(i))): for broadcasting ops.
  void SetInputGradSummed(int i, const std::string& grad);
  // output_grad(i), or zeros of the output's shape when no gradient reaches
  // it (for ops whose builder needs every output's gradient).
  std::string OutputGradOrZeros(int i);
  // Zero gradients for inputs `first`.. that are read for their shape only
  // (`like`): the output does not depend on their values.
  void ZeroGradsFrom(int first);
  // The node's attrs named in `names`, defaults filled in, for a gradient
  // node that repeats them.
  std::map<std::string, AttrValue> AttrsOf(
      std::initializer_list<const char*> names) const;
  // Whether the builder has anything to do for input `i`.
  bool Wants(int i) const { return i < num_inputs() && needs_input_grad(i); }
};

}  // namespace rill

#endif  // RILL_OPS_GRADIENT_H_

#include "ops/gradient.h"

#include "absl/strings/str_cat.h"
#include "core/dtype.h"

namespace rill {

std::string GradContext::output(int i) const {
  return i == 0 ? node().name() : absl::StrCat(node().name(), ":", i);
}

std::string GradContext::Scalar(double value, const std::string& like) {
  DType dtype = dtype_of(like);
  AttrValue tensor;
  TensorProto* t = tensor.mutable_tensor();
  t->set_dtype(DTypeToProto(dtype));
  if (dtype == DType::kF64) {
    t->add_double_val(value);
  } else {
    t->add_float_val(static_cast<float>(value));
  }
  return Emit("Const", {}, {{"value", tensor}});
}

std::string GradContext::SumToShapeOf(const std::string& grad,
                                      const std::string& like) {
  const Shape& from = shape_of(grad);
  const Shape& to = shape_of(like);
  if (from == to && from.IsFullyDefined()) return grad;
  return Emit("ReduceSumLike", {grad, like});
}

void GradContext::SetInputGradSummed(int i, const std::string& grad) {
  SetInputGrad(i, SumToShapeOf(grad, input(i)));
}

std::string GradContext::OutputGradOrZeros(int i) {
  const std::string& grad = output_grad(i);
  return grad.empty() ? Emit("ZerosLike", {output(i)}) : grad;
}

void GradContext::ZeroGradsFrom(int first) {
  for (int i = first; i < num_inputs(); ++i) {
    if (Wants(i)) SetInputGrad(i, Emit("ZerosLike", {input(i)}));
  }
}

std::map<std::string, AttrValue> GradContext::AttrsOf(
    std::initializer_list<const char*> names) const {
  std::map<std::string, AttrValue> out;
  for (const char* name : names) out[name] = attrs().Get(name);
  return out;
}

}  // namespace rill

// Ops with no inputs. The executor binds their outputs: Input to the feed,
// Const and Parameter to their decoded `value` tensors.

#include "core/tensor_proto.h"
#include "ops/registry.h"

namespace rill {
namespace {

absl::Status InputShape(InferenceContext& c) {
  absl::StatusOr<DType> dtype = DTypeFromProto(c.attrs().GetDType("dtype"));
  if (!dtype.ok()) return Annotate(dtype.status(), "attr 'dtype'");
  Shape shape = ShapeFromProto(c.attrs().GetShape("shape"));
  RETURN_IF_ERROR(
      Annotate(shape.Validate(/*allow_symbolic=*/true), "attr 'shape'"));
  c.SetOutput(0, *dtype, std::move(shape));
  return absl::OkStatus();
}

absl::Status ValueShape(InferenceContext& c) {
  DType dtype;
  Shape shape;
  RETURN_IF_ERROR(Annotate(CheckTensorProto(c.attrs().GetTensor("value"),
                                            c.memory_budget(), &dtype, &shape),
                           "attr 'value'"));
  c.SetOutput(0, dtype, std::move(shape));
  return absl::OkStatus();
}

}  // namespace

void RegisterSourceOps(OpRegistry& r) {
  r.Add(OpDef("Input")
            .Doc("A graph input, fed at run time. In `shape`, -1 is a "
                 "symbolic dimension bound by the feed. An integer input's "
                 "`allowed_values`, when not empty, are the only values its "
                 "elements may take; a feed with another is an error.")
            .Output("y")
            .Attr("dtype", AttrType::kDType)
            .Attr("shape", AttrType::kShape)
            .Attr("allowed_values", AttrType::kIntList, IntListAttr({}))
            .Shape(InputShape)
            .Source()
            .NoGradient());
  r.Add(OpDef("Const")
            .Doc("A constant tensor, never trained.")
            .Output("y")
            .Attr("value", AttrType::kTensor)
            .Shape(ValueShape)
            .Source()
            .NoGradient());
  r.Add(OpDef("Parameter")
            .Doc("A trainable tensor; `value` is its initial value.")
            .Output("y")
            .Attr("value", AttrType::kTensor)
            .Shape(ValueShape)
            .Source()
            .NoGradient());
}

}  // namespace rill

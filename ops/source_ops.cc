// Ops with no inputs. The executor binds their outputs: Input to the feed,
// Const and Parameter to their tensors (ops/parameter_value.h).

#include "absl/strings/str_cat.h"
#include "core/tensor_proto.h"
#include "ops/parameter_value.h"
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

// A Parameter holds `value`, or an initializer's attrs (`init` and those it
// reads); an initializer attr without `init` is a mistake worth naming.
absl::Status ParameterShape(InferenceContext& c) {
  const Attrs& attrs = c.attrs();
  if (!attrs.GetString("init").empty()) {
    ASSIGN_OR_RETURN(ParameterInit p, ResolveInitializer(attrs));
    ASSIGN_OR_RETURN(int64_t bytes, p.shape.ByteSize(p.dtype));
    if (bytes > c.memory_budget()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "attr 'shape': the initializer's ", bytes,
          " bytes exceed the memory budget of ", c.memory_budget()));
    }
    c.SetOutput(0, p.dtype, std::move(p.shape));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckValueAttrs(attrs));
  return ValueShape(c);
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
  OpDef parameter("Parameter");
  parameter
      .Doc(
          "A trainable tensor; `value` is its initial value, or `init` "
          "names an initializer (zeros, ones, constant, normal, "
          "truncated_normal, uniform, xavier_uniform, xavier_normal, "
          "kaiming_uniform, kaiming_normal) drawn with `seed`, of `dtype` "
          "and `shape`.")
      .Output("y")
      .Attr("value", AttrType::kTensor, AttrValue());
  AddInitializerAttrs(parameter);
  r.Add(std::move(parameter.Shape(ParameterShape).Source().NoGradient()));
}

}  // namespace rill

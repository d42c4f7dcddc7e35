#include "tests/graph/test_ops.h"

namespace rill {

const OpRegistry& TestOpRegistry() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry;
    RegisterAllOps(*r);
    r->Add(OpDef("SelfAndShape")
               .TypeVar("T", kAnyType)
               .Input("x", "T")
               .Output("y")
               .Output("shape")
               .Shape([](InferenceContext& c) {
                 c.SetOutput(0, c.input_dtype(0), c.input_shape(0));
                 c.SetOutput(1, DType::kI64, Shape{c.input_shape(0).rank()});
                 return absl::OkStatus();
               })
               .NoGradient());
    return r;
  }();
  return *registry;
}

}  // namespace rill

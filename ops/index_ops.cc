// Index ops.

#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {

void RegisterIndexOps(OpRegistry& r) {}

}  // namespace rill

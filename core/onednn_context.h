#ifndef RILL_CORE_ONEDNN_CONTEXT_H_
#define RILL_CORE_ONEDNN_CONTEXT_H_

#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

namespace rill {

// The CPU engine and the in-order stream that oneDNN kernels run on. One per
// executor; oneDNN's own OpenMP threading uses the cores.
struct OneDnnContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Primitives by node configuration, and memory objects by buffer and
  // layout (CachedPrimitive and MemoryFor, ops/kernel_util.h).
  std::unordered_map<std::string, dnnl::primitive> primitives;
  std::unordered_map<std::string, dnnl::memory> memories;
};

}  // namespace rill

#endif  // RILL_CORE_ONEDNN_CONTEXT_H_

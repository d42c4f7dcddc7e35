#ifndef RILL_CORE_ONEDNN_CONTEXT_H_
#define RILL_CORE_ONEDNN_CONTEXT_H_

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace rill {

// What a fused recurrent layer's forward kernel shares with the gradient
// kernel bound to it (ops/recurrent_onednn.cc): one forward_training run
// serves both, as in a direct use of oneDNN's RNN primitives. The gradient
// kernel, created after the forward one in the same plan and reading the
// same input tensors, sets `train` (its own forward_training into its own
// y, hn, cn and workspace); the forward kernel then runs it instead of its
// inference primitive, copies y, hn and cn out, and marks the result
// fresh; the backward consumes a fresh result and recomputes otherwise.
// y, hn and cn stay in the gradient kernel's buffers because the forward's
// outputs may be reused before the backward runs.
struct RecurrentForwardLink {
  std::vector<std::string> inputs;  // x, h0, weights, biases[, c0]: "node:k".
  std::string layer;                // Its cell and direction.
  std::function<void()> train;
  const float *y = nullptr, *hn = nullptr, *cn = nullptr;
  bool fresh = false;
};

// A buffer seen in a plain or strided layout: what a oneDNN memory object
// over it is determined by.
struct MemoryKey {
  const void* data = nullptr;
  int data_type = 0;
  int ndims = 0;
  int64_t offset0 = 0;
  std::array<int64_t, DNNL_MAX_NDIMS> dims{}, strides{};

  bool operator==(const MemoryKey& o) const {
    return data == o.data && data_type == o.data_type && ndims == o.ndims &&
           offset0 == o.offset0 && dims == o.dims && strides == o.strides;
  }
  template <typename H>
  friend H AbslHashValue(H h, const MemoryKey& k) {
    h = H::combine(std::move(h), k.data, k.data_type, k.ndims, k.offset0);
    h = H::combine_contiguous(std::move(h), k.dims.data(), k.ndims);
    return H::combine_contiguous(std::move(h), k.strides.data(), k.ndims);
  }
};

// The CPU engine and the in-order stream that oneDNN kernels run on. One per
// executor; oneDNN's own OpenMP threading uses the cores.
struct OneDnnContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Primitives by node configuration, and memory objects by buffer and
  // layout (CachedPrimitive and MemoryFor, ops/kernel_util.h).
  std::unordered_map<std::string, dnnl::primitive> primitives;
  absl::flat_hash_map<MemoryKey, dnnl::memory> memories;
  // The fused recurrent layers' forward kernels of the plan being compiled,
  // by node name, for their gradient kernels to bind to
  // (ops/recurrent_onednn.cc). Cleared whenever a plan compile starts, so
  // that kernels of two plans never bind.
  std::unordered_map<std::string, std::shared_ptr<RecurrentForwardLink>>
      recurrent_forwards;
};

}  // namespace rill

#endif  // RILL_CORE_ONEDNN_CONTEXT_H_

#ifndef RILL_CORE_ONEDNN_CONTEXT_H_
#define RILL_CORE_ONEDNN_CONTEXT_H_

#include <array>
#include <string>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace rill {

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
};

}  // namespace rill

#endif  // RILL_CORE_ONEDNN_CONTEXT_H_

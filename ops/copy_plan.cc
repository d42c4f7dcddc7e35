#include "ops/copy_plan.h"

namespace rill {

std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.rank(), 1);
  for (int d = s.rank() - 2; d >= 0; --d) st[d] = st[d + 1] * s.dim(d + 1);
  return st;
}

StridedCopy Simplified(const StridedCopy& c) {
  StridedCopy s;
  s.src_offset = c.src_offset;
  s.dst_offset = c.dst_offset;
  for (size_t d = 0; d < c.dims.size(); ++d) {
    if (c.dims[d] == 0) {
      s.dims = {0};
      s.src_strides = s.dst_strides = {0};
      return s;
    }
    if (c.dims[d] == 1) continue;
    if (!s.dims.empty() &&
        s.src_strides.back() == c.src_strides[d] * c.dims[d] &&
        s.dst_strides.back() == c.dst_strides[d] * c.dims[d]) {
      s.dims.back() *= c.dims[d];
      s.src_strides.back() = c.src_strides[d];
      s.dst_strides.back() = c.dst_strides[d];
      continue;
    }
    s.dims.push_back(c.dims[d]);
    s.src_strides.push_back(c.src_strides[d]);
    s.dst_strides.push_back(c.dst_strides[d]);
  }
  if (s.dims.empty()) s.dims = s.src_strides = s.dst_strides = {1};
  return s;
}

CopyPlan WholePlan(const KernelArgs& a) {
  int64_t n = a.outputs[0].num_elements();
  return {{0, 0, {{n}, {1}, {1}}}};
}

}  // namespace rill

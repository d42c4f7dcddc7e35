#ifndef RILL_OPS_COPY_PLAN_H_
#define RILL_OPS_COPY_PLAN_H_

// Strided copies: the reference kernel of every data-moving op (the shape
// and layout ops in array_ops.cc, Concat, Split and Slice in
// slice_ops.cc). A kernel is a plan of copies built once from its shapes.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/kernel_util.h"

namespace rill {

// C-order element strides.
std::vector<int64_t> Strides(const Shape& s);

// Walks `dims` in C order; element c moves from src[src_offset + c . src
// strides] to dst[dst_offset + c . dst strides]. Strides may be 0
// (broadcast) or negative (reverse).
struct StridedCopy {
  std::vector<int64_t> dims, src_strides, dst_strides;
  int64_t src_offset = 0, dst_offset = 0;
};

// Drops size-1 dims and merges dims that are contiguous in both source and
// destination, so that plain copies become one std::copy.
StridedCopy Simplified(const StridedCopy& c);

// `coord` has room for c.dims.size() entries.
template <typename T>
void RunCopy(const StridedCopy& c, const T* src, T* dst, int64_t* coord) {
  int rank = static_cast<int>(c.dims.size());
  int64_t n = c.dims[rank - 1];
  int64_t ss = c.src_strides[rank - 1], ds = c.dst_strides[rank - 1];
  if (n == 0) return;
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= c.dims[d];
  std::fill(coord, coord + rank, 0);
  int64_t s = c.src_offset, o = c.dst_offset;
  for (int64_t k = 0; k < outer; ++k) {
    const T* from = src + s;
    T* to = dst + o;
    if (ss == 1 && ds == 1) {
      std::copy(from, from + n, to);
    } else {
      for (int64_t i = 0; i < n; ++i) to[i * ds] = from[i * ss];
    }
    for (int d = rank - 2; d >= 0; --d) {  // Odometer over the outer dims.
      s += c.src_strides[d];
      o += c.dst_strides[d];
      if (++coord[d] < c.dims[d]) break;
      s -= c.src_strides[d] * c.dims[d];
      o -= c.dst_strides[d] * c.dims[d];
      coord[d] = 0;
    }
  }
}

struct CopyStep {
  int input, output;
  StridedCopy copy;
};
using CopyPlan = std::vector<CopyStep>;
// Plans are built from shapes the shape function has already checked.
using PlanFn = CopyPlan (*)(const KernelArgs&);

// With `kZeroFirst`, the outputs are zeroed before the copies, which then
// fill only part of them (SliceGrad).
template <PlanFn Plan, bool kZeroFirst = false>
struct Mover {
  template <typename T>
  struct Kernel : OpKernel {
    explicit Kernel(const KernelArgs& a)
        : inputs(a.inputs), outputs(a.outputs), steps(Plan(a)) {
      size_t rank = 1;
      for (CopyStep& step : steps) {
        step.copy = Simplified(step.copy);
        rank = std::max(rank, step.copy.dims.size());
      }
      coord.resize(rank);
    }
    absl::Status Compute() override {
      if constexpr (kZeroFirst) {
        for (Tensor& y : outputs) {
          std::fill_n(y.data<T>(), y.num_elements(), T(0));
        }
      }
      for (const CopyStep& step : steps) {
        RunCopy(step.copy, inputs[step.input].data<T>(),
                outputs[step.output].data<T>(), coord.data());
      }
      return absl::OkStatus();
    }
    std::vector<Tensor> inputs, outputs;
    CopyPlan steps;
    std::vector<int64_t> coord;
  };
};

template <PlanFn Plan, bool kZeroFirst = false>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeMover(const KernelArgs& a) {
  return MakeKernelForType<Mover<Plan, kZeroFirst>::template Kernel>(
      a.outputs[0].dtype(), a);
}

// The output holds the input's elements in the same order.
CopyPlan WholePlan(const KernelArgs& a);

}  // namespace rill

#endif  // RILL_OPS_COPY_PLAN_H_

#ifndef RILL_OPS_KERNEL_UTIL_H_
#define RILL_OPS_KERNEL_UTIL_H_

// Building blocks that op families share: float-type dispatch, reference
// element-wise and broadcasting loops, and wrappers for oneDNN primitives.

#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "ops/op_def.h"

namespace rill {

// Creates Kernel<float> or Kernel<double> from the dtype of output 0 (which
// float ops share with their float inputs; mask ops take it from an attr).
template <template <typename> class Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeFloatKernel(const KernelArgs& a) {
  switch (a.outputs[0].dtype()) {
    case DType::kF32:
      return std::make_unique<Kernel<float>>(a);
    case DType::kF64:
      return std::make_unique<Kernel<double>>(a);
    default:
      return absl::InternalError(absl::StrCat("node '", a.node.name(), "': no ",
                                              DTypeName(a.outputs[0].dtype()),
                                              " kernel"));
  }
}

// Creates Kernel<T> for the C++ type of `dtype` (any of the five dtypes).
template <template <typename> class Kernel>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeKernelForType(
    DType dtype, const KernelArgs& a) {
  switch (dtype) {
    case DType::kF32:
      return std::make_unique<Kernel<float>>(a);
    case DType::kF64:
      return std::make_unique<Kernel<double>>(a);
    case DType::kI32:
      return std::make_unique<Kernel<int32_t>>(a);
    case DType::kI64:
      return std::make_unique<Kernel<int64_t>>(a);
    case DType::kBool:
      return std::make_unique<Kernel<bool>>(a);
  }
  return absl::InternalError("unknown dtype");
}

// Whether `v` converts to the integer type Out without undefined behaviour:
// its truncation toward zero is representable (NaN never is).
template <typename Out, typename In>
bool FitsIn(In v) {
  if constexpr (std::is_floating_point_v<In>) {
    double t = std::trunc(static_cast<double>(v));
    return t >= static_cast<double>(std::numeric_limits<Out>::min()) &&
           t < -static_cast<double>(std::numeric_limits<Out>::min());
  } else {
    return v >= std::numeric_limits<Out>::min() &&
           v <= std::numeric_limits<Out>::max();
  }
}

// A tensor seen as [outer, axis, inner] around `axis`.
struct AxisSplit {
  int64_t outer = 1, axis = 1, inner = 1;
};
AxisSplit SplitAt(const Shape& shape, int axis);

// "[1, 2]": the coordinates of element `flat` of `shape`, for messages.
std::string ElementPosition(int64_t flat, const Shape& shape);

// The strides of `in` seen with `out`'s rank (NumPy rules, `in` aligned on
// the right): 0 along the dimensions that broadcast.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Walks the elements of `out` in C order, calling f(i, offsets) where
// offsets[k] is the offset of the element of input k that broadcasts to
// element i. The offsets are stepped as the walk goes rather than tabled up
// front: a table would be as large as the output, memory no plan accounts
// for. Built once per kernel; Run allocates nothing for ranks up to 8.
template <size_t N>
class BroadcastWalk {
 public:
  BroadcastWalk(const Shape& out, const std::array<const Shape*, N>& ins)
      : dims_(out.dims()) {
    for (int64_t d : dims_) total_ *= d;
    for (size_t k = 0; k < N; ++k) strides_[k] = BroadcastStrides(*ins[k], out);
  }

  template <typename F>
  void Run(F f) const {
    const int rank = static_cast<int>(dims_.size());
    std::array<int64_t, N> offsets{};
    if (rank == 0) {
      f(int64_t{0}, offsets);
      return;
    }
    if (total_ == 0) return;
    const int64_t inner = dims_[rank - 1];
    absl::InlinedVector<int64_t, 8> coord(rank, 0);
    for (int64_t row = 0; row < total_; row += inner) {
      std::array<int64_t, N> at = offsets;
      for (int64_t j = 0; j < inner; ++j) {
        f(row + j, at);
        for (size_t k = 0; k < N; ++k) at[k] += strides_[k][rank - 1];
      }
      // Odometer increment over the outer dimensions.
      for (int d = rank - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) offsets[k] += strides_[k][d];
        if (++coord[d] < dims_[d]) break;
        for (size_t k = 0; k < N; ++k) offsets[k] -= strides_[k][d] * dims_[d];
        coord[d] = 0;
      }
    }
  }

 private:
  std::vector<int64_t> dims_;
  int64_t total_ = 1;
  std::array<std::vector<int64_t>, N> strides_;
};

// Reference y = f(x) over all elements; f is generic over float/double.
template <typename F>
class UnaryReferenceKernel : public OpKernel {
 public:
  UnaryReferenceKernel(const KernelArgs& a, F f)
      : x_(a.inputs[0]), y_(a.outputs[0]), f_(f) {}
  absl::Status Compute() override {
    x_.dtype() == DType::kF32 ? Run<float>() : Run<double>();
    return absl::OkStatus();
  }

 private:
  template <typename T>
  void Run() {
    const T* src = x_.data<T>();
    T* dst = y_.data<T>();
    for (int64_t i = 0; i < y_.num_elements(); ++i) dst[i] = f_(src[i]);
  }
  Tensor x_, y_;
  F f_;
};

template <typename F>
KernelFactory UnaryReference(F f) {
  return [f](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    return std::make_unique<UnaryReferenceKernel<F>>(a, f);
  };
}

// Reference z = f(a, b) with NumPy broadcasting.
template <typename F>
class BinaryReferenceKernel : public OpKernel {
 public:
  BinaryReferenceKernel(const KernelArgs& a, F f)
      : x_(a.inputs[0]),
        y_(a.inputs[1]),
        z_(a.outputs[0]),
        f_(f),
        same_shapes_(x_.shape() == z_.shape() && y_.shape() == z_.shape()),
        walk_(z_.shape(), {&x_.shape(), &y_.shape()}) {}
  absl::Status Compute() override {
    x_.dtype() == DType::kF32 ? Run<float>() : Run<double>();
    return absl::OkStatus();
  }

 private:
  template <typename T>
  void Run() {
    const T* xs = x_.data<T>();
    const T* ys = y_.data<T>();
    T* zs = z_.data<T>();
    int64_t n = z_.num_elements();
    if (same_shapes_) {
      for (int64_t i = 0; i < n; ++i) zs[i] = f_(xs[i], ys[i]);
      return;
    }
    walk_.Run([&](int64_t i, const std::array<int64_t, 2>& at) {
      zs[i] = f_(xs[at[0]], ys[at[1]]);
    });
  }
  Tensor x_, y_, z_;
  F f_;
  bool same_shapes_;
  BroadcastWalk<2> walk_;
};

template <typename F>
KernelFactory BinaryReference(F f) {
  return [f](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    return std::make_unique<BinaryReferenceKernel<F>>(a, f);
  };
}

// ---- oneDNN ----

// A plain (C-order) memory descriptor, f32 unless said otherwise; oneDNN has
// no rank 0, so a scalar is [1].
dnnl::memory::desc PlainDesc(const Shape& shape);
dnnl::memory::desc PlainDesc(
    const std::vector<int64_t>& dims,
    dnnl::memory::data_type type = dnnl::memory::data_type::f32);
// `shape`'s dims with leading 1s up to `rank`: oneDNN broadcasts only
// between descriptors of equal rank.
std::vector<int64_t> PaddedDims(const Shape& shape, int rank);
// A oneDNN memory object over `t`'s buffer, laid out as `desc`. Kernels
// that see one buffer in one layout (a weight shared by every step of an
// unrolled RNN) share one object, kept by the executor's OneDnnContext:
// creating them dominated the compile time of large graphs.
dnnl::memory MemoryFor(const KernelArgs& a, const Tensor& t,
                       const dnnl::memory::desc& desc);

// A primitive's arguments: (DNNL_ARG_*, memory) pairs.
using DnnlArgs = std::vector<std::pair<int, dnnl::memory>>;

// Runs one primitive with arguments bound at creation, after any that
// RunFirst added (the reorders that make a bf16 matmul's operands).
class PrimitiveKernel : public OpKernel {
 public:
  PrimitiveKernel(const KernelArgs& a, dnnl::primitive p, DnnlArgs args);
  void RunFirst(dnnl::primitive p, DnnlArgs args);
  absl::Status Compute() override;

 private:
  struct Step {
    dnnl::primitive primitive;
    DnnlArgs args;  // Owns the memory objects that exec_args point to.
    // For the C API's execute, which takes an array where the C++ one
    // wants an unordered_map to be built on every call.
    std::vector<dnnl_exec_arg_t> exec_args;
  };
  static Step MakeStep(dnnl::primitive p, DnnlArgs args);

  const std::string* node_name_;  // The graph's, which outlives kernels.
  dnnl::stream* stream_;
  std::vector<Step> steps_;  // Run in order; the kernel's own is last.
};

// `make`'s primitive, created once per executor for each configuration of
// a node: its op, attributes, input and output dtypes and shapes, and
// `variant` (anything else the factory decides by). Nodes that agree on
// these (the steps of an unrolled RNN) share one primitive and skip
// oneDNN's primitive-descriptor dispatch, which otherwise dominates the
// compile time of large graphs. Primitives hold no buffers, so sharing is
// safe.
dnnl::primitive CachedPrimitive(const KernelArgs& a,
                                const std::function<dnnl::primitive()>& make,
                                const std::string& variant = "");

// Runs `make` (which builds a primitive kernel) and turns a dnnl::error into
// a Status naming the node (DESIGN.md, decision 1).
absl::StatusOr<std::unique_ptr<OpKernel>> CatchDnnl(
    const KernelArgs& a,
    const std::function<std::unique_ptr<OpKernel>()>& make);

// Whether oneDNN can take `t` as a plain tensor of `dtype`: non-empty (some
// primitives reject zero-sized descriptors) and within its rank limit.
bool OneDnnCanTake(const Tensor& t, DType dtype);
// True when oneDNN can take every input and output as f32. oneDNN has no
// f64 on CPU; the other cases run on the reference kernel too.
bool OneDnnCanRun(const KernelArgs& a);

// Whether oneDNN runs bf16 matmuls natively on this CPU (AVX512_BF16 or
// AMX); elsewhere it would emulate them, slower than f32.
bool CpuRunsBf16();

// oneDNN eltwise forward (tanh, logistic, ...), f32.
KernelFactory EltwiseOneDnn(dnnl::algorithm alg, float alpha = 0.f,
                            float beta = 0.f);

}  // namespace rill

#endif  // RILL_OPS_KERNEL_UTIL_H_

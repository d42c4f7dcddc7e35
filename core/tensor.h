#ifndef RILL_CORE_TENSOR_H_
#define RILL_CORE_TENSOR_H_

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/status.h"

namespace rill {

// Buffers start on a 64-byte boundary: a cache line, and what AVX-512 loads
// and oneDNN prefer.
inline constexpr int64_t kTensorAlignment = 64;

// `bytes` rounded up to a multiple of kTensorAlignment (bytes >= 0, small
// enough not to overflow: validated sizes are).
inline constexpr int64_t AlignedBytes(int64_t bytes) {
  return (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
}

// A dense, C-order tensor. It either owns a buffer (shared by copies, like a
// shared_ptr) or views memory that someone else keeps alive.
class Tensor {
 public:
  Tensor() = default;  // An empty f32 scalar with no buffer; valid() is false.

  // A zero-filled, owned, aligned buffer. Fails on a symbolic, negative or
  // overflowing shape, or when the allocation fails.
  static absl::StatusOr<Tensor> Allocate(DType dtype, Shape shape);
  // Views `data`, which must outlive the tensor and hold the full shape.
  static absl::StatusOr<Tensor> View(DType dtype, Shape shape, void* data);

  bool valid() const { return valid_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t num_elements() const { return num_elements_; }
  int64_t byte_size() const { return num_elements_ * DTypeSize(dtype_); }
  bool owns_memory() const { return owner_ != nullptr; }

  void* raw_data() const { return data_; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(data_);
  }

  // An owned, aligned buffer whose contents are unspecified: for callers
  // that overwrite every byte (Clone, .npy reads). Same errors as Allocate.
  static absl::StatusOr<Tensor> AllocateUninitialized(DType dtype, Shape shape);

  // The same view, now also keeping `owner` (the memory it points into)
  // alive. An owned tensor stays as it is.
  Tensor SharingOwnership(std::shared_ptr<void> owner) const;

  // Element i (C order) converted to double, whatever the dtype: for
  // summaries and comparisons, not for hot loops.
  double ElementAsDouble(int64_t i) const;

  // A deep copy into a new owned buffer.
  absl::StatusOr<Tensor> Clone() const;
  // Same bytes, same dtype and shape.
  bool BitwiseEquals(const Tensor& other) const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  int64_t num_elements_ = 0;
  bool valid_ = false;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

// Copies rows `rows[0..n)` of `from` (along axis 0) into the first n rows
// of `to`, whose other dims match. No allocation.
void GatherRows(const Tensor& from, const int64_t* rows, int64_t n, Tensor& to);

}  // namespace rill

#endif  // RILL_CORE_TENSOR_H_

#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace rill {

absl::StatusOr<Tensor> Tensor::AllocateUninitialized(DType dtype, Shape shape) {
  ASSIGN_OR_RETURN(int64_t bytes, shape.ByteSize(dtype));
  // aligned_alloc wants a multiple of the alignment, and never zero bytes.
  // The rounding must not overflow for sizes near INT64_MAX.
  void* data = nullptr;
  if (bytes < std::numeric_limits<int64_t>::max() - kTensorAlignment) {
    data = std::aligned_alloc(
        kTensorAlignment, (bytes / kTensorAlignment + 1) * kTensorAlignment);
  }
  if (data == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", bytes, " bytes for ", DTypeName(dtype),
                     " tensor of shape ", shape.ToString()));
  }
  std::shared_ptr<void> owner(data, std::free);
  ASSIGN_OR_RETURN(Tensor t, View(dtype, std::move(shape), data));
  t.owner_ = std::move(owner);
  return t;
}

absl::StatusOr<Tensor> Tensor::Allocate(DType dtype, Shape shape) {
  ASSIGN_OR_RETURN(Tensor t, AllocateUninitialized(dtype, std::move(shape)));
  if (t.byte_size() > 0) std::memset(t.data_, 0, t.byte_size());
  return t;
}

absl::StatusOr<Tensor> Tensor::View(DType dtype, Shape shape, void* data) {
  ASSIGN_OR_RETURN(int64_t bytes, shape.ByteSize(dtype));
  if (data == nullptr && bytes > 0) {
    return absl::InvalidArgumentError("tensor view of null memory");
  }
  Tensor t;
  t.dtype_ = dtype;
  t.num_elements_ = bytes / DTypeSize(dtype);
  t.valid_ = true;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::SharingOwnership(std::shared_ptr<void> owner) const {
  Tensor t = *this;
  if (t.owner_ == nullptr) t.owner_ = std::move(owner);
  return t;
}

double Tensor::ElementAsDouble(int64_t i) const {
  switch (dtype_) {
    case DType::kF32:
      return data<float>()[i];
    case DType::kF64:
      return data<double>()[i];
    case DType::kI32:
      return data<int32_t>()[i];
    case DType::kI64:
      return static_cast<double>(data<int64_t>()[i]);
    case DType::kBool:
      return data<bool>()[i];
  }
  return 0;
}

absl::StatusOr<Tensor> Tensor::Clone() const {
  if (!valid_)
    return absl::FailedPreconditionError("cannot clone an empty Tensor()");
  ASSIGN_OR_RETURN(Tensor copy, AllocateUninitialized(dtype_, shape_));
  if (byte_size() > 0) std::memcpy(copy.data_, data_, byte_size());
  return copy;
}

bool Tensor::BitwiseEquals(const Tensor& other) const {
  return valid_ == other.valid_ && dtype_ == other.dtype_ &&
         shape_ == other.shape_ &&
         (!valid_ || byte_size() == 0 ||
          std::memcmp(data_, other.data_, byte_size()) == 0);
}

void GatherRows(const Tensor& from, const int64_t* rows, int64_t n,
                Tensor& to) {
  int64_t rows_total = from.shape().dim(0);
  if (rows_total == 0 || n == 0) return;
  size_t row_bytes = from.byte_size() / rows_total;
  const char* src = static_cast<const char*>(from.raw_data());
  char* dst = static_cast<char*>(to.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * row_bytes, src + rows[i] * row_bytes, row_bytes);
  }
}

}  // namespace rill

#ifndef RILL_CORE_SHAPE_H_
#define RILL_CORE_SHAPE_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/limits.h"  // CheckedMul, which shapes also use.
#include "core/status.h"

namespace rill {

// A dimension of -1 is symbolic: known only when the graph is fed.
inline constexpr int64_t kSymbolicDim = -1;

// A tensor shape. Construction never fails; the checked accessors below
// report negative dimensions and int64 overflow as errors, since shapes come
// from user input.
class Shape {
 public:
  Shape() = default;  // a scalar
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[i]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  std::vector<int64_t>& mutable_dims() { return dims_; }

  bool IsFullyDefined() const;

  // Each dimension is >= 0, or -1 where `allow_symbolic`.
  absl::Status Validate(bool allow_symbolic) const;
  // Product of the dimensions; an error for a symbolic or negative dimension,
  // or when the product overflows int64.
  absl::StatusOr<int64_t> NumElements() const;
  // NumElements() * DTypeSize(dtype), overflow-checked.
  absl::StatusOr<int64_t> ByteSize(DType dtype) const;

  // "[2, ?, 4]"
  std::string ToString() const;

  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }

 private:
  std::vector<int64_t> dims_;
};

}  // namespace rill

#endif  // RILL_CORE_SHAPE_H_

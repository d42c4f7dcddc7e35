#ifndef RILL_CORE_NPY_H_
#define RILL_CORE_NPY_H_

// NumPy .npy files (format versions 1.0, 2.0 and 3.0): little-endian, C-order
// arrays of the five rill dtypes, '<f4', '<f8', '<i4', '<i8' and '|b1'.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace rill {

// Parses the bytes of a .npy file. `source` names it in errors (a path).
// Refuses, before allocating, a tensor larger than `max_bytes`. Errors:
// InvalidArgument for a malformed or unsupported file, DataLoss for a
// truncated one, ResourceExhausted over the budget.
absl::StatusOr<Tensor> ParseNpy(std::string_view bytes,
                                const std::string& source, int64_t max_bytes);

// Reads and parses `path`; the file may be at most the budget plus a header
// allowance, which is refused before reading.
absl::StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_bytes);

// Where a .npy file's data lies: for reading rows in place (train/data.h).
struct NpyLayout {
  DType dtype;
  Shape shape;
  int64_t data_offset = 0;  // Bytes from the start of the file.
};

// Reads only the header of `path` and checks that the file holds exactly
// the data it declares; errors name `path`, as ParseNpy's do.
absl::StatusOr<NpyLayout> ReadNpyLayout(const std::string& path);

// The .npy bytes numpy 1.24 would write for `t`: version 1.0 (2.0 when the
// header exceeds 65535 bytes), little-endian, C order, header padded so the
// data starts at a multiple of 64 bytes. `t` must be valid().
std::string SerializeNpy(const Tensor& t);

// Writes `t` to `path` atomically (see WriteFileAtomic).
absl::Status WriteNpy(const std::string& path, const Tensor& t);

}  // namespace rill

#endif  // RILL_CORE_NPY_H_

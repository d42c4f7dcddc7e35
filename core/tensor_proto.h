#ifndef RILL_CORE_TENSOR_PROTO_H_
#define RILL_CORE_TENSOR_PROTO_H_

#include <cstdint>

#include "core/shape.h"
#include "core/tensor.h"
#include "proto/graph.pb.h"

namespace rill {

// Decodes a TensorProto. Rejects an unsupported dtype, negative or
// overflowing dims, data whose length disagrees with the dims, data in a
// field that does not match the dtype, and a tensor larger than `max_bytes`
// (checked before allocating).
absl::StatusOr<Tensor> TensorFromProto(const TensorProto& proto,
                                       int64_t max_bytes);

// The checks of TensorFromProto without allocating; sets the dtype and shape.
absl::Status CheckTensorProto(const TensorProto& proto, int64_t max_bytes,
                              DType* dtype, Shape* shape);

// Encodes as typed repeated values (readable in text format).
TensorProto TensorToProto(const Tensor& tensor);

Shape ShapeFromProto(const ShapeProto& proto);

}  // namespace rill

#endif  // RILL_CORE_TENSOR_PROTO_H_

#ifndef RILL_ONNX_ONNX_TENSOR_H_
#define RILL_ONNX_ONNX_TENSOR_H_

// ONNX TensorProtos (initialisers, Constant values, the backend tests'
// input_N.pb) as rill tensors.

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "onnx/onnx.pb.h"

namespace rill {

// The rill dtype of an ONNX TensorProto.DataType, or an error naming it
// (float16, uint8, string, ... have no rill dtype).
absl::StatusOr<DType> DTypeFromOnnx(int32_t onnx_type);

// `what` names the tensor in errors ("initializer 'w'"). External data is
// read from `model_dir` and must stay inside it; `max_bytes` caps the size.
absl::StatusOr<Tensor> TensorFromOnnx(const ::onnx::TensorProto& proto,
                                      const std::string& what,
                                      const std::string& model_dir,
                                      int64_t max_bytes);

}  // namespace rill

#endif  // RILL_ONNX_ONNX_TENSOR_H_

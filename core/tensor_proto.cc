#include "core/tensor_proto.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// Number of values in each typed field, to reject data in the wrong one.
int TypedFieldSize(const TensorProto& p, DType t) {
  switch (t) {
    case DType::kF32:
      return p.float_val_size();
    case DType::kF64:
      return p.double_val_size();
    case DType::kI32:
      return p.int_val_size();
    case DType::kI64:
      return p.int64_val_size();
    case DType::kBool:
      return p.bool_val_size();
  }
  return 0;
}

const char* TypedFieldName(DType t) {
  switch (t) {
    case DType::kF32:
      return "float_val";
    case DType::kF64:
      return "double_val";
    case DType::kI32:
      return "int_val";
    case DType::kI64:
      return "int64_val";
    case DType::kBool:
      return "bool_val";
  }
  return "?";
}

template <typename T, typename Field>
void CopyTyped(const Field& field, Tensor& t) {
  T* out = t.data<T>();
  for (int i = 0; i < field.size(); ++i) out[i] = field.Get(i);
}

}  // namespace

Shape ShapeFromProto(const ShapeProto& proto) {
  return Shape(std::vector<int64_t>(proto.dim().begin(), proto.dim().end()));
}

absl::Status CheckTensorProto(const TensorProto& proto, int64_t max_bytes,
                              DType* dtype_out, Shape* shape_out) {
  ASSIGN_OR_RETURN(DType dtype, DTypeFromProto(proto.dtype()));
  Shape shape(std::vector<int64_t>(proto.dims().begin(), proto.dims().end()));
  ASSIGN_OR_RETURN(int64_t bytes, shape.ByteSize(dtype));
  for (DType other : kAllDTypes) {
    if (other != dtype && TypedFieldSize(proto, other) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor of dtype ", DTypeName(dtype), " has data in ",
                       TypedFieldName(other), "; use ", TypedFieldName(dtype)));
    }
  }
  int64_t typed = TypedFieldSize(proto, dtype);
  int64_t raw = static_cast<int64_t>(proto.raw_data().size());
  if (typed > 0 && raw > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor has both ", TypedFieldName(dtype), " and raw_data"));
  }
  int64_t num_elements = bytes / DTypeSize(dtype);
  if (raw > 0 ? raw != bytes : typed != num_elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor of shape ", shape.ToString(), " needs ", num_elements,
        " values (", bytes, " bytes) but has ",
        raw > 0 ? absl::StrCat(raw, " bytes of raw_data")
                : absl::StrCat(typed, " in ", TypedFieldName(dtype))));
  }
  if (bytes > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("tensor of ", bytes, " bytes exceeds the ", max_bytes,
                     " bytes left of the memory budget"));
  }
  // A bool byte other than 0 or 1 is not a valid C++ bool.
  if (dtype == DType::kBool && raw > 0 &&
      proto.raw_data().find_first_not_of(std::string("\0\1", 2)) !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        "bool raw_data holds a byte other than 0 or 1");
  }
  *dtype_out = dtype;
  *shape_out = std::move(shape);
  return absl::OkStatus();
}

absl::StatusOr<Tensor> TensorFromProto(const TensorProto& proto,
                                       int64_t max_bytes) {
  DType dtype;
  Shape shape;
  RETURN_IF_ERROR(CheckTensorProto(proto, max_bytes, &dtype, &shape));
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  if (!proto.raw_data().empty()) {
    std::memcpy(t.raw_data(), proto.raw_data().data(), t.byte_size());
    return t;
  }
  switch (dtype) {
    case DType::kF32:
      CopyTyped<float>(proto.float_val(), t);
      break;
    case DType::kF64:
      CopyTyped<double>(proto.double_val(), t);
      break;
    case DType::kI32:
      CopyTyped<int32_t>(proto.int_val(), t);
      break;
    case DType::kI64:
      CopyTyped<int64_t>(proto.int64_val(), t);
      break;
    case DType::kBool:
      CopyTyped<bool>(proto.bool_val(), t);
      break;
  }
  return t;
}

TensorProto TensorToProto(const Tensor& t) {
  TensorProto p;
  p.set_dtype(DTypeToProto(t.dtype()));
  for (int64_t d : t.shape().dims()) p.add_dims(d);
  int64_t n = t.num_elements();
  switch (t.dtype()) {
    case DType::kF32:
      p.mutable_float_val()->Add(t.data<float>(), t.data<float>() + n);
      break;
    case DType::kF64:
      p.mutable_double_val()->Add(t.data<double>(), t.data<double>() + n);
      break;
    case DType::kI32:
      p.mutable_int_val()->Add(t.data<int32_t>(), t.data<int32_t>() + n);
      break;
    case DType::kI64:
      p.mutable_int64_val()->Add(t.data<int64_t>(), t.data<int64_t>() + n);
      break;
    case DType::kBool:
      p.mutable_bool_val()->Add(t.data<bool>(), t.data<bool>() + n);
      break;
  }
  return p;
}

}  // namespace rill

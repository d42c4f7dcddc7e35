#include "onnx/onnx_tensor.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

// The bytes of an external-data tensor: `location` relative to the model's
// directory (never outside it), from `offset`, `length` bytes.
absl::StatusOr<std::string> ReadExternal(const ::onnx::TensorProto& proto,
                                         const std::string& what,
                                         const std::string& model_dir,
                                         int64_t expected_bytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      int64_t v = 0;
      if (!absl::SimpleAtoi(kv.value(), &v) || v < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": external_data ", kv.key(), " '", kv.value(),
                         "' is not a non-negative integer"));
      }
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external_data has no location"));
  }
  fs::path dir = fs::weakly_canonical(fs::absolute(model_dir));
  fs::path file = fs::weakly_canonical(dir / location);
  auto rel = file.lexically_relative(dir);
  if (fs::path(location).is_absolute() || rel.empty() || *rel.begin() == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external_data location '", location,
                     "' is outside the model's directory ", dir.string()));
  }
  if (length < 0) length = expected_bytes;
  if (length != expected_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external_data length ", length, " but dims ",
                     "need ", expected_bytes, " bytes"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(what, ": cannot open external data file ", file.string()));
  }
  std::string bytes(length, '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  if (in.gcount() != length) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external data file ", file.string(),
                     " ends before offset ", offset, " + length ", length));
  }
  return bytes;
}

template <typename T, typename Field>
absl::Status CopyField(const Field& field, const std::string& what,
                       const char* name, Tensor* t) {
  if (field.size() != t->num_elements()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", name, " holds ", field.size(),
                     " values but dims need ", t->num_elements()));
  }
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    t->data<T>()[i] = static_cast<T>(field.Get(i));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DType> DTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case ::onnx::TensorProto::FLOAT:
      return DType::kF32;
    case ::onnx::TensorProto::DOUBLE:
      return DType::kF64;
    case ::onnx::TensorProto::INT32:
      return DType::kI32;
    case ::onnx::TensorProto::INT64:
      return DType::kI64;
    case ::onnx::TensorProto::BOOL:
      return DType::kBool;
  }
  const char* name =
      ::onnx::TensorProto::DataType_IsValid(onnx_type)
          ? ::onnx::TensorProto::DataType_Name(
                static_cast<::onnx::TensorProto::DataType>(onnx_type))
                .c_str()
          : "unknown";
  return absl::UnimplementedError(
      absl::StrCat("ONNX data type ", onnx_type, " (", name,
                   ") has no rill dtype (float, double, int32, int64, bool)"));
}

absl::StatusOr<Tensor> TensorFromOnnx(const ::onnx::TensorProto& proto,
                                      const std::string& what,
                                      const std::string& model_dir,
                                      int64_t max_bytes) {
  absl::StatusOr<DType> dtype_or = DTypeFromOnnx(proto.data_type());
  if (!dtype_or.ok()) return Annotate(dtype_or.status(), what);
  const DType dtype = *dtype_or;
  for (int64_t d : proto.dims()) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": negative dimension ", d));
    }
  }
  Shape shape(std::vector<int64_t>(proto.dims().begin(), proto.dims().end()));
  absl::StatusOr<int64_t> bytes_or = shape.ByteSize(dtype);
  if (!bytes_or.ok()) return Annotate(bytes_or.status(), what);
  const int64_t bytes = *bytes_or;
  if (bytes > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": ", bytes, " bytes exceed the budget of ", max_bytes));
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  const bool external = proto.data_location() == ::onnx::TensorProto::EXTERNAL;
  if (external || proto.has_raw_data()) {
    std::string external_bytes;
    if (external) {
      ASSIGN_OR_RETURN(external_bytes,
                       ReadExternal(proto, what, model_dir, bytes));
    }
    const std::string& raw = external ? external_bytes : proto.raw_data();
    if (static_cast<int64_t>(raw.size()) != bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": raw_data holds ", raw.size(),
                       " bytes but dims need ", bytes));
    }
    // ONNX raw data is little-endian, as this machine.
    if (bytes > 0) std::memcpy(t.raw_data(), raw.data(), bytes);
    if (dtype == DType::kBool) {
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        t.data<bool>()[i] = raw[i] != 0;
      }
    }
    return t;
  }
  switch (dtype) {
    case DType::kF32:
      RETURN_IF_ERROR(
          CopyField<float>(proto.float_data(), what, "float_data", &t));
      break;
    case DType::kF64:
      RETURN_IF_ERROR(
          CopyField<double>(proto.double_data(), what, "double_data", &t));
      break;
    case DType::kI32:
      RETURN_IF_ERROR(
          CopyField<int32_t>(proto.int32_data(), what, "int32_data", &t));
      break;
    case DType::kI64:
      RETURN_IF_ERROR(
          CopyField<int64_t>(proto.int64_data(), what, "int64_data", &t));
      break;
    case DType::kBool:
      RETURN_IF_ERROR(
          CopyField<bool>(proto.int32_data(), what, "int32_data", &t));
      break;
  }
  return t;
}

}  // namespace rill

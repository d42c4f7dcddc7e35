#include "core/checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crc32c.h"
#include "core/file_io.h"
#include "core/mapped_file.h"
#include "core/quote.h"

namespace rill {
namespace {

// Integers are copied in host order, so the host must be little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint.cc assumes a little-endian host");

// The file stores DType values; reordering the enum would silently change
// the meaning of every existing checkpoint.
static_assert(static_cast<int>(DType::kF32) == 0 &&
                  static_cast<int>(DType::kF64) == 1 &&
                  static_cast<int>(DType::kI32) == 2 &&
                  static_cast<int>(DType::kI64) == 3 &&
                  static_cast<int>(DType::kBool) == 4,
              "checkpoint dtype codes are core/dtype.h's DType values");

constexpr absl::string_view kMagic = "RILLCKPT";
// A tensor record without its name, dims and data: name length, dtype,
// rank, data length, CRC.
constexpr size_t kRecordFixedBytes = 4 + 1 + 4 + 8 + 4;

// Untrusted bytes in an error message, as every reader quotes them
// (core/quote.h).
std::string Quote(absl::string_view s) { return QuoteForMessage(s, 64, '"'); }

std::string TensorLabel(size_t index, absl::string_view name) {
  return absl::StrCat("tensor ", index, " (", Quote(name), ")");
}

// --- Rules shared by the writer and the reader ---

absl::Status CheckStep(int64_t step) {
  if (step >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("step is ", step, "; it must be >= 0"));
}

// Tracks names seen so far; the views must outlive the check.
class NameChecker {
 public:
  absl::Status Add(absl::string_view name, size_t index) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", index, " has an empty name"));
    }
    auto [it, inserted] = first_index_.emplace(name, index);
    if (inserted) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(TensorLabel(index, name), ": duplicate name, also tensor ",
                     it->second));
  }

 private:
  absl::flat_hash_map<absl::string_view, size_t> first_index_;
};

// --- Writing ---

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutCrc(std::string& out, size_t from) {
  Put<uint32_t>(out, Crc32c(absl::string_view(out).substr(from)));
}

void PutTensorRecord(std::string& out, const std::string& name,
                     const Tensor& t) {
  size_t start = out.size();
  Put<uint32_t>(out, name.size());
  out += name;
  Put<uint8_t>(out, static_cast<uint8_t>(t.dtype()));
  Put<uint32_t>(out, t.shape().rank());
  for (int64_t d : t.shape().dims()) Put<int64_t>(out, d);
  Put<uint64_t>(out, t.byte_size());
  if (t.byte_size() > 0) {
    out.append(static_cast<const char*>(t.raw_data()), t.byte_size());
  }
  PutCrc(out, start);
}

size_t SerializedSize(const Checkpoint& c) {
  size_t size = kMagic.size() + 4 + 8 + 8 + c.rng_state.size() + 8 + 4 + 4;
  for (const auto& [name, t] : c.tensors) {
    size +=
        kRecordFixedBytes + name.size() + 8 * t.shape().rank() + t.byte_size();
  }
  return size;
}

// --- Reading ---

// Reads fixed-size fields and byte runs, checking each length against what
// remains before using it. Running out is truncation: DataLoss.
class ByteReader {
 public:
  // With `drop_pages`, `bytes` is a read-only file mapping whose pages each
  // CRC check hands back to the kernel once read (DropPages).
  explicit ByteReader(absl::string_view bytes, bool drop_pages = false)
      : bytes_(bytes), drop_pages_(drop_pages) {}

  // The CRC32C of Since(start), read in slices when pages are dropped, so
  // that verifying a file costs no more resident memory than a slice.
  uint32_t CrcSince(size_t start) const {
    absl::string_view all = Since(start);
    if (!drop_pages_) return Crc32c(all);
    constexpr size_t kSlice = size_t{8} << 20;
    uint32_t crc = 0;
    for (size_t at = 0; at < all.size(); at += kSlice) {
      absl::string_view slice = all.substr(at, kSlice);
      crc = Crc32c(slice, crc);
      DropPages(slice);
    }
    return crc;
  }

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  // The bytes from `start` to the current position.
  absl::string_view Since(size_t start) const {
    return bytes_.substr(start, pos_ - start);
  }

  absl::StatusOr<absl::string_view> Bytes(uint64_t n, const char* field) {
    if (n > remaining()) {
      return absl::DataLossError(absl::StrCat(
          "truncated or damaged: expected ", n, " bytes of ", field,
          " at offset ", pos_, ", but only ", remaining(), " remain"));
    }
    absl::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  template <typename T>
  absl::StatusOr<T> Get(const char* field) {
    ASSIGN_OR_RETURN(absl::string_view b, Bytes(sizeof(T), field));
    T value;
    std::memcpy(&value, b.data(), sizeof(T));
    return value;
  }

 private:
  absl::string_view bytes_;
  bool drop_pages_ = false;
  size_t pos_ = 0;
};

// Compares the CRC32C of the bytes from `start` on with the one stored after
// them.
absl::Status CheckCrc(ByteReader& r, size_t start) {
  uint32_t computed = r.CrcSince(start);
  size_t end = r.pos();
  ASSIGN_OR_RETURN(uint32_t stored, r.Get<uint32_t>("CRC32C"));
  if (stored == computed) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "damaged: the CRC32C of its ", end - start, " bytes at offset ", start,
      " is 0x", absl::Hex(computed, absl::kZeroPad8), ", but 0x",
      absl::Hex(stored, absl::kZeroPad8), " is stored"));
}

// Checked before any CRC: a file that is not a checkpoint, or of another
// version, has no CRC where we would look. Bytes that are a prefix of the
// magic are a truncated checkpoint.
absl::Status CheckMagic(absl::string_view bytes, const std::string& source) {
  absl::string_view head = bytes.substr(0, kMagic.size());
  if (head == kMagic.substr(0, head.size())) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source, " is not a rill checkpoint: it starts with ",
                   Quote(head), ", not \"RILLCKPT\""));
}

absl::Status CheckVersion(ByteReader& r) {
  RETURN_IF_ERROR(r.Bytes(kMagic.size(), "magic").status());
  ASSIGN_OR_RETURN(uint32_t version, r.Get<uint32_t>("format version"));
  if (version == kCheckpointFormatVersion) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported checkpoint format version ", version,
                   "; this build reads version ", kCheckpointFormatVersion,
                   " (the file is from another rill version, or damaged)"));
}

struct Header {
  int64_t step = 0;
  absl::string_view rng_state;
  uint64_t tensor_count = 0;
};

absl::StatusOr<Header> ReadHeader(ByteReader& r) {
  RETURN_IF_ERROR(CheckVersion(r));
  Header h;
  ASSIGN_OR_RETURN(h.step, r.Get<int64_t>("step"));
  ASSIGN_OR_RETURN(uint64_t rng_size, r.Get<uint64_t>("RNG-state length"));
  ASSIGN_OR_RETURN(h.rng_state, r.Bytes(rng_size, "RNG state"));
  ASSIGN_OR_RETURN(h.tensor_count, r.Get<uint64_t>("tensor count"));
  RETURN_IF_ERROR(CheckCrc(r, 0));
  return h;
}

// A tensor record whose CRC matched, not yet interpreted: views into the
// file's bytes.
struct RawRecord {
  absl::string_view name;
  uint8_t dtype = 0;
  absl::string_view dims;  // rank x 8 bytes
  absl::string_view data;
};

absl::Status ReadRecordFields(ByteReader& r, RawRecord& rec) {
  size_t start = r.pos();
  ASSIGN_OR_RETURN(uint32_t name_size, r.Get<uint32_t>("name length"));
  ASSIGN_OR_RETURN(rec.name, r.Bytes(name_size, "name"));
  ASSIGN_OR_RETURN(rec.dtype, r.Get<uint8_t>("dtype"));
  ASSIGN_OR_RETURN(uint32_t rank, r.Get<uint32_t>("rank"));
  ASSIGN_OR_RETURN(rec.dims, r.Bytes(uint64_t{rank} * 8, "dims"));
  ASSIGN_OR_RETURN(uint64_t size, r.Get<uint64_t>("data length"));
  ASSIGN_OR_RETURN(rec.data, r.Bytes(size, "data"));
  return CheckCrc(r, start);
}

absl::StatusOr<RawRecord> ReadRecord(ByteReader& r, size_t index) {
  RawRecord rec;
  absl::Status s = ReadRecordFields(r, rec);
  if (s.ok()) return rec;
  // Once its name is read, the error can say which tensor this claims to be.
  return Annotate(s, rec.name.empty() ? absl::StrCat("tensor ", index)
                                      : TensorLabel(index, rec.name));
}

absl::StatusOr<DType> DTypeFromCode(uint8_t code) {
  for (DType t : kAllDTypes) {
    if (static_cast<uint8_t>(t) == code) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype code ", code,
                   "; known: 0 f32, 1 f64, 2 i32, 3 i64, 4 bool"));
}

absl::Status CheckBoolBytes(absl::string_view data) {
  // Any other byte is not a valid C++ bool.
  size_t bad = data.find_first_not_of(absl::string_view("\0\1", 2));
  if (bad == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "bool element ", bad, " is byte ", static_cast<unsigned char>(data[bad]),
      "; only 0 and 1 are valid"));
}

// The record's data as a tensor view (no copy), its bytes checked against
// the dtype and shape.
absl::StatusOr<Tensor> RecordView(const RawRecord& rec) {
  ASSIGN_OR_RETURN(DType dtype, DTypeFromCode(rec.dtype));
  std::vector<int64_t> dims(rec.dims.size() / 8);
  if (!dims.empty()) std::memcpy(dims.data(), rec.dims.data(), rec.dims.size());
  Shape shape(std::move(dims));
  ASSIGN_OR_RETURN(int64_t size, shape.ByteSize(dtype));
  if (static_cast<uint64_t>(size) != rec.data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data length ", rec.data.size(), " does not match ", DTypeName(dtype),
        " shape ", shape.ToString(), ", which needs ", size, " bytes"));
  }
  if (dtype == DType::kBool) RETURN_IF_ERROR(CheckBoolBytes(rec.data));
  return Tensor::View(dtype, std::move(shape),
                      const_cast<char*>(rec.data.data()));
}

absl::StatusOr<Tensor> BuildTensor(const RawRecord& rec) {
  ASSIGN_OR_RETURN(Tensor view, RecordView(rec));
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::AllocateUninitialized(view.dtype(), view.shape()));
  if (t.byte_size() > 0)
    std::memcpy(t.raw_data(), view.raw_data(), t.byte_size());
  return t;
}

absl::Status CheckTrailer(ByteReader& r) {
  RETURN_IF_ERROR(CheckCrc(r, 0));
  if (r.remaining() == 0) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "damaged: ", r.remaining(),
      r.remaining() == 1 ? " byte follows" : " bytes follow", " it"));
}

// Every part of a file, each matching its CRC, not yet interpreted.
struct Parts {
  Header header;
  std::vector<RawRecord> records;
};

// Checks every CRC before anything is interpreted or allocated, so that
// damage is reported as damage, never as a strange field value.
absl::StatusOr<Parts> ReadParts(absl::string_view bytes,
                                bool drop_pages = false) {
  ByteReader r(bytes, drop_pages);
  Parts parts;
  absl::StatusOr<Header> header = ReadHeader(r);
  if (!header.ok()) return Annotate(header.status(), "header");
  parts.header = *header;
  // Nothing is reserved for the count: a record is kept only once read, so
  // a huge count costs nothing before the bytes run out.
  for (uint64_t i = 0; i < parts.header.tensor_count; ++i) {
    ASSIGN_OR_RETURN(RawRecord rec, ReadRecord(r, i));
    parts.records.push_back(rec);
  }
  RETURN_IF_ERROR(Annotate(CheckTrailer(r), "trailer"));
  return parts;
}

// Any error here is an intact file that was written wrongly (or crafted).
// With `drop_pages`, each record's pages go back to the kernel once copied.
absl::StatusOr<Checkpoint> Interpret(const Parts& parts,
                                     bool drop_pages = false) {
  Checkpoint c;
  RETURN_IF_ERROR(Annotate(CheckStep(parts.header.step), "header"));
  c.step = parts.header.step;
  c.rng_state = std::string(parts.header.rng_state);
  NameChecker names;
  for (size_t i = 0; i < parts.records.size(); ++i) {
    const RawRecord& rec = parts.records[i];
    RETURN_IF_ERROR(names.Add(rec.name, i));
    absl::StatusOr<Tensor> t = BuildTensor(rec);
    if (!t.ok()) return Annotate(t.status(), TensorLabel(i, rec.name));
    if (drop_pages) DropPages(rec.data);
    c.tensors.emplace_back(std::string(rec.name), *std::move(t));
  }
  return c;
}

}  // namespace

absl::Status ValidateCheckpoint(const Checkpoint& c) {
  RETURN_IF_ERROR(CheckStep(c.step));
  NameChecker names;
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const auto& [name, t] = c.tensors[i];
    RETURN_IF_ERROR(names.Add(name, i));
    if (name.size() > UINT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", i, ": name of ", name.size(), " bytes is too long"));
    }
    if (!t.valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat(TensorLabel(i, name), ": empty Tensor()"));
    }
  }
  return absl::OkStatus();
}

std::string SerializeCheckpoint(const Checkpoint& c) {
  std::string out;
  out.reserve(SerializedSize(c));
  out.append(kMagic.data(), kMagic.size());
  Put<uint32_t>(out, kCheckpointFormatVersion);
  Put<int64_t>(out, c.step);
  Put<uint64_t>(out, c.rng_state.size());
  out += c.rng_state;
  Put<uint64_t>(out, c.tensors.size());
  PutCrc(out, 0);
  for (const auto& [name, t] : c.tensors) PutTensorRecord(out, name, t);
  PutCrc(out, 0);
  return out;
}

namespace {

absl::StatusOr<Checkpoint> Parse(absl::string_view bytes,
                                 const std::string& source, bool drop_pages) {
  RETURN_IF_ERROR(CheckMagic(bytes, source));
  absl::StatusOr<Parts> parts = ReadParts(bytes, drop_pages);
  if (!parts.ok()) return Annotate(parts.status(), source);
  absl::StatusOr<Checkpoint> c = Interpret(*parts, drop_pages);
  if (!c.ok()) return Annotate(c.status(), source);
  return c;
}

}  // namespace

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view bytes,
                                           const std::string& source) {
  return Parse(bytes, source, /*drop_pages=*/false);
}

absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& c) {
  RETURN_IF_ERROR(Annotate(ValidateCheckpoint(c), path));
  return WriteFileAtomic(path, SerializeCheckpoint(c));
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path,
                                          int64_t max_bytes) {
  // Mapped, its pages released as they are checked and copied: the peak is
  // the tensors' size, not the file's twice (a whole copy, then tensors).
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path, max_bytes));
  return Parse(file.bytes(), path, /*drop_pages=*/true);
}

constexpr absl::string_view kParamPrefix = "param/";

std::string ParamTensorName(absl::string_view node) {
  return absl::StrCat(kParamPrefix, node);
}

std::map<std::string, const Tensor*> CheckpointParameters(const Checkpoint& c) {
  std::map<std::string, const Tensor*> params;
  for (const auto& [name, t] : c.tensors) {
    if (absl::StartsWith(name, kParamPrefix)) {
      params[name.substr(kParamPrefix.size())] = &t;
    }
  }
  return params;
}

namespace {

absl::Status CheckParameterValues(
    const std::map<std::string, const Tensor*>& saved,
    const std::map<std::string, Tensor*>& into, bool use_all,
    const std::string& source) {
  auto typed = [](const Tensor& t) {
    return absl::StrCat(DTypeName(t.dtype()), t.shape().ToString());
  };
  for (const auto& [name, value] : into) {
    auto it = saved.find(name);
    if (it == saved.end() || it->second->dtype() != value->dtype() ||
        it->second->shape() != value->shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": not a checkpoint of this graph: parameter '", name, "' (",
          typed(*value), ") is ",
          it == saved.end() ? "missing"
                            : absl::StrCat(typed(*it->second), " there")));
    }
  }
  if (use_all) {
    for (const auto& [name, t] : saved) {
      if (into.count(name) > 0) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(source,
                       ": not a checkpoint of this graph: it has "
                       "parameter '",
                       name, "', which the graph does not"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CopyParameterValues(
    const std::map<std::string, const Tensor*>& saved,
    const std::map<std::string, Tensor*>& into, bool use_all,
    const std::string& source) {
  RETURN_IF_ERROR(CheckParameterValues(saved, into, use_all, source));
  for (const auto& [name, value] : into) {
    const Tensor& from = *saved.at(name);
    std::memcpy(value->raw_data(), from.raw_data(), from.byte_size());
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointParameterViews> CheckpointParameterViews::Open(
    const std::string& path, int64_t max_bytes) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path, max_bytes));
  RETURN_IF_ERROR(CheckMagic(file.bytes(), path));
  absl::StatusOr<Parts> parts = ReadParts(file.bytes(), /*drop_pages=*/true);
  if (!parts.ok()) return Annotate(parts.status(), path);
  RETURN_IF_ERROR(Annotate(CheckStep(parts->header.step), path));
  CheckpointParameterViews out(std::move(file));
  NameChecker names;
  for (size_t i = 0; i < parts->records.size(); ++i) {
    const RawRecord& rec = parts->records[i];
    RETURN_IF_ERROR(Annotate(names.Add(rec.name, i), path));
    if (!absl::StartsWith(rec.name, kParamPrefix)) continue;
    absl::StatusOr<Tensor> view = RecordView(rec);
    if (!view.ok()) {
      return Annotate(view.status(),
                      absl::StrCat(path, ": ", TensorLabel(i, rec.name)));
    }
    out.views_[std::string(rec.name.substr(kParamPrefix.size()))] = *view;
  }
  return out;
}

void CheckpointParameterViews::CopyTo(const std::string& name,
                                      Tensor& into) const {
  const Tensor& from = views_.at(name);
  std::memcpy(into.raw_data(), from.raw_data(), from.byte_size());
  DropPages(absl::string_view(static_cast<const char*>(from.raw_data()),
                              from.byte_size()));
}

absl::Status ReadParameterValues(const std::string& path,
                                 const std::map<std::string, Tensor*>& into,
                                 bool use_all, int64_t max_bytes) {
  ASSIGN_OR_RETURN(CheckpointParameterViews file,
                   CheckpointParameterViews::Open(path, max_bytes));
  std::map<std::string, const Tensor*> saved;
  for (const auto& [name, t] : file.views()) saved[name] = &t;
  RETURN_IF_ERROR(CheckParameterValues(saved, into, use_all, path));
  for (const auto& [name, value] : into) file.CopyTo(name, *value);
  return absl::OkStatus();
}

std::vector<std::string> CheckpointsIn(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StartsWith(name, "ckpt-") && e.path().extension() == ".rckpt") {
      found.push_back(e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

absl::StatusOr<std::string> CheckpointFile(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return path;
  std::vector<std::string> found = CheckpointsIn(path);
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no ckpt-<step>.rckpt checkpoint in it"));
  }
  return found.back();
}

}  // namespace rill

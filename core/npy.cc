#include "core/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/quote.h"

namespace rill {
namespace {

// '<' data is copied as is, so this must be a little-endian machine.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "npy.cc assumes a little-endian host");

constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr int64_t kAlign = 64;  // numpy's ARRAY_ALIGN
// numpy pads the header so the first axis can grow in place
// (GROWTH_AXIS_MAX_DIGITS); matching it keeps our bytes identical to numpy's.
constexpr size_t kGrowthAxisMaxDigits = 21;
// How far past the budget ReadNpy reads: headers are far smaller than this
// (numpy itself refuses headers over 10000 bytes by default).
constexpr int64_t kHeaderAllowance = 1 << 20;

// Debian's Abseil is built without std::string_view support.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

// Untrusted header text in an error message, as every reader quotes it
// (core/quote.h); headers are short, so a short excerpt is enough.
std::string Quote(std::string_view s, char quote = '"') {
  return QuoteForMessage(Sv(s), 48, quote);
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses the subset of Python literal syntax numpy writes in the header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Keys may come in any order, with any whitespace between tokens; every key
// is required exactly once and no other key is allowed (as numpy requires).
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : s_(text) {}

  absl::StatusOr<Header> Parse() {
    static constexpr const char* kKeys[] = {"descr", "fortran_order", "shape"};
    bool seen[3] = {false, false, false};
    Header h;
    SkipSpace();
    if (!Consume('{')) return Malformed("expected '{'");
    SkipSpace();
    while (!Consume('}')) {
      if (!AtQuote()) return Malformed("expected a quoted key or '}'");
      ASSIGN_OR_RETURN(std::string key, String());
      int k = 0;
      while (k < 3 && key != kKeys[k]) ++k;
      if (k == 3) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header has unexpected key ", Quote(key, '\''),
            "; expected only 'descr', 'fortran_order' and 'shape'"));
      }
      if (seen[k]) return Malformed(absl::StrCat("duplicate key '", key, "'"));
      seen[k] = true;
      SkipSpace();
      if (!Consume(':')) return Malformed("expected ':' after a key");
      SkipSpace();
      if (k == 0) {
        if (!AtQuote()) {
          return absl::InvalidArgumentError(
              "unsupported dtype: 'descr' is not a string (structured dtypes "
              "are not supported)");
        }
        ASSIGN_OR_RETURN(h.descr, String());
      } else if (k == 1) {
        ASSIGN_OR_RETURN(h.fortran_order, Bool());
      } else {
        ASSIGN_OR_RETURN(h.shape, Tuple());
      }
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
      } else if (Peek() != '}') {
        return Malformed("expected ',' or '}'");
      }
    }
    SkipSpace();
    if (pos_ != s_.size()) return Malformed("unexpected text after the dict");
    for (int k = 0; k < 3; ++k) {
      if (!seen[k]) {
        return absl::InvalidArgumentError(
            absl::StrCat("header has no '", kKeys[k], "' key"));
      }
    }
    return h;
  }

 private:
  // The next byte, or -1 at the end; never reads past the header.
  int Peek() const {
    return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1;
  }
  bool Consume(char c) {
    if (Peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  bool AtQuote() const { return Peek() == '\'' || Peek() == '"'; }
  static bool IsDigit(int c) { return c >= '0' && c <= '9'; }
  void SkipSpace() {
    while (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' ||
           Peek() == '\r' || Peek() == '\f') {
      ++pos_;
    }
  }

  absl::Status Malformed(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed header dict at byte ", pos_, ": ", Sv(what),
                     " near ", Quote(s_.substr(pos_)), " in ", Quote(s_)));
  }

  // A quoted string without escapes, which numpy never writes here.
  absl::StatusOr<std::string> String() {
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    std::string_view body = s_.substr(pos_, end - pos_);  // end may be npos
    if (end == std::string_view::npos ||
        body.find_first_of("\\\n") != std::string_view::npos) {
      return Malformed("unterminated or escaped string");
    }
    pos_ = end + 1;
    return std::string(body);
  }

  absl::StatusOr<bool> Bool() {
    for (bool value : {false, true}) {
      std::string_view word = value ? "True" : "False";
      if (s_.substr(pos_, word.size()) != word) continue;
      int next = pos_ + word.size() < s_.size()
                     ? static_cast<unsigned char>(s_[pos_ + word.size()])
                     : -1;
      if (next == '_' || IsDigit(next) || std::isalpha(next)) break;
      pos_ += word.size();
      return value;
    }
    return Malformed("'fortran_order' must be True or False");
  }

  absl::StatusOr<int64_t> Int() {
    bool negative = Consume('-');
    size_t start = pos_;
    while (IsDigit(Peek())) ++pos_;
    if (pos_ == start) return Malformed("expected an integer dimension");
    int64_t value = 0;
    for (size_t i = start; i < pos_; ++i) {
      if (__builtin_mul_overflow(value, int64_t{10}, &value) ||
          __builtin_add_overflow(value, int64_t{s_[i] - '0'}, &value)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "shape dimension ", Quote(s_.substr(start, pos_ - start)),
            " does not fit in int64"));
      }
    }
    return negative ? -value : value;
  }

  // (), (n,) or (n, m, ...) with an optional trailing comma.
  absl::StatusOr<std::vector<int64_t>> Tuple() {
    if (!Consume('(')) return Malformed("'shape' must be a tuple");
    std::vector<int64_t> dims;
    SkipSpace();
    while (!Consume(')')) {
      ASSIGN_OR_RETURN(int64_t d, Int());
      dims.push_back(d);
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
      } else if (Peek() != ')' || dims.size() == 1) {
        // In Python "(5)" is the integer 5, not a tuple.
        return Malformed("expected ',' in the shape tuple");
      }
    }
    return dims;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// The five rill dtypes. Byte order does not apply to one-byte bool.
absl::StatusOr<DType> DTypeFromDescr(const std::string& descr) {
  static constexpr std::pair<std::string_view, DType> kCodes[] = {
      {"f4", DType::kF32},
      {"f8", DType::kF64},
      {"i4", DType::kI32},
      {"i8", DType::kI64},
      {"b1", DType::kBool}};
  if (descr.size() == 3) {
    char order = descr[0];
    for (const auto& [code, dtype] : kCodes) {
      if (descr.substr(1) != code) continue;
      if (order == '<' || order == '=' ||
          (dtype == DType::kBool && (order == '|' || order == '>'))) {
        return dtype;
      }
      if (order == '>') {
        return absl::InvalidArgumentError(
            absl::StrCat("big-endian dtype '", descr,
                         "' is not supported; save it as little-endian with "
                         "arr.astype('<",
                         Sv(code), "')"));
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype ", Quote(descr, '\''),
                   "; supported: '<f4', '<f8', '<i4', '<i8', '|b1'"));
}

const char* Descr(DType t) {
  switch (t) {
    case DType::kF32:
      return "<f4";
    case DType::kF64:
      return "<f8";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
    case DType::kBool:
      return "|b1";
  }
  return "?";
}

// The preamble and header of a .npy file of `file_size` bytes, of which
// `bytes` is a prefix that holds at least the whole header.
absl::StatusOr<NpyLayout> ParseLayout(std::string_view bytes,
                                      uint64_t file_size, int64_t max_bytes) {
  std::string_view head = bytes.substr(0, kMagic.size());
  if (head != kMagic.substr(0, head.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a .npy file: bad magic ", Quote(head),
                     ", expected \"\\x93NUMPY\""));
  }
  if (bytes.size() < kMagic.size() + 2) {
    return absl::DataLossError(absl::StrCat("truncated: the file is only ",
                                            bytes.size(), " bytes long"));
  }
  int major = static_cast<unsigned char>(bytes[6]);
  int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported .npy format version ", major, ".", minor,
                     "; supported: 1.0, 2.0, 3.0"));
  }
  // 1.0 has a 2-byte header length; 2.0 and 3.0 (a UTF-8 header, which only
  // matters inside strings, which we compare as bytes) have 4.
  size_t len_size = major == 1 ? 2 : 4;
  size_t preamble = 8 + len_size;
  if (bytes.size() < preamble) {
    return absl::DataLossError(absl::StrCat("truncated: the file is only ",
                                            bytes.size(), " bytes long"));
  }
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_size; ++i) {
    header_len |= uint64_t{static_cast<unsigned char>(bytes[8 + i])} << (8 * i);
  }
  if (header_len > file_size - preamble) {
    return absl::DataLossError(absl::StrCat(
        "header length ", header_len, " runs past the end of the file (",
        file_size - preamble, " bytes follow the preamble)"));
  }
  if (header_len > bytes.size() - preamble) {
    return absl::InvalidArgumentError(
        absl::StrCat("header length ", header_len, " is over the limit of ",
                     bytes.size() - preamble, " bytes"));
  }
  ASSIGN_OR_RETURN(Header h,
                   HeaderParser(bytes.substr(preamble, header_len)).Parse());
  ASSIGN_OR_RETURN(DType dtype, DTypeFromDescr(h.descr));
  if (h.fortran_order) {
    return absl::InvalidArgumentError(
        "Fortran order is not supported; save a C-order array "
        "(np.ascontiguousarray)");
  }
  Shape shape(std::move(h.shape));
  ASSIGN_OR_RETURN(int64_t size, shape.ByteSize(dtype));
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        DTypeName(dtype), " tensor of shape ", shape.ToString(), " is ", size,
        " bytes, over the memory budget of ", max_bytes, " bytes"));
  }
  const uint64_t data_offset = preamble + header_len;
  const uint64_t data_size = file_size - data_offset;
  if (data_size < static_cast<uint64_t>(size)) {
    return absl::DataLossError(absl::StrCat(
        "truncated data: expected ", size, " bytes for ", DTypeName(dtype),
        " shape ", shape.ToString(), ", got ", data_size));
  }
  if (data_size > static_cast<uint64_t>(size)) {
    return absl::InvalidArgumentError(absl::StrCat(data_size - size,
                                                   " trailing bytes after the ",
                                                   size, " bytes of data"));
  }
  return NpyLayout{dtype, std::move(shape), static_cast<int64_t>(data_offset)};
}

absl::StatusOr<Tensor> ParseNpyImpl(std::string_view bytes, int64_t max_bytes) {
  ASSIGN_OR_RETURN(NpyLayout layout,
                   ParseLayout(bytes, bytes.size(), max_bytes));
  const DType dtype = layout.dtype;
  ASSIGN_OR_RETURN(int64_t size, layout.shape.ByteSize(dtype));
  std::string_view data = bytes.substr(layout.data_offset);
  if (dtype == DType::kBool) {
    // Any other byte is not a valid C++ bool.
    size_t bad = data.find_first_not_of(std::string_view("\0\1", 2));
    if (bad != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bool element ", bad, " is byte ",
                       static_cast<int>(static_cast<unsigned char>(data[bad])),
                       "; only 0 and 1 are valid"));
    }
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, std::move(layout.shape)));
  if (size > 0) std::memcpy(t.raw_data(), data.data(), size);
  return t;
}

}  // namespace

absl::StatusOr<Tensor> ParseNpy(std::string_view bytes,
                                const std::string& source, int64_t max_bytes) {
  absl::StatusOr<Tensor> t = ParseNpyImpl(bytes, max_bytes);
  if (!t.ok()) return Annotate(t.status(), source);
  return t;
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_bytes) {
  int64_t cap = std::numeric_limits<int64_t>::max();
  if (max_bytes < cap - kHeaderAllowance) {
    cap = std::max<int64_t>(max_bytes, 0) + kHeaderAllowance;
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileCapped(path, cap));
  return ParseNpy(bytes, path, max_bytes);
}

absl::StatusOr<NpyLayout> ReadNpyLayout(const std::string& path) {
  // O_NONBLOCK: a FIFO must not block the open; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  std::string prefix(kHeaderAllowance, '\0');
  ssize_t got = -1;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    got = ::pread(fd, prefix.data(), prefix.size(), 0);
  } else {
    errno = EISDIR;
  }
  const int error = errno;
  ::close(fd);
  if (got < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ", std::strerror(error)));
  }
  prefix.resize(got);
  absl::StatusOr<NpyLayout> layout =
      ParseLayout(prefix, st.st_size, std::numeric_limits<int64_t>::max());
  if (!layout.ok()) return Annotate(layout.status(), path);
  return layout;
}

std::string SerializeNpy(const Tensor& t) {
  const std::vector<int64_t>& dims = t.shape().dims();
  std::string dict = absl::StrCat("{'descr': '", Descr(t.dtype()),
                                  "', 'fortran_order': False, 'shape': (");
  for (size_t i = 0; i < dims.size(); ++i) {
    absl::StrAppend(&dict, i > 0 ? ", " : "", dims[i]);
  }
  absl::StrAppend(&dict, dims.size() == 1 ? ",), }" : "), }");
  if (!dims.empty()) {
    size_t digits = absl::StrCat(dims[0]).size();
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits),
                ' ');
  }
  // As numpy's _wrap_header: spaces and a final '\n' pad the preamble to a
  // multiple of kAlign, always adding at least one space.
  int version = 1;
  int64_t hlen = static_cast<int64_t>(dict.size()) + 1;
  int64_t prefix = 10;
  int64_t padded = hlen + kAlign - (prefix + hlen) % kAlign;
  if (padded > 0xFFFF) {
    version = 2;
    prefix = 12;
    padded = hlen + kAlign - (prefix + hlen) % kAlign;
  }
  std::string out(kMagic);
  out += static_cast<char>(version);
  out += '\0';
  for (int i = 0; i < prefix - 8; ++i) {
    out += static_cast<char>((padded >> (8 * i)) & 0xFF);
  }
  out += dict;
  out.append(padded - hlen, ' ');
  out += '\n';
  if (t.byte_size() > 0) {
    out.append(static_cast<const char*>(t.raw_data()), t.byte_size());
  }
  return out;
}

absl::Status WriteNpy(const std::string& path, const Tensor& t) {
  return WriteFileAtomic(path, SerializeNpy(t));
}

}  // namespace rill

#include "core/npy.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

constexpr int64_t kBudget = 1 << 20;
constexpr char kSource[] = "bad.npy";

// A .npy file with an arbitrary header text (unpadded) and data.
std::string Npy(const std::string& header, const std::string& data = "",
                int major = 1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  int len_size = major == 1 ? 2 : 4;
  for (int i = 0; i < len_size; ++i) {
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  }
  return out + header + data;
}

std::string Dict(const std::string& descr, const std::string& shape,
                 const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }";
}

std::string Bytes(const void* p, size_t n) {
  return std::string(static_cast<const char*>(p), n);
}

template <typename T>
Tensor Make(Shape shape, const std::vector<T>& values) {
  Tensor t = Tensor::Allocate(DTypeOf<T>::value, std::move(shape)).value();
  EXPECT_EQ(t.num_elements(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Golden(const std::string& name) {
  return "tests/core/testdata/" + name;
}

// Checks the code, that the message starts with the file name, and that it
// contains each piece describing the problem.
void ExpectError(const absl::Status& s, absl::StatusCode code,
                 std::initializer_list<std::string> pieces,
                 const std::string& source = kSource) {
  EXPECT_EQ(s.code(), code) << s;
  std::string msg(s.message());
  EXPECT_EQ(msg.rfind(source + ": ", 0), 0u) << msg;
  for (const std::string& piece : pieces) {
    EXPECT_NE(msg.find(piece), std::string::npos)
        << "missing \"" << piece << "\" in: " << msg;
  }
}

absl::Status ParseError(const std::string& bytes, int64_t budget = kBudget) {
  return ParseNpy(bytes, kSource, budget).status();
}

TEST(NpyTest, RoundTripsEveryDtypeAndShape) {
  const Shape shapes[] = {Shape{}, Shape{0}, Shape{5}, Shape{2, 0, 3},
                          Shape{2, 3, 4}};
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(std::string(DTypeName(dtype)) + " " + shape.ToString());
      Tensor t = Tensor::Allocate(dtype, shape).value();
      auto* bytes = static_cast<uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < t.byte_size(); ++i) {
        bytes[i] = dtype == DType::kBool ? i % 3 == 0 : (i * 37 + 11) & 0xFF;
      }
      std::string npy = SerializeNpy(t);
      // The data starts on a 64-byte boundary, like numpy's.
      EXPECT_EQ((npy.size() - t.byte_size()) % 64, 0u);
      absl::StatusOr<Tensor> back = ParseNpy(npy, "rt.npy", kBudget);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(back->BitwiseEquals(t));
      EXPECT_EQ(back->shape(), shape);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(back->raw_data()) % 64, 0u);
    }
  }
}

TEST(NpyTest, SerializeMatchesNumpyBytesByHand) {
  Tensor t = Make<float>({2, 3}, {0, 0.25f, 0.5f, 0.75f, 1, 1.25f});
  // numpy 1.24: sorted keys, 21 - len("2") spaces of growth room, then spaces
  // and '\n' so the 10-byte preamble plus header is 128 bytes; 118 = 0x76.
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string header = dict + std::string(20, ' ');
  header += std::string(118 - 1 - header.size(), ' ') + "\n";
  std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header +
                         Bytes(t.raw_data(), 24);
  ASSERT_EQ(expected.size(), 128u + 24u);
  EXPECT_EQ(SerializeNpy(t), expected);
}

TEST(NpyTest, SerializePadsAFullBlockWhenHeaderIsAligned) {
  // 10 + len(dict) + 20 growth spaces + '\n' = 128, yet numpy's _wrap_header
  // always adds at least one space, so it pads with a whole 64 more.
  Tensor t = Tensor::Allocate(DType::kBool,
                              Shape{0, 1, 1, 1, 10, 10, 10, 10, 10, 10, 10, 10})
                 .value();
  std::string dict =
      "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 1, 1, 1, 10, 10, "
      "10, 10, 10, 10, 10, 10), }";
  ASSERT_EQ(10 + dict.size() + 20 + 1, 128u);
  std::string expected = std::string("\x93NUMPY\x01\x00\xb6\x00", 10) + dict +
                         std::string(20 + 64, ' ') + "\n";
  EXPECT_EQ(SerializeNpy(t), expected);
}

TEST(NpyTest, SerializeUsesVersion2ForHugeHeaders) {
  // 30000 dimensions of 1 need more than 65535 header bytes.
  Tensor t =
      Tensor::Allocate(DType::kI32, Shape(std::vector<int64_t>(30000, 1)))
          .value();
  t.data<int32_t>()[0] = 42;
  std::string npy = SerializeNpy(t);
  ASSERT_GT(npy.size(), 65536u);
  EXPECT_EQ(npy[6], 2);
  uint32_t hlen;
  std::memcpy(&hlen, npy.data() + 8, 4);
  EXPECT_EQ((12 + hlen) % 64, 0u);
  EXPECT_EQ(npy.size(), 12 + hlen + 4);
  absl::StatusOr<Tensor> back = ParseNpy(npy, "v2.npy", kBudget);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->BitwiseEquals(t));
}

TEST(NpyTest, ReadsNumpyGoldensAndWritesThemIdentically) {
  struct Case {
    const char* file;
    DType dtype;
    Shape shape;
  };
  const Case cases[] = {
      {"f32_2x3.npy", DType::kF32, {2, 3}},
      {"f64_empty_0x4.npy", DType::kF64, {0, 4}},
      {"i32_2x3x4.npy", DType::kI32, {2, 3, 4}},
      {"i64_scalar.npy", DType::kI64, {}},
      {"bool_5.npy", DType::kBool, {5}},
      {"bool_aligned_header.npy",
       DType::kBool,
       {0, 1, 1, 1, 10, 10, 10, 10, 10, 10, 10, 10}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<Tensor> t = ReadNpy(Golden(c.file), kBudget);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->dtype(), c.dtype);
    EXPECT_EQ(t->shape(), c.shape);
    EXPECT_EQ(SerializeNpy(*t), ReadAll(Golden(c.file)));
  }
  EXPECT_EQ(Values<float>(ReadNpy(Golden("f32_2x3.npy"), kBudget).value()),
            (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
  std::vector<int32_t> iota(24);
  for (int i = 0; i < 24; ++i) iota[i] = i - 12;
  EXPECT_EQ(Values<int32_t>(ReadNpy(Golden("i32_2x3x4.npy"), kBudget).value()),
            iota);
  EXPECT_EQ(Values<int64_t>(ReadNpy(Golden("i64_scalar.npy"), kBudget).value()),
            std::vector<int64_t>{-7});
  EXPECT_EQ(Values<bool>(ReadNpy(Golden("bool_5.npy"), kBudget).value()),
            (std::vector<bool>{true, false, true, true, false}));
}

TEST(NpyTest, RejectsNumpyFortranAndBigEndianGoldens) {
  std::string fortran = Golden("f32_fortran.npy");
  ExpectError(ReadNpy(fortran, kBudget).status(),
              absl::StatusCode::kInvalidArgument,
              {"Fortran order is not supported"}, fortran);
  std::string big = Golden("f8_big_endian.npy");
  ExpectError(ReadNpy(big, kBudget).status(),
              absl::StatusCode::kInvalidArgument, {"big-endian", "'>f8'"}, big);
}

TEST(NpyTest, AcceptsVersions2And3) {
  std::string data = Bytes("\x01\x00\x00\x00\x02\x00\x00\x00", 8);
  for (int major : {2, 3}) {
    absl::StatusOr<Tensor> t =
        ParseNpy(Npy(Dict("<i4", "(2,)"), data, major), "v.npy", kBudget);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(Values<int32_t>(*t), (std::vector<int32_t>{1, 2}));
  }
}

TEST(NpyTest, ToleratesKeyOrderWhitespaceAndByteOrderSpellings) {
  const std::string headers[] = {
      "{'shape': (2,), 'fortran_order': False, 'descr': '<i8'}",
      "  {\"descr\":\"<i8\",\n\t'fortran_order' :False ,'shape':( 2 , ) }\n",
      "{'descr': '=i8', 'fortran_order': False, 'shape': (2,), }" +
          std::string(7, ' ') + "\n",
  };
  std::string data = Bytes("\x05\0\0\0\0\0\0\0\x06\0\0\0\0\0\0\0", 16);
  for (const std::string& h : headers) {
    absl::StatusOr<Tensor> t = ParseNpy(Npy(h, data), "ok.npy", kBudget);
    ASSERT_TRUE(t.ok()) << h << ": " << t.status();
    EXPECT_EQ(Values<int64_t>(*t), (std::vector<int64_t>{5, 6}));
  }
  for (const char* descr : {"|b1", "<b1", "=b1", ">b1"}) {
    absl::StatusOr<Tensor> t =
        ParseNpy(Npy(Dict(descr, "(1, 2)"), Bytes("\1\0", 2)), "b.npy", 8);
    ASSERT_TRUE(t.ok()) << descr << ": " << t.status();
    EXPECT_EQ(Values<bool>(*t), (std::vector<bool>{true, false}));
  }
}

TEST(NpyTest, BadMagic) {
  ExpectError(ParseError("\x93NUMPZ\x01\x00\x00\x00"),
              absl::StatusCode::kInvalidArgument, {"not a .npy file", "magic"});
  ExpectError(ParseError("PK\x03\x04 a zip"),
              absl::StatusCode::kInvalidArgument, {"bad magic"});
}

TEST(NpyTest, TruncatedPreamble) {
  ExpectError(ParseError(""), absl::StatusCode::kDataLoss, {"truncated"});
  ExpectError(ParseError(std::string("\x93NUMPY\x02\x00\x10", 9)),
              absl::StatusCode::kDataLoss, {"only 9 bytes"});
}

TEST(NpyTest, UnsupportedVersion) {
  std::string npy = Npy(Dict("<f4", "()"), std::string(4, '\0'));
  npy[6] = 4;
  ExpectError(ParseError(npy), absl::StatusCode::kInvalidArgument,
              {"unsupported .npy format version 4.0"});
  npy[6] = 1;
  npy[7] = 1;
  ExpectError(ParseError(npy), absl::StatusCode::kInvalidArgument,
              {"version 1.1"});
}

TEST(NpyTest, HeaderLengthPastEndOfFile) {
  std::string npy = Npy(Dict("<f4", "()"));
  npy[8] = static_cast<char>(0xFF);
  ExpectError(ParseError(npy), absl::StatusCode::kDataLoss,
              {"header length", "past the end of the file"});
  // The 4-byte length of version 2 near UINT32_MAX must not wrap.
  std::string v2 = Npy(Dict("<f4", "()"), "", 2);
  std::memset(&v2[8], 0xFF, 4);
  ExpectError(ParseError(v2), absl::StatusCode::kDataLoss,
              {"header length 4294967295"});
}

TEST(NpyTest, MalformedDict) {
  const std::string bad[] = {
      "",
      "[1, 2]",
      "{'descr': '<f4' 'fortran_order': False, 'shape': ()}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (5)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': ()}",
      "{'descr': '<f4', 'fortran_order': Falsey, 'shape': ()}",
      "{'descr': '<f4, 'fortran_order': False, 'shape': ()}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': ()} x",
      "{'descr': '<f4', 'fortran_order': False, 'shape': ()",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (),,}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'shape': ()}",
      "{descr: '<f4', 'fortran_order': False, 'shape': ()}",
  };
  for (const std::string& h : bad) {
    SCOPED_TRACE(h);
    ExpectError(ParseError(Npy(h, std::string(4, '\0'))),
                absl::StatusCode::kInvalidArgument, {"malformed header dict"});
  }
}

TEST(NpyTest, MissingOrUnexpectedKey) {
  ExpectError(ParseError(Npy("{'descr': '<f4', 'fortran_order': False}")),
              absl::StatusCode::kInvalidArgument, {"no 'shape' key"});
  ExpectError(ParseError(Npy("{'shape': (), 'fortran_order': False}")),
              absl::StatusCode::kInvalidArgument, {"no 'descr' key"});
  ExpectError(ParseError(Npy("{'descr': '<f4', 'shape': ()}")),
              absl::StatusCode::kInvalidArgument, {"no 'fortran_order' key"});
  ExpectError(ParseError(Npy("{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (), 'extra': 1}")),
              absl::StatusCode::kInvalidArgument, {"unexpected key 'extra'"});
}

TEST(NpyTest, UnsupportedDtype) {
  for (const char* descr : {"<u1", "<f2", "|u1", "<c8", "|f4", "<f4x"}) {
    ExpectError(ParseError(Npy(Dict(descr, "()"))),
                absl::StatusCode::kInvalidArgument,
                {"unsupported dtype '" + std::string(descr) + "'", "'<f4'"});
  }
  ExpectError(ParseError(Npy("{'descr': [('a', '<f4')], 'fortran_order': "
                             "False, 'shape': ()}")),
              absl::StatusCode::kInvalidArgument,
              {"unsupported dtype", "structured"});
}

TEST(NpyTest, BigEndian) {
  for (const char* descr : {">f4", ">f8", ">i4", ">i8"}) {
    ExpectError(ParseError(Npy(Dict(descr, "()"), std::string(8, '\0'))),
                absl::StatusCode::kInvalidArgument,
                {"big-endian dtype '" + std::string(descr) + "'"});
  }
}

TEST(NpyTest, FortranOrder) {
  ExpectError(
      ParseError(Npy(Dict("<f4", "(2, 2)", "True"), std::string(16, '\0'))),
      absl::StatusCode::kInvalidArgument, {"Fortran order is not supported"});
}

TEST(NpyTest, NegativeDimension) {
  ExpectError(ParseError(Npy(Dict("<f4", "(2, -3)"))),
              absl::StatusCode::kInvalidArgument,
              {"dimension 1 of shape [2, -3] is -3"});
  // -1 is symbolic elsewhere in rill, but never in data.
  ExpectError(ParseError(Npy(Dict("<f4", "(-1,)"))),
              absl::StatusCode::kInvalidArgument, {"is -1"});
}

TEST(NpyTest, OverflowingDimensions) {
  // Element count overflows, in either order.
  for (const char* shape :
       {"(4611686018427387904, 4)", "(4, 4611686018427387904)",
        "(1099511627776, 1099511627776)"}) {
    ExpectError(ParseError(Npy(Dict("<f4", shape))),
                absl::StatusCode::kInvalidArgument,
                {"more elements than int64 can count"});
  }
  // Element count fits but byte size does not.
  ExpectError(ParseError(Npy(Dict("<f8", "(2305843009213693952,)"))),
              absl::StatusCode::kInvalidArgument, {"overflows int64"});
  // The dimension itself does not fit in int64.
  ExpectError(ParseError(Npy(Dict("<f4", "(99999999999999999999,)"))),
              absl::StatusCode::kInvalidArgument, {"does not fit in int64"});
}

TEST(NpyTest, TruncatedData) {
  ExpectError(ParseError(Npy(Dict("<f4", "(2, 3)"), std::string(20, 'x'))),
              absl::StatusCode::kDataLoss,
              {"truncated data", "expected 24 bytes", "got 20"});
}

TEST(NpyTest, TrailingBytes) {
  ExpectError(ParseError(Npy(Dict("<i4", "(2,)"), std::string(11, '\0'))),
              absl::StatusCode::kInvalidArgument,
              {"3 trailing bytes after the 8 bytes of data"});
}

TEST(NpyTest, OverBudgetIsRefusedBeforeReadingData) {
  // The data is present but over the budget.
  ExpectError(ParseError(Npy(Dict("<f8", "(100,)"), std::string(800, '\0')),
                         /*budget=*/799),
              absl::StatusCode::kResourceExhausted,
              {"800 bytes", "budget of 799 bytes"});
  // A header claiming 8 TiB is refused on the budget, before any allocation.
  ExpectError(ParseError(Npy(Dict("<f8", "(1099511627776,)"))),
              absl::StatusCode::kResourceExhausted, {"8796093022208 bytes"});
}

TEST(NpyTest, BoolBytesOtherThanZeroOrOne) {
  ExpectError(ParseError(Npy(Dict("|b1", "(3,)"), Bytes("\1\2\0", 3))),
              absl::StatusCode::kInvalidArgument,
              {"bool element 1 is byte 2", "only 0 and 1"});
}

// A fresh empty directory under the test's temporary directory.
std::string MakeDir(const std::string& name) {
  std::string dir = TestTempPath(name);
  EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  return dir;
}

TEST(NpyFileTest, WriteThenReadRoundTrips) {
  std::string dir = MakeDir("roundtrip");
  std::string path = dir + "/t.npy";
  Tensor t = Make<double>({3}, {1.5, -2, 1e300});
  ASSERT_TRUE(WriteNpy(path, t).ok());
  absl::StatusOr<Tensor> back = ReadNpy(path, kBudget);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->BitwiseEquals(t));
  EXPECT_EQ(ReadAll(path), SerializeNpy(t));
  // Only the target: the temporary file was renamed onto it.
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"t.npy"});
}

TEST(NpyFileTest, OverwriteReplacesWholeFileWithoutLeftovers) {
  std::string dir = MakeDir("overwrite");
  std::string path = dir + "/t.npy";
  ASSERT_TRUE(WriteNpy(path, Make<int64_t>({4}, {1, 2, 3, 4})).ok());
  Tensor small = Make<int32_t>({}, {9});
  ASSERT_TRUE(WriteNpy(path, small).ok());
  EXPECT_EQ(ReadAll(path), SerializeNpy(small));
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"t.npy"});
}

TEST(NpyFileTest, FailedWriteLeavesOldContentsAndNoTempFile) {
  std::string dir = MakeDir("failed");
  // A non-empty directory at the target path: rename onto it must fail
  // after the temporary file was written.
  std::string path = dir + "/t.npy";
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(path + "/keep", "old").ok());
  absl::Status s = WriteNpy(path, Make<float>({1}, {1}));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find(path), std::string::npos) << s;
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"t.npy"});
  EXPECT_EQ(ReadAll(path + "/keep"), "old");
}

TEST(NpyFileTest, WriteIntoMissingDirectoryFailsCleanly) {
  std::string dir = TestTempPath("no_such_dir");
  absl::Status s = WriteNpy(dir + "/t.npy", Make<float>({1}, {1}));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(std::string(s.message()).find(dir), std::string::npos) << s;
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0);
}

TEST(NpyFileTest, ReadMissingFileIsNotFound) {
  std::string path = TestTempPath("missing.npy");
  ExpectError(ReadNpy(path, kBudget).status(), absl::StatusCode::kNotFound,
              {"cannot open"}, path);
}

TEST(NpyFileTest, ReadRefusesFileFarOverBudget) {
  std::string path = TestTempPath("big.npy");
  // Data of 2 MiB: more than the budget plus the 1 MiB header allowance.
  Tensor t = Tensor::Allocate(DType::kBool, Shape{2 << 20}).value();
  ASSERT_TRUE(WriteNpy(path, t).ok());
  ExpectError(ReadNpy(path, 1000).status(),
              absl::StatusCode::kResourceExhausted, {"over the limit"}, path);
  // Within the allowance the tensor budget itself refuses it.
  ExpectError(ReadNpy(path, (2 << 20) - 1).status(),
              absl::StatusCode::kResourceExhausted, {"memory budget"}, path);
  EXPECT_TRUE(ReadNpy(path, 2 << 20).ok());
}

}  // namespace
}  // namespace rill

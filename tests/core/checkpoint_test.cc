#include "core/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/crc32c.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

constexpr char kSource[] = "test.ckpt";

template <typename T>
Tensor Make(Shape shape, const std::vector<T>& values) {
  Tensor t = Tensor::Allocate(DTypeOf<T>::value, std::move(shape)).value();
  EXPECT_EQ(t.num_elements(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

// Float bit patterns a numeric copy could change: NaN payloads, -0,
// subnormals. The checkpoint must keep every bit.
template <typename Float, typename Bits>
Float FromBits(Bits bits) {
  Float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

bool SameCheckpoint(const Checkpoint& a, const Checkpoint& b) {
  if (a.step != b.step || a.rng_state != b.rng_state ||
      a.tensors.size() != b.tensors.size()) {
    return false;
  }
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    if (a.tensors[i].first != b.tensors[i].first ||
        !a.tensors[i].second.BitwiseEquals(b.tensors[i].second)) {
      return false;
    }
  }
  return true;
}

// Checks the code, that the message starts with the source, and that it
// contains each piece describing the problem.
void ExpectError(const absl::Status& s, absl::StatusCode code,
                 std::initializer_list<std::string> pieces,
                 const std::string& source = kSource) {
  EXPECT_EQ(s.code(), code) << s;
  std::string msg(s.message());
  EXPECT_EQ(msg.rfind(source, 0), 0u) << msg;
  for (const std::string& piece : pieces) {
    EXPECT_NE(msg.find(piece), std::string::npos)
        << "'" << piece << "' not in: " << msg;
  }
}

// --- The golden file ---

// Written by tests/fuzz/corpus/make_checkpoint_seeds.py (GOLDEN; also the
// seed golden.ckpt), an independent Python writer of the format documented
// in core/checkpoint.h with a bit-at-a-time CRC-32C. Its layout:
//   0 magic, 8 version, 12 step, 20 RNG length, 28 RNG "rng\0\1",
//   33 tensor count, 41 header CRC;
//   tensor 0 at 45: 45 name length, 49 "param/w", 56 dtype, 57 rank,
//     61 dims, 69 data length, 77 data, 85 CRC;
//   tensor 1 at 89: 89 name length, 93 "opt/w/t", 100 dtype, 101 rank,
//     105 data length, 113 data, 121 CRC;
//   125 trailer CRC; 129 bytes.
constexpr char kGoldenHex[] =
    "52494c4c434b50540100000007000000000000000500000000000000726e6700"
    "0102000000000000001eafe6f207000000706172616d2f770001000000020000"
    "000000000008000000000000000000c03f000000c0a0830d9b070000006f7074"
    "2f772f7403000000000800000000000000fdffffffffffffffcfde332e4eabfc"
    "38";

std::string GoldenBytes() { return absl::HexStringToBytes(kGoldenHex); }

Checkpoint GoldenCheckpoint() {
  Checkpoint c;
  c.step = 7;
  c.rng_state = std::string("rng\0\1", 5);
  c.tensors.emplace_back("param/w", Make<float>({2}, {1.5f, -2.0f}));
  c.tensors.emplace_back("opt/w/t", Make<int64_t>({}, {-3}));
  return c;
}

TEST(CheckpointFormat, SerializesExactlyAsTheIndependentWriter) {
  std::string golden = GoldenBytes();
  ASSERT_EQ(golden.size(), 129u);
  EXPECT_EQ(absl::BytesToHexString(SerializeCheckpoint(GoldenCheckpoint())),
            kGoldenHex);
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(golden, kSource);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(SameCheckpoint(*c, GoldenCheckpoint()));
}

// The parameters are the "param/<node>" tensors, keyed by node; the
// optimizer's "opt/..." state and a bare "param" are not parameters.
TEST(CheckpointParameters, PicksTheParamTensorsByNode) {
  Checkpoint c = GoldenCheckpoint();
  c.tensors.emplace_back("param", Make<float>({1}, {9.0f}));
  c.tensors.emplace_back(ParamTensorName("layer/b"), Make<float>({1}, {4.0f}));
  EXPECT_EQ(ParamTensorName("w"), "param/w");
  std::map<std::string, const Tensor*> params = CheckpointParameters(c);
  ASSERT_EQ(params.size(), 2u);
  ASSERT_EQ(params.count("w"), 1u);
  EXPECT_EQ(params["w"], &c.tensors[0].second);
  ASSERT_EQ(params.count("layer/b"), 1u);
  EXPECT_EQ(params["layer/b"]->data<float>()[0], 4.0f);
}

// --- Round trips ---

Checkpoint EveryDTypeCheckpoint() {
  Checkpoint c;
  c.step = int64_t{1} << 40;
  std::mt19937 rng(5);
  for (int i = 0; i < 1000; ++i) c.rng_state += static_cast<char>(rng());
  c.rng_state[3] = '\0';
  c.tensors.emplace_back(
      "param/f32",
      Make<float>({2, 3}, {1.0f, -0.0f, std::numeric_limits<float>::infinity(),
                           FromBits<float, uint32_t>(0x7FC01234),  // payload
                           FromBits<float, uint32_t>(0x00000001),  // subnormal
                           std::numeric_limits<float>::max()}));
  c.tensors.emplace_back(
      "param/f64",
      Make<double>({3}, {3.141592653589793,
                         FromBits<double, uint64_t>(0xFFF8000000000ABC),
                         -std::numeric_limits<double>::denorm_min()}));
  c.tensors.emplace_back(
      "opt/i32",
      Make<int32_t>({2, 1, 2}, {std::numeric_limits<int32_t>::min(), -1, 0,
                                std::numeric_limits<int32_t>::max()}));
  c.tensors.emplace_back(
      "opt/i64", Make<int64_t>({2}, {std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max()}));
  c.tensors.emplace_back("mask/bool",
                         Make<bool>({5}, {true, false, false, true, true}));
  c.tensors.emplace_back("empty/0x3", Make<float>({0, 3}, {}));
  c.tensors.emplace_back("empty/3x0x2", Make<int64_t>({3, 0, 2}, {}));
  c.tensors.emplace_back("scalar/f64", Make<double>({}, {-2.5}));
  c.tensors.emplace_back("scalar/bool", Make<bool>({}, {true}));
  c.tensors.emplace_back("rank5", Make<int32_t>({1, 2, 1, 1, 2}, {1, 2, 3, 4}));
  return c;
}

TEST(CheckpointRoundTrip, EveryDTypeEmptyAndScalarTensorsInBytes) {
  Checkpoint original = EveryDTypeCheckpoint();
  absl::StatusOr<Checkpoint> back;
  {
    // Parsed tensors own their memory: the bytes may go away.
    std::string bytes = SerializeCheckpoint(original);
    back = ParseCheckpoint(bytes, kSource);
  }
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameCheckpoint(*back, original));
  for (const auto& [name, t] : back->tensors) {
    EXPECT_TRUE(t.owns_memory()) << name;
  }
}

TEST(CheckpointRoundTrip, ThroughAFile) {
  std::string path = TestTempPath("every_dtype.ckpt");
  Checkpoint original = EveryDTypeCheckpoint();
  ASSERT_TRUE(WriteCheckpoint(path, original).ok());
  absl::StatusOr<Checkpoint> back = ReadCheckpoint(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameCheckpoint(*back, original));
  // Nothing but the checkpoint is left in a successful write's wake.
  for (const std::string& name : ListDir(TestTempPath(""))) {
    EXPECT_EQ(name.find("every_dtype.ckpt.tmp"), std::string::npos) << name;
  }
}

TEST(CheckpointRoundTrip, NoTensorsAndNoRngState) {
  Checkpoint empty;
  absl::StatusOr<Checkpoint> back =
      ParseCheckpoint(SerializeCheckpoint(empty), kSource);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameCheckpoint(*back, empty));
}

// --- Damage ---

TEST(CheckpointDamage, TruncationAtEveryOffsetIsDataLoss) {
  std::string bytes = GoldenBytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(absl::StrCat("truncated to ", n, " bytes"));
    absl::Status s = ParseCheckpoint(bytes.substr(0, n), kSource).status();
    std::string part = n < 45    ? "header"
                       : n < 89  ? "tensor 0"
                       : n < 125 ? "tensor 1"
                                 : "trailer";
    ExpectError(s, absl::StatusCode::kDataLoss, {"truncated", part});
  }
}

// Bytes 0-7 are the magic and 8-11 the version, checked before any CRC (a
// file of another kind or version has no CRC where we look); every other
// bit is covered by a CRC, and the error names the damaged part.
TEST(CheckpointDamage, EveryBitFlipIsDetected) {
  std::string bytes = GoldenBytes();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(absl::StrCat("byte ", i, " bit ", bit));
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      absl::Status s = ParseCheckpoint(damaged, kSource).status();
      if (i < 8) {
        ExpectError(s, absl::StatusCode::kInvalidArgument,
                    {"is not a rill checkpoint"});
      } else if (i < 12) {
        ExpectError(s, absl::StatusCode::kInvalidArgument,
                    {"unsupported checkpoint format version"});
      } else {
        std::string part = i < 45    ? "header"
                           : i < 89  ? "tensor 0"
                           : i < 125 ? "tensor 1"
                                     : "trailer";
        ExpectError(s, absl::StatusCode::kDataLoss, {part});
      }
    }
  }
}

TEST(CheckpointDamage, MessagesNameThePartAndTheTensor) {
  std::string bytes = GoldenBytes();
  auto flip = [&](size_t i) {
    std::string damaged = bytes;
    damaged[i] ^= 0x01;
    return ParseCheckpoint(damaged, kSource).status();
  };
  ExpectError(
      flip(12), absl::StatusCode::kDataLoss,
      {"header: damaged: the CRC32C of its 41 bytes at offset 0 is 0x"});
  ExpectError(flip(80), absl::StatusCode::kDataLoss,
              {"tensor 0 (\"param/w\"): damaged: the CRC32C of its 40 bytes at "
               "offset 45"});
  ExpectError(flip(115), absl::StatusCode::kDataLoss,
              {"tensor 1 (\"opt/w/t\"): damaged: the CRC32C of its 32 bytes at "
               "offset 89"});
  ExpectError(flip(127), absl::StatusCode::kDataLoss,
              {"trailer: damaged: the CRC32C of its 125 bytes at offset 0"});
  ExpectError(ParseCheckpoint(bytes + "x", kSource).status(),
              absl::StatusCode::kDataLoss,
              {"trailer: damaged: 1 byte follows it"});
}

void PutU64At(std::string& bytes, size_t offset, uint64_t value) {
  std::memcpy(&bytes[offset], &value, 8);
}
void PutU32At(std::string& bytes, size_t offset, uint32_t value) {
  std::memcpy(&bytes[offset], &value, 4);
}

// A length is checked against the bytes that remain before anything is
// allocated or read, so even a length that an allocator would grant (1 GiB)
// fails with DataLoss saying what it needs, not ResourceExhausted from an
// attempted allocation, nor (under ASan) an out-of-bounds read.
TEST(CheckpointDamage, CorruptLengthsFailBeforeAllocating) {
  struct Case {
    const char* field;
    size_t offset;
    int width;
    uint64_t value;
    const char* message;
  };
  const Case kCases[] = {
      {"RNG length", 20, 8, uint64_t{1} << 62,
       "header: truncated or damaged: expected 4611686018427387904 bytes of "
       "RNG state at offset 28"},
      {"name length", 45, 4, 0xFFFFFFFF,
       "tensor 0: truncated or damaged: expected 4294967295 bytes of name at "
       "offset 49"},
      {"rank", 57, 4, 0xFFFFFFFF,
       "tensor 0 (\"param/w\"): truncated or damaged: expected 34359738360 "
       "bytes of dims at offset 61"},
      {"data length", 69, 8, uint64_t{1} << 62,
       "tensor 0 (\"param/w\"): truncated or damaged: expected "
       "4611686018427387904 bytes of data at offset 77"},
      {"data length", 69, 8, uint64_t{1} << 30,
       "tensor 0 (\"param/w\"): truncated or damaged: expected 1073741824 "
       "bytes of data at offset 77"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(absl::StrCat(c.field, " = ", c.value));
    std::string bytes = GoldenBytes();
    if (c.width == 8) {
      PutU64At(bytes, c.offset, c.value);
    } else {
      PutU32At(bytes, c.offset, static_cast<uint32_t>(c.value));
    }
    ExpectError(ParseCheckpoint(bytes, kSource).status(),
                absl::StatusCode::kDataLoss, {c.message, "only"});
  }
}

// A huge tensor count whose header CRC was recomputed (a crafted file, not
// damage) reserves nothing: reading stops where the bytes run out.
TEST(CheckpointDamage, HugeTensorCountWithValidHeaderCrc) {
  std::string bytes = GoldenBytes();
  PutU64At(bytes, 33, uint64_t{1} << 62);
  PutU32At(bytes, 41, Crc32c(absl::string_view(bytes).substr(0, 41)));
  ExpectError(ParseCheckpoint(bytes, kSource).status(),
              absl::StatusCode::kDataLoss,
              {"tensor 2: truncated or damaged: expected"});
}

// --- Not a checkpoint ---

TEST(CheckpointNotACheckpoint, NpyFile) {
  std::string path = TestTempPath("tensor.npy");
  ASSERT_TRUE(WriteNpy(path, Make<float>({2}, {1, 2})).ok());
  ExpectError(ReadCheckpoint(path).status(), absl::StatusCode::kInvalidArgument,
              {path + " is not a rill checkpoint", "\\x93NUMPY"}, path);
}

TEST(CheckpointNotACheckpoint, RandomBytes) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 100; ++trial) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (bytes[0] == 'R') bytes[0] = 'r';  // 'R' alone is a truncated magic.
    ExpectError(ParseCheckpoint(bytes, kSource).status(),
                absl::StatusCode::kInvalidArgument,
                {"is not a rill checkpoint"});
  }
}

TEST(CheckpointNotACheckpoint, OtherVersion) {
  std::string bytes = GoldenBytes();
  PutU32At(bytes, 8, 2);
  ExpectError(ParseCheckpoint(bytes, kSource).status(),
              absl::StatusCode::kInvalidArgument,
              {"unsupported checkpoint format version 2",
               "this build reads version 1"});
}

// --- Intact files that break the rules ---

// Builds files by the documented layout with correct CRCs, so that only the
// rule under test is broken.
std::string Record(const std::string& name, uint8_t dtype,
                   const std::vector<int64_t>& dims, const std::string& data) {
  std::string r;
  auto put = [&r](const void* p, size_t n) {
    r.append(static_cast<const char*>(p), n);
  };
  uint32_t name_size = name.size(), rank = dims.size();
  uint64_t data_size = data.size();
  put(&name_size, 4);
  r += name;
  put(&dtype, 1);
  put(&rank, 4);
  put(dims.data(), 8 * dims.size());
  put(&data_size, 8);
  r += data;
  uint32_t crc = Crc32c(r);
  put(&crc, 4);
  return r;
}

std::string File(int64_t step, const std::vector<std::string>& records) {
  std::string f("RILLCKPT\1\0\0\0", 12);
  uint64_t zero = 0, count = records.size();
  f.append(reinterpret_cast<const char*>(&step), 8);
  f.append(reinterpret_cast<const char*>(&zero), 8);  // no RNG state
  f.append(reinterpret_cast<const char*>(&count), 8);
  for (int part = 0; part <= 1; ++part) {
    uint32_t crc = Crc32c(f);
    f.append(reinterpret_cast<const char*>(&crc), 4);
    if (part == 0) {
      for (const std::string& r : records) f += r;
    }
  }
  return f;
}

TEST(CheckpointRules, TheTestWriterMatchesSerializeCheckpoint) {
  Checkpoint c;
  c.step = 3;
  c.tensors.emplace_back("w", Make<int32_t>({2}, {5, 6}));
  EXPECT_EQ(File(3, {Record("w", 2, {2}, std::string("\5\0\0\0\6\0\0\0", 8))}),
            SerializeCheckpoint(c));
}

TEST(CheckpointRules, IntactButInvalidContentsAreInvalidArgument) {
  const std::string kF32x1(4, '\0');
  struct Case {
    std::string bytes;
    std::string message;
  };
  const Case kCases[] = {
      {File(1, {Record("w", 2, {1}, kF32x1), Record("w", 2, {1}, kF32x1)}),
       "tensor 1 (\"w\"): duplicate name, also tensor 0"},
      {File(1, {Record("", 0, {1}, kF32x1)}), "tensor 0 has an empty name"},
      {File(1, {Record("w", 9, {1}, kF32x1)}),
       "tensor 0 (\"w\"): unknown dtype code 9"},
      {File(1, {Record("w", 1, {2}, kF32x1)}),
       "data length 4 does not match f64 shape [2], which needs 16 bytes"},
      {File(1, {Record("b", 4, {3}, std::string("\0\1\2", 3))}),
       "bool element 2 is byte 2"},
      {File(1, {Record("w", 0, {-1}, "")}),
       "dimension 0 of shape [?] is -1; dimensions must be >= 0"},
      {File(1, {Record("w", 1, {int64_t{1} << 32, int64_t{1} << 31}, "")}),
       "has more elements than int64 can count"},
      {File(1, {Record("w", 1, {int64_t{1} << 31, int64_t{1} << 31}, "")}),
       "byte size of f64 shape [2147483648, 2147483648] overflows int64"},
      {File(-5, {}), "header: step is -5"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.message);
    ExpectError(ParseCheckpoint(c.bytes, kSource).status(),
                absl::StatusCode::kInvalidArgument, {c.message});
  }
}

TEST(CheckpointRules, WriterRefusesWhatTheReaderWouldReject) {
  std::string path = TestTempPath("refused.ckpt");
  Checkpoint dup;
  dup.tensors.emplace_back("param/w", Make<float>({1}, {1}));
  dup.tensors.emplace_back("param/b", Make<float>({1}, {2}));
  dup.tensors.emplace_back("param/w", Make<float>({1}, {3}));
  ExpectError(WriteCheckpoint(path, dup), absl::StatusCode::kInvalidArgument,
              {"tensor 2 (\"param/w\"): duplicate name, also tensor 0"}, path);
  // And a file that holds duplicates anyway is refused on reading.
  ExpectError(ParseCheckpoint(SerializeCheckpoint(dup), kSource).status(),
              absl::StatusCode::kInvalidArgument, {"duplicate name"});

  Checkpoint unnamed;
  unnamed.tensors.emplace_back("", Make<float>({1}, {1}));
  ExpectError(WriteCheckpoint(path, unnamed),
              absl::StatusCode::kInvalidArgument, {"empty name"}, path);
  Checkpoint invalid;
  invalid.tensors.emplace_back("param/w", Tensor());
  ExpectError(WriteCheckpoint(path, invalid),
              absl::StatusCode::kInvalidArgument, {"empty Tensor()"}, path);
  Checkpoint negative;
  negative.step = -1;
  ExpectError(WriteCheckpoint(path, negative),
              absl::StatusCode::kInvalidArgument, {"step is -1"}, path);
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0) << "a refused checkpoint was written";
}

TEST(CheckpointRead, RefusesAFileOverTheCapAndAMissingFile) {
  std::string path = TestTempPath("golden.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, GoldenCheckpoint()).ok());
  EXPECT_TRUE(ReadCheckpoint(path, 129).ok());
  ExpectError(ReadCheckpoint(path, 128).status(),
              absl::StatusCode::kResourceExhausted, {"over the limit of 128"},
              path);
  std::string missing = TestTempPath("missing.ckpt");
  EXPECT_EQ(ReadCheckpoint(missing).status().code(),
            absl::StatusCode::kNotFound);
}

// --- Kill safety ---

// About 4 MiB, so that a write (serialize, CRC, write, fsync) takes long
// enough for kills to land inside it.
Checkpoint LargeCheckpoint(int64_t step, float fill) {
  Checkpoint c;
  c.step = step;
  c.rng_state = absl::StrCat("rng state of step ", step);
  Tensor w = Tensor::Allocate(DType::kF32, Shape({1024, 1024})).value();
  std::fill(w.data<float>(), w.data<float>() + w.num_elements(), fill);
  c.tensors.emplace_back("param/w", w);
  c.tensors.emplace_back("opt/w/m", Make<float>({2}, {fill, -fill}));
  return c;
}

// WriteFileAtomic's temporary files: mkstemp's "<file>.tmp.XXXXXX", the X's
// replaced by letters and digits.
bool IsTempName(const std::string& name, const std::string& file) {
  std::string prefix = file + ".tmp.";
  if (name.size() != prefix.size() + 6 || name.rfind(prefix, 0) != 0) {
    return false;
  }
  return std::all_of(name.begin() + prefix.size(), name.end(),
                     [](char c) { return std::isalnum(c); });
}

// Rewrites `path` forever, alternating `first` and `second`, and writes a
// byte to `done_fd` after each completed write. Runs in a forked child.
[[noreturn]] void RewriteForever(const std::string& path,
                                 const Checkpoint& first,
                                 const Checkpoint& second, int done_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlive a failed test.
  for (uint64_t i = 0;; ++i) {
    if (!WriteCheckpoint(path, i % 2 == 0 ? first : second).ok()) _exit(1);
    if (write(done_fd, "w", 1) != 1) _exit(1);
  }
}

// Bytes until the other end is closed.
int DrainPipe(int fd) {
  int n = 0;
  char buf[256];
  for (ssize_t got; (got = read(fd, buf, sizeof(buf))) != 0;) {
    if (got > 0) n += got;
    if (got < 0 && errno != EINTR) break;
  }
  return n;
}

// A child rewrites one path in a loop, alternating two checkpoints and
// reporting each completed write through a pipe; once it has completed one
// (so the file did change), the parent SIGKILLs it after a random delay.
// Each time the file must load, and be what the last completed write wrote
// or what the write in progress would have (killed after its rename, before
// reporting). A kill between WriteFileAtomic's mkstemp and its rename leaves
// "<path>.tmp.XXXXXX" behind: allowed, and counted, as it shows that kills
// did land mid-write. (This tests process death; power loss, which the
// fsyncs are for, is not simulated.)
TEST(CheckpointKillSafety, KilledWriterLeavesOldOrNewCheckpoint) {
  std::string dir = TestTempPath("kill_safety");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::string path = dir + "/model.ckpt";
  const Checkpoint a = LargeCheckpoint(1000, 1.0f);
  const Checkpoint b = LargeCheckpoint(2000, 2.0f);
  ASSERT_TRUE(WriteCheckpoint(path, a).ok());

  constexpr int kKills = 30;
  std::mt19937 rng(20240605);
  std::uniform_int_distribution<int> delay_us(0, 30000);
  int saw_a = 0, saw_b = 0, writes = 0;
  for (int k = 0; k < kKills; ++k) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RewriteForever(path, b, a, fds[1]);  // Write j holds b when j is even.
    }
    close(fds[1]);
    char first;
    ASSERT_EQ(read(fds[0], &first, 1), 1) << "the writer failed";
    usleep(delay_us(rng));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    int completed = 1 + DrainPipe(fds[0]);
    close(fds[0]);
    writes += completed;

    absl::StatusOr<Checkpoint> c = ReadCheckpoint(path);
    ASSERT_TRUE(c.ok()) << "after kill " << k << ": " << c.status();
    const Checkpoint& last = completed % 2 == 1 ? b : a;
    const Checkpoint& next = completed % 2 == 1 ? a : b;
    ASSERT_TRUE(SameCheckpoint(*c, last) || SameCheckpoint(*c, next))
        << "after kill " << k << " and " << completed << " writes: step "
        << c->step;
    (SameCheckpoint(*c, a) ? saw_a : saw_b)++;
  }
  int temp_files = 0;
  for (const std::string& name : ListDir(dir)) {
    if (name == "model.ckpt") continue;
    EXPECT_TRUE(IsTempName(name, "model.ckpt")) << "unexpected " << name;
    ++temp_files;
  }
  std::cout << kKills << " kills after " << writes
            << " completed writes: the file held the first checkpoint " << saw_a
            << " times and the second " << saw_b << " times; " << temp_files
            << " temporary files left by killed writers\n";
}

}  // namespace
}  // namespace rill

namespace rill {
namespace {

// --- Reading parameters straight into their tensors ---

// Tensors of the params of EveryDTypeCheckpoint, filled with 7s.
std::map<std::string, Tensor> Destinations() {
  std::map<std::string, Tensor> into;
  into["f32"] = Make<float>({2, 3}, {7, 7, 7, 7, 7, 7});
  into["f64"] = Make<double>({3}, {7, 7, 7});
  return into;
}

std::map<std::string, Tensor*> Pointers(std::map<std::string, Tensor>& t) {
  std::map<std::string, Tensor*> p;
  for (auto& [name, tensor] : t) p[name] = &tensor;
  return p;
}

TEST(ReadParameterValues, ReadsWhatCopyParameterValuesCopies) {
  const std::string path = TestTempPath("direct.ckpt");
  Checkpoint c = EveryDTypeCheckpoint();
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());
  std::map<std::string, Tensor> direct = Destinations(),
                                copied = Destinations();
  absl::Status s = ReadParameterValues(path, Pointers(direct), true, 1 << 20);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(
      CopyParameterValues(CheckpointParameters(c), Pointers(copied), true, path)
          .ok());
  for (const auto& [name, t] : direct) {
    EXPECT_TRUE(t.BitwiseEquals(copied.at(name))) << name;
  }
}

TEST(ReadParameterValues, DamageOrAMismatchChangesNothing) {
  const std::string path = TestTempPath("direct_damaged.ckpt");
  std::string bytes = SerializeCheckpoint(EveryDTypeCheckpoint());
  // A bit of the last parameter's data: found only by its record's CRC,
  // after the first parameter could have been copied.
  std::string damaged = bytes;
  damaged[damaged.find("param/f64") + 9 + 1 + 4 + 8 + 8 + 3] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, damaged).ok());
  std::map<std::string, Tensor> into = Destinations();
  absl::Status s = ReadParameterValues(path, Pointers(into), true, 1 << 20);
  ExpectError(s, absl::StatusCode::kDataLoss, {"tensor 1", "param/f64"}, path);
  for (const auto& [name, t] : into) {
    EXPECT_EQ(t.ElementAsDouble(0), 7) << name;
  }
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  into = Destinations();
  into["f64"] = Make<double>({2}, {7, 7});
  s = ReadParameterValues(path, Pointers(into), true, 1 << 20);
  ExpectError(s, absl::StatusCode::kInvalidArgument,
              {"not a checkpoint of this graph", "'f64' (f64[2])"}, path);
  EXPECT_EQ(into.at("f32").ElementAsDouble(0), 7);
  s = ReadParameterValues(path, Pointers(into), true, 100);
  ExpectError(s, absl::StatusCode::kResourceExhausted, {"limit of 100"}, path);
}

}  // namespace
}  // namespace rill

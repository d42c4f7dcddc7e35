// libFuzzer target for the checkpoint reader: any input must parse cleanly or
// fail with a status. The format leaves no choices (exact lengths, no
// padding, CRCs, nothing after the trailer), so whatever parses must be
// valid and serialize back to exactly the input bytes.
//
// Random mutations almost never keep a CRC valid, so on its own the fuzzer
// would stop at the CRC checks. Each input is therefore also parsed with its
// CRCs recomputed ("resealed"), which reaches the checks behind them: dtype
// codes, dims, data lengths, bool bytes, names.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/checkpoint.h"
#include "core/crc32c.h"

namespace {

// Walks `bytes` by the layout in core/checkpoint.h, overwriting each CRC
// that is present with the right one; stops where a length runs out.
class Resealer {
 public:
  explicit Resealer(std::string& bytes) : b_(bytes) {}

  void Run() {
    uint64_t rng_size = 0, count = 0;
    // Magic, version and step, then the RNG state and the tensor count.
    if (!Skip(20) || !Field(8, rng_size) || !Skip(rng_size) ||
        !Field(8, count) || !Seal(0)) {
      return;
    }
    for (uint64_t i = 0; i < count; ++i) {
      size_t start = pos_;
      uint64_t name_size = 0, rank = 0, data_size = 0;
      if (!Field(4, name_size) || !Skip(name_size) || !Skip(1) ||
          !Field(4, rank) || !Skip(8 * rank) || !Field(8, data_size) ||
          !Skip(data_size) || !Seal(start)) {
        return;
      }
    }
    Seal(0);
  }

 private:
  bool Has(uint64_t n) const { return n <= b_.size() - pos_; }
  bool Skip(uint64_t n) {
    if (!Has(n)) return false;
    pos_ += n;
    return true;
  }
  // A little-endian unsigned field of `n` bytes.
  bool Field(int n, uint64_t& value) {
    if (!Has(n)) return false;
    value = 0;
    std::memcpy(&value, b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // Stores the CRC32C of the bytes from `start` here.
  bool Seal(size_t start) {
    if (!Has(4)) return false;
    uint32_t crc =
        rill::Crc32c(absl::string_view(b_).substr(start, pos_ - start));
    std::memcpy(&b_[pos_], &crc, 4);
    pos_ += 4;
    return true;
  }

  std::string& b_;
  size_t pos_ = 0;
};

void ParseAndCheck(absl::string_view bytes) {
  absl::StatusOr<rill::Checkpoint> c = rill::ParseCheckpoint(bytes, "fuzz");
  if (!c.ok()) return;
  if (!rill::ValidateCheckpoint(*c).ok()) __builtin_trap();
  if (rill::SerializeCheckpoint(*c) != bytes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ParseAndCheck(bytes);
  Resealer(bytes).Run();
  ParseAndCheck(bytes);
  return 0;
}

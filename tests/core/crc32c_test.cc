#include "core/crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace rill {
namespace {

std::string Bytes(int n, int (*byte)(int)) {
  std::string s(n, '\0');
  for (int i = 0; i < n; ++i) s[i] = static_cast<char>(byte(i));
  return s;
}

// RFC 3720 (iSCSI), appendix B.4 "CRC Examples"; the same vectors are in
// RFC 7143, appendix A.4.
TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(Crc32c(Bytes(32, [](int) { return 0x00; })), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(Bytes(32, [](int) { return 0xFF; })), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(Bytes(32, [](int i) { return i; })), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(Bytes(32, [](int i) { return 31 - i; })), 0x113FDB5Cu);
  // An iSCSI SCSI Read (10) command PDU.
  const unsigned char kRead10[48] = {
      0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Crc32c(absl::string_view(reinterpret_cast<const char*>(kRead10),
                                     sizeof(kRead10))),
            0xD9963A56u);
}

// The "check" value of CRC-32C (CRC-32/ISCSI) in the CRC catalogues, e.g.
// Greg Cook's "Catalogue of parametrised CRC algorithms", and the empty
// input, whose CRC is 0 for any CRC with equal init and final XOR.
TEST(Crc32c, CatalogueCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

// A bit-at-a-time CRC-32C straight from the definition, to compare the
// table-driven code with on inputs that the vectors above do not cover.
uint32_t BitwiseCrc32c(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFF;
  for (unsigned char b : data) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78 : 0);
  }
  return ~crc;
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Every length around the 8-byte step and every start alignment, so that
// the byte-wise head and tail and the sliced middle are all exercised.
TEST(Crc32c, MatchesBitwiseDefinitionAtEveryLengthAndAlignment) {
  std::mt19937 rng(3720);
  std::string buffer = RandomBytes(rng, 300);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 200; ++n) {
      absl::string_view piece = absl::string_view(buffer).substr(offset, n);
      ASSERT_EQ(Crc32c(piece), BitwiseCrc32c(piece))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, ExtendsInPieces) {
  std::mt19937 rng(7143);
  std::string data = RandomBytes(rng, 100);
  uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    absl::string_view a = absl::string_view(data).substr(0, split);
    absl::string_view b = absl::string_view(data).substr(split);
    EXPECT_EQ(Crc32c(b, Crc32c(a)), whole) << "split at " << split;
  }
  EXPECT_EQ(Crc32c("56789", Crc32c("1234")), 0xE3069283u);
}

}  // namespace
}  // namespace rill

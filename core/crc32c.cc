#include "core/crc32c.h"

#include <cstring>

namespace rill {
namespace {

// The 8-byte step loads words in host order, so it assumes little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "crc32c.cc assumes a little-endian host");

constexpr uint32_t kPolynomial = 0x82F63B78;  // reflected 0x1EDC6F41

// Slicing-by-8 (Kounavis and Berry, 2005): table[k][b] is the CRC of byte b
// followed by k zero bytes, so eight bytes fold in with eight lookups
// instead of eight dependent shift-and-lookup rounds. Built at compile time.
struct Tables {
  uint32_t t[8][256];
};

constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    }
    tables.t[0][b] = crc;
  }
  for (int k = 1; k < 8; ++k) {
    for (int b = 0; b < 256; ++b) {
      uint32_t prev = tables.t[k - 1][b];
      tables.t[k][b] = (prev >> 8) ^ tables.t[0][prev & 0xFF];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

uint32_t Byte(uint32_t crc, unsigned char b) {
  return (crc >> 8) ^ kTables.t[0][(crc ^ b) & 0xFF];
}

}  // namespace

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  const auto& t = kTables.t;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  while (n > 0 && reinterpret_cast<uintptr_t>(p) % 8 != 0) {
    crc = Byte(crc, *p++);
    --n;
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= crc;
    crc = t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^
          t[5][(word >> 16) & 0xFF] ^ t[4][(word >> 24) & 0xFF] ^
          t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^
          t[1][(word >> 48) & 0xFF] ^ t[0][word >> 56];
  }
  for (; n > 0; --n) crc = Byte(crc, *p++);
  return ~crc;
}

}  // namespace rill

#ifndef RILL_CORE_CRC32C_H_
#define RILL_CORE_CRC32C_H_

// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and
// final XOR 0xFFFFFFFF), the checksum of iSCSI (RFC 3720), ext4 and SCTP.
// Checkpoints use it rather than zlib's CRC-32 because Castagnoli chose the
// polynomial for a larger Hamming distance at common message lengths, and
// x86 (SSE4.2) and ARMv8 compute it in hardware should speed ever matter.

#include <cstdint>

#include "absl/strings/string_view.h"

namespace rill {

// The CRC-32C of `data`, continuing from `crc`, the CRC of the bytes before
// it (0 for none): Crc32c(b, Crc32c(a)) == Crc32c(a + b), so large buffers
// can be checked in pieces.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

}  // namespace rill

#endif  // RILL_CORE_CRC32C_H_

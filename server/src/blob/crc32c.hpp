// CRC-32C (Castagnoli), the checksum of the directory store's records: torn-write detection,
// not integrity against an attacker (the AEAD layer authenticates every segment).
#pragma once

#include <cstdint>
#include <string_view>

namespace tmc::blob {

// CRC-32C of data continuing from crc (0 to start), as in RFC 3720 (iSCSI): the SSE4.2 crc32
// instruction where the CPU has it, a table otherwise; both give the same result.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

namespace detail {
// The table version alone, for checking that both versions agree.
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc = 0) noexcept;
}  // namespace detail

}  // namespace tmc::blob

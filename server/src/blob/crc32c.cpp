// CRC-32C: hardware instruction on x86-64 with SSE4.2, byte-wise table everywhere else.
#include "blob/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tmc::blob {
namespace {

constexpr std::uint32_t kPolynomial = 0x82f63b78u;  // reflected Castagnoli polynomial

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t value = i;
    for (int bit = 0; bit < 8; ++bit) value = (value >> 1) ^ ((value & 1u) ? kPolynomial : 0u);
    table[i] = value;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kTable = make_table();

std::uint32_t crc32c_table(const unsigned char* data, std::size_t size, std::uint32_t state) {
  for (std::size_t i = 0; i < size; ++i) state = (state >> 8) ^ kTable[(state ^ data[i]) & 0xffu];
  return state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* data,
                                                             std::size_t size,
                                                             std::uint32_t state) {
  std::uint64_t wide = state;
  for (; size >= 8; size -= 8, data += 8) {
    std::uint64_t word;
    std::memcpy(&word, data, sizeof word);
    wide = _mm_crc32_u64(wide, word);
  }
  auto narrow = static_cast<std::uint32_t>(wide);
  for (; size > 0; --size, ++data) narrow = _mm_crc32_u8(narrow, *data);
  return narrow;
}

bool has_sse42() noexcept {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::uint32_t state = ~crc;
#if defined(__x86_64__)
  if (has_sse42()) return ~crc32c_sse42(bytes, data.size(), state);
#endif
  return ~crc32c_table(bytes, data.size(), state);
}

namespace detail {
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc) noexcept {
  return ~crc32c_table(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}
}  // namespace detail

}  // namespace tmc::blob

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
// a * b modulo the polynomial, both in the reflected form of the register (bit 31 is the
// coefficient of x^0, so a right shift multiplies by x).
constexpr std::uint32_t multiply_mod(std::uint32_t a, std::uint32_t b) {
  std::uint32_t product = 0;
  for (std::uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if ((a & bit) != 0) product ^= b;
    b = (b & 1u) != 0 ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial: running `bytes` zero bytes through a register multiplies
// it by this.
constexpr std::uint32_t zero_bytes_factor(std::size_t bytes) {
  std::uint32_t result = 1u << 31;  // x^0
  std::uint32_t power = 1u << 23;   // x^8: one byte
  for (; bytes != 0; bytes >>= 1) {
    if ((bytes & 1u) != 0) result = multiply_mod(result, power);
    power = multiply_mod(power, power);
  }
  return result;
}

// The crc32 instruction has a latency of three cycles and a throughput of one per cycle, so a
// long buffer goes through three registers at once, one per lane of a block, which are then
// combined: the register is linear, so crc(r, A B C) = crc(r, A) * x^(8|BC|) + crc(0, B) *
// x^(8|C|) + crc(0, C). Lanes of 8 KiB make the two multiplications per block negligible.
constexpr std::size_t kLaneBytes = 8192;
constexpr std::uint32_t kSkipOneLane = zero_bytes_factor(kLaneBytes);
constexpr std::uint32_t kSkipTwoLanes = zero_bytes_factor(2 * kLaneBytes);

__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* data,
                                                             std::size_t size,
                                                             std::uint32_t state) {
  const auto load = [](const unsigned char* at) {
    std::uint64_t word;
    std::memcpy(&word, at, sizeof word);
    return word;
  };
  for (; size >= 3 * kLaneBytes; size -= 3 * kLaneBytes, data += 3 * kLaneBytes) {
    std::uint64_t first = state;
    std::uint64_t second = 0;
    std::uint64_t third = 0;
    for (std::size_t at = 0; at < kLaneBytes; at += 8) {
      first = _mm_crc32_u64(first, load(data + at));
      second = _mm_crc32_u64(second, load(data + kLaneBytes + at));
      third = _mm_crc32_u64(third, load(data + 2 * kLaneBytes + at));
    }
    state = multiply_mod(kSkipTwoLanes, static_cast<std::uint32_t>(first)) ^
            multiply_mod(kSkipOneLane, static_cast<std::uint32_t>(second)) ^
            static_cast<std::uint32_t>(third);
  }
  std::uint64_t wide = state;
  for (; size >= 8; size -= 8, data += 8) wide = _mm_crc32_u64(wide, load(data));
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

// Hex, base64url and base32 codecs (no OpenSSL: its base64 is the padded standard alphabet).
#include "crypto/encoding.hpp"

#include <array>
#include <cstdint>

namespace tmc::crypto {
namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";
constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

constexpr int invalid = -1;

// Reverse lookup table for an alphabet; optionally folds lower-case letters onto upper case.
constexpr std::array<int, 256> reverse_table(std::string_view alphabet, bool fold_case) {
  std::array<int, 256> table{};
  table.fill(invalid);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    const auto c = static_cast<unsigned char>(alphabet[i]);
    table[c] = static_cast<int>(i);
    if (fold_case && c >= 'A' && c <= 'Z') table[c - 'A' + 'a'] = static_cast<int>(i);
  }
  return table;
}

constexpr auto hex_values = reverse_table("0123456789abcdef", false);
constexpr auto hex_upper_values = reverse_table("0123456789ABCDEF", false);
constexpr auto base64url_values = reverse_table(base64url_alphabet, false);
constexpr auto base32_values = reverse_table(base32_alphabet, true);

int hex_value(char c) {
  const auto index = static_cast<unsigned char>(c);
  return hex_values[index] != invalid ? hex_values[index] : hex_upper_values[index];
}

// Packs bytes into groups of bits_per_char and maps each group through the alphabet; the last
// group is zero-padded on the right.
std::string encode_bits(std::string_view bytes, std::string_view alphabet, int bits_per_char) {
  std::string out;
  out.reserve((bytes.size() * 8 + static_cast<std::size_t>(bits_per_char) - 1) /
              static_cast<std::size_t>(bits_per_char));
  const std::uint32_t mask = (1u << bits_per_char) - 1;
  std::uint32_t buffer = 0;
  int buffered_bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    buffered_bits += 8;
    while (buffered_bits >= bits_per_char) {
      buffered_bits -= bits_per_char;
      out.push_back(alphabet[(buffer >> buffered_bits) & mask]);
    }
  }
  if (buffered_bits > 0)
    out.push_back(alphabet[(buffer << (bits_per_char - buffered_bits)) & mask]);
  return out;
}

// Inverse of encode_bits; rejects unknown characters, leftovers of a whole character or more,
// and non-zero padding bits (so every byte string has exactly one accepted encoding).
std::optional<std::string> decode_bits(std::string_view text, const std::array<int, 256>& values,
                                       int bits_per_char) {
  std::string out;
  out.reserve(text.size() * static_cast<std::size_t>(bits_per_char) / 8);
  std::uint32_t buffer = 0;
  int buffered_bits = 0;
  for (const char c : text) {
    const int value = values[static_cast<unsigned char>(c)];
    if (value == invalid) return std::nullopt;
    buffer = (buffer << bits_per_char) | static_cast<std::uint32_t>(value);
    buffered_bits += bits_per_char;
    if (buffered_bits >= 8) {
      buffered_bits -= 8;
      out.push_back(static_cast<char>((buffer >> buffered_bits) & 0xFFu));
    }
  }
  if (buffered_bits >= bits_per_char) return std::nullopt;
  if ((buffer & ((1u << buffered_bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(hex_digits[byte >> 4]);
    out.push_back(hex_digits[byte & 0x0F]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high == invalid || low == invalid) return std::nullopt;
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  return encode_bits(bytes, base64url_alphabet, 6);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode_bits(text, base64url_values, 6);
}

std::string base32_encode(std::string_view bytes) { return encode_bits(bytes, base32_alphabet, 5); }

std::optional<std::string> base32_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return decode_bits(text, base32_values, 5);
}

}  // namespace tmc::crypto

// HOTP/TOTP codes, verification with a drift window, and otpauth URIs.
#include "crypto/totp.hpp"

#include <stdexcept>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

// RFC 3986 unreserved characters stay; everything else becomes %XX.
std::string percent_encode(std::string_view text) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 0x0F]);
    }
  }
  return out;
}

}  // namespace

std::string new_totp_secret() { return random_bytes(20); }

std::string hotp_code(std::string_view secret, std::uint64_t counter, int digits) {
  if (digits < 1 || digits > 9) throw std::invalid_argument("HOTP digits must be 1..9");
  std::string message(8, '\0');
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<char>(counter & 0xFFu);
    counter >>= 8;
  }
  const std::string mac = hmac_sha1(secret, message);
  // Dynamic truncation (RFC 4226 section 5.3).
  const std::size_t offset = static_cast<unsigned char>(mac.back()) & 0x0Fu;
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<unsigned char>(mac[offset + i]);
  }
  value &= 0x7FFFFFFFu;
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(value % modulus);
  code.insert(0, static_cast<std::size_t>(digits) - code.size(), '0');
  return code;
}

std::int64_t totp_step(std::int64_t unix_seconds) {
  std::int64_t step = unix_seconds / totp_step_seconds;
  if (unix_seconds % totp_step_seconds < 0) --step;  // floor for times before 1970
  return step;
}

std::string totp_code(std::string_view secret, std::int64_t unix_seconds, int digits) {
  return hotp_code(secret, static_cast<std::uint64_t>(totp_step(unix_seconds)), digits);
}

std::optional<std::int64_t> totp_verify(std::string_view secret, std::string_view code,
                                        std::int64_t unix_seconds, int window) {
  if (code.size() != static_cast<std::size_t>(totp_digits) || window < 0) return std::nullopt;
  for (const char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const std::int64_t now = totp_step(unix_seconds);
  std::optional<std::int64_t> matched;
  for (std::int64_t step = now - window; step <= now + window; ++step) {
    if (step < 0) continue;
    // No early exit: every candidate step costs the same whether or not one matched.
    if (constant_time_equal(hotp_code(secret, static_cast<std::uint64_t>(step)), code) &&
        !matched) {
      matched = step;
    }
  }
  return matched;
}

std::string totp_uri(std::string_view secret, std::string_view account, std::string_view issuer) {
  const std::string encoded_issuer = percent_encode(issuer);
  return "otpauth://totp/" + encoded_issuer + ":" + percent_encode(account) +
         "?secret=" + base32_encode(secret) + "&issuer=" + encoded_issuer +
         "&algorithm=SHA1&digits=" + std::to_string(totp_digits) +
         "&period=" + std::to_string(totp_step_seconds);
}

}  // namespace tmc::crypto

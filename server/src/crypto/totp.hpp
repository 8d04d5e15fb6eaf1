// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1) for second factors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tmc::crypto {

inline constexpr std::int64_t totp_step_seconds = 30;
inline constexpr int totp_digits = 6;

// A new random 20-byte (160-bit, RFC 4226 recommended) shared secret, raw bytes.
std::string new_totp_secret();

// RFC 4226 HOTP value for counter, zero-padded to digits (1..9) decimal digits.
// Throws std::invalid_argument for digits outside 1..9.
std::string hotp_code(std::string_view secret, std::uint64_t counter, int digits = totp_digits);

// The time step containing unix_seconds (floor(unix_seconds / 30)).
std::int64_t totp_step(std::int64_t unix_seconds);

// The code for the step containing unix_seconds; secret is raw bytes (not base32).
std::string totp_code(std::string_view secret, std::int64_t unix_seconds, int digits = totp_digits);

// Checks a 6-digit code against the steps within +-window of the one containing unix_seconds
// (clock drift). Returns the matched step so the caller can refuse a step already used (store it
// and accept only later steps); nullopt for a wrong or malformed code. Constant-time per step.
std::optional<std::int64_t> totp_verify(std::string_view secret, std::string_view code,
                                        std::int64_t unix_seconds, int window = 1);

// otpauth:// provisioning URI (for a QR code) with the base32 secret, account and issuer
// percent-encoded.
std::string totp_uri(std::string_view secret, std::string_view account, std::string_view issuer);

}  // namespace tmc::crypto

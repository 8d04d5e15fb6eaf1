// Password hashing with scrypt in a self-describing encoded form, plus constant-cost dummy checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tmc::crypto {

// scrypt cost parameters. n must be a power of two in [2, 2^20], r in [1, 32], p in [1, 16]
// and the memory use 128 * n * r at most 1 GiB; anything else is rejected as invalid.
struct ScryptParams {
  std::uint64_t n = std::uint64_t{1} << 17;
  std::uint32_t r = 8;
  std::uint32_t p = 1;

  // OWASP password storage recommendation: N=2^17, r=8, p=1 (128 MiB, roughly 0.2-0.5 s).
  static ScryptParams production() { return ScryptParams{std::uint64_t{1} << 17, 8, 1}; }

  bool valid() const noexcept;
  friend bool operator==(const ScryptParams&, const ScryptParams&) = default;
};

// Hashes password with a fresh 16-byte salt into a 32-byte scrypt hash, encoded as
// "scrypt$<log2 n>$<r>$<p>$<salt base64url>$<hash base64url>". Throws std::invalid_argument
// for invalid params and std::runtime_error if OpenSSL fails. CPU- and memory-heavy: call it
// on a worker thread, never on an io thread. Thread-safe.
std::string hash_password(std::string_view password, const ScryptParams& params);

// True if password matches encoded (constant-time comparison of the hashes). A malformed
// encoding, or one whose parameters are out of the valid range, is false (never derived, so a
// corrupted row cannot make the server allocate unbounded memory). Throws std::runtime_error
// only if OpenSSL itself fails. Same cost and threading advice as hash_password.
bool verify_password(std::string_view password, std::string_view encoded);

// The parameters an encoded hash was made with; nullopt if the encoding is malformed.
std::optional<ScryptParams> password_params(std::string_view encoded);

// True if encoded should be replaced (after a successful login) by a hash with params: it was
// made with different parameters or is malformed.
bool needs_rehash(std::string_view encoded, const ScryptParams& params);

// Spends the same time and memory as verify_password of password on a hash made with params
// (the password's length counts too), and discards the result: login calls it for unknown users
// so response time does not reveal which usernames exist.
void dummy_verify(std::string_view password, const ScryptParams& params);

}  // namespace tmc::crypto

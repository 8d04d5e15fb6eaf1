// SHA-256 (one-shot and incremental), HMAC-SHA256/SHA1 and constant-time comparison.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tmc::crypto {

inline constexpr std::size_t sha256_size = 32;

// SHA-256 digest of data as 32 raw bytes.
std::string sha256(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (upload chunks). Not thread-safe; movable.
// After finish() the object is reset and can hash a new message. A moved-from object may only
// be destroyed or assigned to.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  // The 32-byte digest of everything passed to update() since construction or the last finish().
  std::string finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// HMAC of data under key, as raw bytes (32 for SHA-256, 20 for SHA-1).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hmac_sha1(std::string_view key, std::string_view data);

// True if a and b are equal; the time taken depends only on the lengths, not on the contents.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace tmc::crypto

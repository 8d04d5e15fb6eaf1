// Ed25519 key that signs audit tree heads, kept in a mode-0600 key file beside the database.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace tmc::audit {

inline constexpr std::size_t ed25519_public_key_size = 32;
inline constexpr std::size_t ed25519_signature_size = 64;

// Key file (text): "tmc-audit-key 1" then "ed25519 <64 hex digits of the private seed>".
// The private key never appears in logs or exception messages. Const members are thread-safe
// (each call uses its own OpenSSL context). Move-only.
class SigningKey {
 public:
  // Reads a key file. Throws std::runtime_error (naming the path) if it is missing, not a
  // regular file, readable by group or others, or malformed.
  static SigningKey load(const std::filesystem::path& path);
  // Writes a new random key with O_EXCL and mode 0600, fsynced. Throws if the file exists.
  static SigningKey create(const std::filesystem::path& path);
  // load() if the file exists, else create() (first start of a deployment made before audit).
  static SigningKey load_or_create(const std::filesystem::path& path);
  // A random in-memory key (tests).
  static SigningKey generate();

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  const std::string& public_key() const { return public_key_; }  // 32 raw bytes
  std::string sign(std::string_view message) const;              // 64 raw bytes

 private:
  struct Key;
  explicit SigningKey(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
  std::string public_key_;
};

// True if signature is a valid Ed25519 signature of message under the 32-byte public key.
// Never throws on malformed input.
bool verify_signature(std::string_view public_key, std::string_view message,
                      std::string_view signature);

}  // namespace tmc::audit

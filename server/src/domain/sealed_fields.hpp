// Field packing and AES-256-GCM sealing of clinical text under per-object data keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keyring.hpp"

namespace tmc::domain {

// Packs fields as length-prefixed byte strings (u32 big-endian lengths).
std::string pack_fields(const std::vector<std::string_view>& fields);
// The inverse of pack_fields; nullopt when malformed.
std::optional<std::vector<std::string>> unpack_fields(std::string_view packed);

// Data keys wrapped by the key-encryption key, and sealing under them. Thread-safe as long as
// the key ring is not modified concurrently.
class Vault {
 public:
  explicit Vault(const crypto::KeyRing& key_ring) : key_ring_(key_ring) {}

  struct DataKey {
    std::string plain;    // 32 bytes; never stored
    std::string wrapped;  // stored beside the data it protects
  };
  DataKey new_data_key() const;
  // Throws std::runtime_error when the wrapped key cannot be unwrapped (unknown key id or
  // tampered): the data it protects is unreadable.
  std::string unwrap(std::string_view wrapped) const;

  // aad binds the ciphertext to its owner and field, e.g. "con_...|question".
  static std::string seal(const std::string& key, std::string_view plaintext, std::string_view aad);
  // Throws std::runtime_error on authentication failure (tampered or misplaced ciphertext).
  static std::string open(const std::string& key, std::string_view sealed, std::string_view aad);

 private:
  const crypto::KeyRing& key_ring_;
};

}  // namespace tmc::domain

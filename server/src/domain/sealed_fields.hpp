// Field packing and AES-256-GCM sealing of clinical text under per-object data keys.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/text_hash.hpp"
#include "crypto/keyring.hpp"
#include "crypto/secret.hpp"

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
  ~Vault();
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  struct DataKey {
    crypto::Secret plain;  // 32 bytes; never stored, wiped when dropped
    std::string wrapped;   // stored beside the data it protects
  };
  DataKey new_data_key() const;
  // Throws std::runtime_error when the wrapped key cannot be unwrapped (unknown key id or
  // tampered): the data it protects is unreadable. Keys unwrapped before are answered from
  // memory (see unwrapped_).
  crypto::Secret unwrap(std::string_view wrapped) const;

  // aad binds the ciphertext to its owner and field, e.g. "con_...|question".
  static std::string seal(const crypto::Secret& key, std::string_view plaintext,
                          std::string_view aad);
  // Throws std::runtime_error on authentication failure (tampered or misplaced ciphertext).
  static std::string open(const crypto::Secret& key, std::string_view sealed,
                          std::string_view aad);

 private:
  // Forgets (and so wipes) every remembered key; the caller holds unwrapped_mutex_.
  void forget_unwrapped() const noexcept;

  // How many unwrapped keys are remembered at most; past it they are all forgotten, and the
  // keys in use are unwrapped again on their next use.
  static constexpr std::size_t kRememberedKeys = 1024;

  const crypto::KeyRing& key_ring_;
  // Every post to a consultation, and every sync, needs its data key: an AES-GCM decryption
  // with a fresh cipher context each time (1.4% of a closed chat loop's server CPU). The key
  // ring is fixed for the server's lifetime (keys are added and retired offline), so a wrapped
  // key always unwraps to the same key: remembered by its wrapped form, and wiped when
  // forgotten.
  mutable std::mutex unwrapped_mutex_;
  mutable std::unordered_map<std::string, crypto::Secret, TextHash, std::equal_to<>> unwrapped_;
};

}  // namespace tmc::domain

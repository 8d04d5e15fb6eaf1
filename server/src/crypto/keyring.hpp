// Key-encryption keys (KEKs) from a mode-0600 key file, wrapping per-object data keys.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace tmc::crypto {

// A set of 32-byte AES-256-GCM key-encryption keys, each with an id, one of them active.
// New data keys are wrapped under the active key; unwrap finds the key by the id embedded in
// the wrapped form, so rotation (add a key, activate it, rewrap, retire the old one) never
// breaks existing data.
//
// Key file (text, one item per line, '#' comments and blank lines ignored):
//   tmc-keyring 1
//   kek <id> <64 hex digits>
//   active <id>
// Ids match [A-Za-z0-9_-]{1,64}. Key material is never logged nor put in exception messages.
//
// Const members are safe to call concurrently; mutators need exclusive access. Move-only; key
// bytes are wiped from memory on destruction.
class KeyRing {
 public:
  // Reads a key file. Throws std::runtime_error (one sentence naming the path) if it cannot be
  // read, is not a regular file, its mode grants any access to group or others (must be 0600 or
  // stricter), or it is malformed.
  static KeyRing load(const std::filesystem::path& path);

  // Writes a new key file holding one random active key, created with O_EXCL and mode 0600.
  // Throws std::runtime_error if the file already exists or cannot be written.
  static KeyRing create(const std::filesystem::path& path);

  // An in-memory ring with one random active key (tests, `tmc demo`).
  static KeyRing generate();

  KeyRing(KeyRing&& other) noexcept;
  KeyRing& operator=(KeyRing&& other) noexcept;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;
  ~KeyRing();

  // A fresh random 32-byte data key.
  static std::string new_data_key();

  // Encrypts data_key under the active key: "kek1$<key id>$<base64url(nonce||ciphertext||tag)>",
  // with the key id as AAD. ASCII, so it fits TEXT or BLOB columns.
  std::string wrap(std::string_view data_key) const;

  // The data key inside wrapped; nullopt if malformed, the key id is unknown (or retired) or
  // the wrapped bytes were tampered with. Never throws on bad input.
  std::optional<std::string> unwrap(std::string_view wrapped) const;

  // unwrap then wrap under the active key (rotation); nullopt where unwrap would fail.
  std::optional<std::string> rewrap(std::string_view wrapped) const;

  // The key id a wrapped key names, or "" if wrapped is malformed.
  static std::string key_id_of(std::string_view wrapped);

  // Adds a new random key, makes it active and returns its id. Old keys still unwrap.
  std::string add_key_and_activate();

  // Removes a key: not_found if unknown, failed_precondition if it is the active key.
  Status retire(std::string_view key_id);

  // Atomically replaces path with this ring (temp file in the same directory with mode 0600,
  // fsync, rename, fsync of the directory). Throws std::runtime_error on failure.
  void save(const std::filesystem::path& path) const;

  const std::string& active_key_id() const { return active_key_id_; }
  std::vector<std::string> key_ids() const;  // sorted
  bool has_key(std::string_view key_id) const;

 private:
  KeyRing() = default;
  std::string serialize() const;
  void wipe() noexcept;

  std::map<std::string, std::string, std::less<>> keys_;  // id -> 32 raw key bytes
  std::string active_key_id_;
};

}  // namespace tmc::crypto

// Field packing and AES-256-GCM sealing of clinical text under per-object data keys.
#include "domain/sealed_fields.hpp"

#include <openssl/crypto.h>

#include <stdexcept>

#include "crypto/aead.hpp"

namespace tmc::domain {

std::string pack_fields(const std::vector<std::string_view>& fields) {
  std::string out;
  for (const auto field : fields) {
    const auto size = static_cast<std::uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
    out.append(field);
  }
  return out;
}

std::optional<std::vector<std::string>> unpack_fields(std::string_view packed) {
  std::vector<std::string> fields;
  while (!packed.empty()) {
    if (packed.size() < 4) return std::nullopt;
    std::uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size = (size << 8) | static_cast<unsigned char>(packed[i]);
    packed.remove_prefix(4);
    if (packed.size() < size) return std::nullopt;
    fields.emplace_back(packed.substr(0, size));
    packed.remove_prefix(size);
  }
  return fields;
}

Vault::DataKey Vault::new_data_key() const {
  DataKey key;
  key.plain = crypto::Secret(crypto::KeyRing::new_data_key());
  key.wrapped = key_ring_.wrap(key.plain.value());
  return key;
}

Vault::~Vault() {
  std::lock_guard lock(unwrapped_mutex_);
  forget_unwrapped();
}

void Vault::forget_unwrapped() const noexcept { unwrapped_.clear(); }

crypto::Secret Vault::unwrap(std::string_view wrapped) const {
  {
    std::lock_guard lock(unwrapped_mutex_);
    if (const auto found = unwrapped_.find(wrapped); found != unwrapped_.end()) {
      return found->second;
    }
  }
  auto unwrapped = key_ring_.unwrap(wrapped);
  if (!unwrapped) {
    throw std::runtime_error("a data key cannot be unwrapped with the configured keys");
  }
  crypto::Secret key(std::move(*unwrapped));
  std::lock_guard lock(unwrapped_mutex_);
  if (unwrapped_.size() >= kRememberedKeys) forget_unwrapped();
  unwrapped_.emplace(wrapped, key);
  return key;
}

std::string Vault::seal(const crypto::Secret& key, std::string_view plaintext,
                        std::string_view aad) {
  return crypto::seal(key.value(), plaintext, aad);
}

std::string Vault::open(const crypto::Secret& key, std::string_view sealed,
                        std::string_view aad) {
  auto plain = crypto::open(key.value(), sealed, aad);
  if (!plain) throw std::runtime_error("stored clinical content failed authentication");
  return std::move(*plain);
}

}  // namespace tmc::domain

// AES-256-GCM authenticated encryption with random or caller-chosen nonces.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tmc::crypto {

inline constexpr std::size_t aead_key_size = 32;
inline constexpr std::size_t aead_nonce_size = 12;
inline constexpr std::size_t aead_tag_size = 16;
// Bytes seal() adds to the plaintext: nonce + tag.
inline constexpr std::size_t aead_overhead = aead_nonce_size + aead_tag_size;

// All functions throw std::invalid_argument if key is not aead_key_size bytes or a nonce is not
// aead_nonce_size bytes (programming errors), and std::runtime_error if OpenSSL fails. Opening
// never throws because of the sealed input: any malformed, truncated or tampered input, or the
// wrong key or aad, yields nullopt. Thread-safe (no shared state).

// Encrypts plaintext under key with a fresh random nonce, binding aad (not encrypted, not
// included in the output). Returns nonce || ciphertext || tag. With a random 96-bit nonce, a key
// must not seal more than 2^32 messages.
std::string seal(std::string_view key, std::string_view plaintext, std::string_view aad = {});
std::optional<std::string> open(std::string_view key, std::string_view sealed,
                                std::string_view aad = {});

// Explicit-nonce variants for callers that derive unique nonces themselves (e.g. a per-file key
// with the segment index as nonce). Returns ciphertext || tag; the nonce is not included. A
// (key, nonce) pair must never be used for two different plaintexts.
std::string seal_with_nonce(std::string_view key, std::string_view nonce,
                            std::string_view plaintext, std::string_view aad = {});
// The same into out[0, plaintext.size() + aead_tag_size), memory the caller provides.
void seal_with_nonce_to(char* out, std::string_view key, std::string_view nonce,
                        std::string_view plaintext, std::string_view aad = {});
std::optional<std::string> open_with_nonce(std::string_view key, std::string_view nonce,
                                           std::string_view sealed, std::string_view aad = {});

}  // namespace tmc::crypto

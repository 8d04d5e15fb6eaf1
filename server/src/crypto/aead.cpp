// AES-256-GCM through EVP_CIPHER_CTX.
#include "crypto/aead.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "crypto/algorithms.hpp"
#include "crypto/openssl_error.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

// GCM in OpenSSL takes int lengths; larger inputs are fed in pieces.
constexpr std::size_t max_piece = std::size_t{1} << 30;

const unsigned char* bytes_of(std::string_view data) {
  return reinterpret_cast<const unsigned char*>(data.data());
}

void check_sizes(std::string_view key, std::string_view nonce) {
  if (key.size() != aead_key_size) throw std::invalid_argument("AES-256-GCM key must be 32 bytes");
  if (nonce.size() != aead_nonce_size) {
    throw std::invalid_argument("AES-256-GCM nonce must be 12 bytes");
  }
}

// Creates a context for encrypting (encrypt=1) or decrypting (0) under key and nonce, with aad
// already absorbed.
CipherContext start(int encrypt, std::string_view key, std::string_view nonce,
                    std::string_view aad) {
  CipherContext context(EVP_CIPHER_CTX_new());
  if (!context) detail::throw_openssl_error("EVP_CIPHER_CTX_new failed");
  if (EVP_CipherInit_ex(context.get(), detail::aes_256_gcm(), nullptr, bytes_of(key),
                        bytes_of(nonce), encrypt) != 1) {
    detail::throw_openssl_error("AES-256-GCM init failed");
  }
  for (std::size_t offset = 0; offset < aad.size(); offset += max_piece) {
    const std::string_view piece = aad.substr(offset, max_piece);
    int ignored = 0;
    if (EVP_CipherUpdate(context.get(), nullptr, &ignored, bytes_of(piece),
                         static_cast<int>(piece.size())) != 1) {
      detail::throw_openssl_error("AES-256-GCM aad failed");
    }
  }
  return context;
}

// Runs input through the cipher into out (same length: GCM is a stream mode).
void transform(EVP_CIPHER_CTX* context, std::string_view input, char* out) {
  for (std::size_t offset = 0; offset < input.size(); offset += max_piece) {
    const std::string_view piece = input.substr(offset, max_piece);
    int written = 0;
    if (EVP_CipherUpdate(context, reinterpret_cast<unsigned char*>(out + offset), &written,
                         bytes_of(piece), static_cast<int>(piece.size())) != 1 ||
        static_cast<std::size_t>(written) != piece.size()) {
      detail::throw_openssl_error("AES-256-GCM update failed");
    }
  }
}

}  // namespace

std::string seal_with_nonce(std::string_view key, std::string_view nonce,
                            std::string_view plaintext, std::string_view aad) {
  check_sizes(key, nonce);
  std::string out(plaintext.size() + aead_tag_size, '\0');
  seal_with_nonce_to(out.data(), key, nonce, plaintext, aad);
  return out;
}

void seal_with_nonce_to(char* out, std::string_view key, std::string_view nonce,
                        std::string_view plaintext, std::string_view aad) {
  check_sizes(key, nonce);
  const CipherContext context = start(1, key, nonce, aad);
  transform(context.get(), plaintext, out);
  int written = 0;
  auto* tag = reinterpret_cast<unsigned char*>(out + plaintext.size());
  if (EVP_EncryptFinal_ex(context.get(), tag, &written) != 1 || written != 0 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(aead_tag_size),
                          tag) != 1) {
    detail::throw_openssl_error("AES-256-GCM final failed");
  }
}

std::optional<std::string> open_with_nonce(std::string_view key, std::string_view nonce,
                                           std::string_view sealed, std::string_view aad) {
  check_sizes(key, nonce);
  if (sealed.size() < aead_tag_size) return std::nullopt;
  const std::string_view ciphertext = sealed.substr(0, sealed.size() - aead_tag_size);
  std::string tag(sealed.substr(ciphertext.size()));

  const CipherContext context = start(0, key, nonce, aad);
  std::string plaintext(ciphertext.size(), '\0');
  transform(context.get(), ciphertext, plaintext.data());
  if (EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(aead_tag_size),
                          tag.data()) != 1) {
    detail::throw_openssl_error("AES-256-GCM set tag failed");
  }
  int written = 0;
  unsigned char unused[16];
  if (EVP_DecryptFinal_ex(context.get(), unused, &written) != 1) {
    detail::clear_openssl_errors();
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;  // authentication failed: never release unverified plaintext
  }
  return plaintext;
}

std::string seal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  std::string out(aead_overhead + plaintext.size(), '\0');
  random_nonce(out.data(), aead_nonce_size);
  seal_with_nonce_to(out.data() + aead_nonce_size, key,
                     std::string_view(out.data(), aead_nonce_size), plaintext, aad);
  return out;
}

std::optional<std::string> open(std::string_view key, std::string_view sealed,
                                std::string_view aad) {
  if (key.size() != aead_key_size) throw std::invalid_argument("AES-256-GCM key must be 32 bytes");
  if (sealed.size() < aead_overhead) return std::nullopt;
  return open_with_nonce(key, sealed.substr(0, aead_nonce_size), sealed.substr(aead_nonce_size),
                         aad);
}

}  // namespace tmc::crypto

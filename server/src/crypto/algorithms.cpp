// Explicitly fetched OpenSSL algorithms (see algorithms.hpp).
#include "crypto/algorithms.hpp"

#include <string>

#include "crypto/openssl_error.hpp"

namespace tmc::crypto::detail {
namespace {

EVP_CIPHER* fetch_cipher(const char* name) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (cipher == nullptr) throw_openssl_error(std::string("no provider offers ") + name);
  return cipher;
}

EVP_MD* fetch_digest(const char* name) {
  EVP_MD* digest = EVP_MD_fetch(nullptr, name, nullptr);
  if (digest == nullptr) throw_openssl_error(std::string("no provider offers ") + name);
  return digest;
}

}  // namespace

// Never freed: they are used until the process ends, also by threads that outlive main's
// locals (EVP_CIPHER_free at exit could run before a last user on another thread).
const EVP_CIPHER* aes_256_gcm() {
  static const EVP_CIPHER* const cipher = fetch_cipher("AES-256-GCM");
  return cipher;
}

const EVP_MD* sha256() {
  static const EVP_MD* const digest = fetch_digest("SHA2-256");
  return digest;
}

const EVP_MD* sha1() {
  static const EVP_MD* const digest = fetch_digest("SHA1");
  return digest;
}

}  // namespace tmc::crypto::detail

// EVP digest and HMAC wrappers.
#include "crypto/hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <stdexcept>

#include "crypto/algorithms.hpp"
#include "crypto/openssl_error.hpp"

namespace tmc::crypto {
namespace {

const unsigned char* bytes_of(std::string_view data) {
  return reinterpret_cast<const unsigned char*>(data.data());
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  if (key.size() > INT_MAX) throw std::invalid_argument("HMAC key too long");
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int length = 0;
  static const char empty_key = 0;  // OpenSSL treats a null key as "reuse the previous key"
  if (HMAC(md, key.empty() ? &empty_key : key.data(), static_cast<int>(key.size()), bytes_of(data),
           data.size(), reinterpret_cast<unsigned char*>(out.data()), &length) == nullptr) {
    detail::throw_openssl_error("HMAC failed");
  }
  out.resize(length);
  return out;
}

}  // namespace

struct Sha256::Context {
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> md;

  void reset() {
    if (EVP_DigestInit_ex(md.get(), detail::sha256(), nullptr) != 1) {
      detail::throw_openssl_error("SHA-256 init failed");
    }
  }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->md.reset(EVP_MD_CTX_new());
  if (!context_->md) detail::throw_openssl_error("EVP_MD_CTX_new failed");
  context_->reset();
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(context_->md.get(), data.data(), data.size()) != 1) {
    detail::throw_openssl_error("SHA-256 update failed");
  }
}

std::string Sha256::finish() {
  std::string out(sha256_size, '\0');
  if (EVP_DigestFinal_ex(context_->md.get(), reinterpret_cast<unsigned char*>(out.data()),
                         nullptr) != 1) {
    detail::throw_openssl_error("SHA-256 final failed");
  }
  context_->reset();
  return out;
}

std::string sha256(std::string_view data) {
  std::string out(sha256_size, '\0');
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), nullptr,
                 detail::sha256(), nullptr) != 1) {
    detail::throw_openssl_error("SHA-256 failed");
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  return hmac(detail::sha256(), key, data);
}

std::string hmac_sha1(std::string_view key, std::string_view data) {
  return hmac(detail::sha1(), key, data);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tmc::crypto

// The algorithms tmc::crypto uses come from a provider, fetched once, not looked up per call.
#include "crypto/algorithms.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>

namespace tmc::crypto::detail {
namespace {

TEST(Algorithms, AreProviderImplementationsFetchedOnce) {
  // A legacy handle (EVP_aes_256_gcm(), EVP_sha256()) has no provider: OpenSSL 3 fetches one
  // for it again at every init. These carry theirs.
  ASSERT_NE(aes_256_gcm(), nullptr);
  EXPECT_NE(EVP_CIPHER_get0_provider(aes_256_gcm()), nullptr);
  EXPECT_NE(EVP_MD_get0_provider(sha256()), nullptr);
  EXPECT_NE(EVP_MD_get0_provider(sha1()), nullptr);
  EXPECT_EQ(aes_256_gcm(), aes_256_gcm());
  EXPECT_EQ(sha256(), sha256());
  EXPECT_EQ(sha1(), sha1());
}

TEST(Algorithms, AreTheOnesAsked) {
  EXPECT_TRUE(EVP_CIPHER_is_a(aes_256_gcm(), "AES-256-GCM"));
  EXPECT_EQ(EVP_CIPHER_get_key_length(aes_256_gcm()), 32);
  EXPECT_EQ(EVP_CIPHER_get_mode(aes_256_gcm()), EVP_CIPH_GCM_MODE);
  EXPECT_TRUE(EVP_MD_is_a(sha256(), "SHA256"));
  EXPECT_EQ(EVP_MD_get_size(sha256()), 32);
  EXPECT_TRUE(EVP_MD_is_a(sha1(), "SHA1"));
  EXPECT_EQ(EVP_MD_get_size(sha1()), 20);
}

}  // namespace
}  // namespace tmc::crypto::detail

// AES-256-GCM: NIST known answer, round trips, and rejection of every kind of tampering.
#include "crypto/aead.hpp"

#include <gtest/gtest.h>

#include <string>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

std::string from_hex(std::string_view hex) { return hex_decode(hex).value(); }

TEST(Aead, MatchesGcmSpecTestCase13And14) {
  // McGrew & Viega GCM test cases 13 and 14: 256-bit zero key, zero nonce.
  const std::string key(32, '\0');
  const std::string nonce(12, '\0');
  EXPECT_EQ(hex_encode(seal_with_nonce(key, nonce, "")), "530f8afbc74536b9a963b4f1c4cb738b");
  EXPECT_EQ(hex_encode(seal_with_nonce(key, nonce, std::string(16, '\0'))),
            "cea7403d4d606b6e074ec5d3baf39d18"
            "d0d1c8a799996bf0265b98b5d48ab919");
  EXPECT_EQ(open_with_nonce(key, nonce, from_hex("530f8afbc74536b9a963b4f1c4cb738b")),
            std::string());
}

TEST(Aead, RoundTripsWithAndWithoutAad) {
  const std::string key = random_bytes(aead_key_size);
  for (const std::string& plaintext : {std::string(), std::string("x"), random_bytes(1000)}) {
    const std::string sealed = seal(key, plaintext, "consultation 42");
    EXPECT_EQ(sealed.size(), plaintext.size() + aead_overhead);
    EXPECT_EQ(open(key, sealed, "consultation 42"), plaintext);
  }
  EXPECT_EQ(open(key, seal(key, "note")), "note");
}

TEST(Aead, RandomNonceMakesEachSealDifferent) {
  const std::string key = random_bytes(aead_key_size);
  EXPECT_NE(seal(key, "same"), seal(key, "same"));
}

TEST(Aead, AnyFlippedBitFails) {
  const std::string key = random_bytes(aead_key_size);
  const std::string sealed = seal(key, "patient summary", "aad");
  for (std::size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = sealed;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      ASSERT_FALSE(open(key, tampered, "aad")) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(Aead, WrongAadOrKeyFails) {
  const std::string key = random_bytes(aead_key_size);
  const std::string sealed = seal(key, "body", "file 1 chunk 0");
  EXPECT_FALSE(open(key, sealed, "file 1 chunk 1"));
  EXPECT_FALSE(open(key, sealed));
  EXPECT_FALSE(open(random_bytes(aead_key_size), sealed, "file 1 chunk 0"));
}

TEST(Aead, TruncatedOrExtendedInputFails) {
  const std::string key = random_bytes(aead_key_size);
  const std::string sealed = seal(key, "some plaintext", "aad");
  for (std::size_t length = 0; length < sealed.size(); ++length) {
    ASSERT_FALSE(open(key, sealed.substr(0, length), "aad")) << length;
  }
  EXPECT_FALSE(open(key, sealed + "x", "aad"));
  EXPECT_FALSE(open(key, sealed.substr(1), "aad"));
}

TEST(Aead, ExplicitNonceVariantsRoundTripAndBindTheNonce) {
  const std::string key = random_bytes(aead_key_size);
  const std::string nonce = random_bytes(aead_nonce_size);
  const std::string sealed = seal_with_nonce(key, nonce, "segment 7", "file-id:7");
  EXPECT_EQ(sealed.size(), 9 + aead_tag_size);
  EXPECT_EQ(open_with_nonce(key, nonce, sealed, "file-id:7"), "segment 7");
  std::string other_nonce = nonce;
  other_nonce[11] = static_cast<char>(other_nonce[11] ^ 1);
  EXPECT_FALSE(open_with_nonce(key, other_nonce, sealed, "file-id:7"));
  EXPECT_FALSE(open_with_nonce(key, nonce, sealed.substr(0, aead_tag_size - 1), "file-id:7"));
}

TEST(Aead, WrongKeyOrNonceSizeIsAProgrammingError) {
  EXPECT_THROW(static_cast<void>(seal(std::string(16, 'k'), "x")), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(open(std::string(31, 'k'), std::string(40, 's'))),
               std::invalid_argument);
  EXPECT_THROW(static_cast<void>(seal_with_nonce(std::string(32, 'k'), "short", "x")),
               std::invalid_argument);
}

}  // namespace
}  // namespace tmc::crypto

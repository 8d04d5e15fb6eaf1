// Hex, base64url and base32 codecs: RFC 4648 vectors, round trips and strict rejection.
#include "crypto/encoding.hpp"

#include <gtest/gtest.h>

#include <string>

#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

std::string all_byte_values() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  return bytes;
}

TEST(Hex, EncodesLowerCaseAndDecodesEitherCase) {
  EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(hex_decode("0001ABff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(hex_decode(""), std::string());
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
  EXPECT_FALSE(hex_decode("0g"));
  EXPECT_FALSE(hex_decode(" 0"));
}

TEST(Hex, RoundTripsEveryByteValue) {
  const std::string bytes = all_byte_values();
  EXPECT_EQ(hex_decode(hex_encode(bytes)), bytes);
}

TEST(Base64Url, MatchesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
}

TEST(Base64Url, RoundTripsEveryLength) {
  const std::string bytes = all_byte_values() + random_bytes(100);
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    const std::string piece = bytes.substr(0, length);
    ASSERT_EQ(base64url_decode(base64url_encode(piece)), piece) << length;
  }
}

TEST(Base64Url, RejectsPaddingForeignCharactersAndNonCanonicalInput) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("Zm9v+A"));  // standard alphabet, not URL-safe
  EXPECT_FALSE(base64url_decode("Zm9v/A"));
  EXPECT_FALSE(base64url_decode("Z"));   // a lone character cannot hold a byte
  EXPECT_FALSE(base64url_decode("Zh"));  // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("Zm 8"));
}

TEST(Base32, MatchesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base32_encode(""), "");
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_encode("fo"), "MZXQ");
  EXPECT_EQ(base32_encode("foo"), "MZXW6");
  EXPECT_EQ(base32_encode("foob"), "MZXW6YQ");
  EXPECT_EQ(base32_encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32, DecodesPaddedAndLowerCaseAndRoundTrips) {
  EXPECT_EQ(base32_decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(base32_decode("mzxw6ytboi"), "foobar");
  const std::string bytes = all_byte_values();
  for (std::size_t length = 0; length <= 40; ++length) {
    const std::string piece = bytes.substr(length, length);
    ASSERT_EQ(base32_decode(base32_encode(piece)), piece) << length;
  }
  EXPECT_FALSE(base32_decode("M"));
  EXPECT_FALSE(base32_decode("MZ1Q"));  // '1' is not in the alphabet
  EXPECT_FALSE(base32_decode("MZ"));    // non-zero trailing bits
}

}  // namespace
}  // namespace tmc::crypto

// Session tokens: format, uniqueness and the stored hash.
#include "crypto/token.hpp"

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace tmc::crypto {
namespace {

TEST(SessionToken, Is32RandomBytesInBase64Url) {
  const std::string token = new_session_token();
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(base64url_decode(token).value_or("").size(), 32u);
  EXPECT_NE(new_session_token(), token);
}

TEST(SessionToken, HashIsSha256OfTheToken) {
  const std::string token = new_session_token();
  EXPECT_EQ(token_hash(token), sha256(token));
  EXPECT_EQ(token_hash(token).size(), 32u);
  EXPECT_NE(token_hash(token), token_hash(new_session_token()));
}

}  // namespace
}  // namespace tmc::crypto

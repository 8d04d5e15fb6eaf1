// scrypt password hashing: round trips, encoding, parameter parsing and malformed input.
#include "crypto/password.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/encoding.hpp"

namespace tmc::crypto {
namespace {

// Small cost so the suite stays fast; production() is exercised only for its values.
const ScryptParams fast{std::uint64_t{1} << 10, 8, 1};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

TEST(Password, ProductionParamsFollowOwasp) {
  const ScryptParams production = ScryptParams::production();
  EXPECT_EQ(production.n, std::uint64_t{1} << 17);
  EXPECT_EQ(production.r, 8u);
  EXPECT_EQ(production.p, 1u);
  EXPECT_TRUE(production.valid());
}

TEST(Password, ProductionCostFitsOpenSslMemoryLimit) {
  // 128 MiB, above OpenSSL's 32 MiB default cap: proves the cap is raised to match the params.
  const std::string encoded = hash_password("pw", ScryptParams::production());
  EXPECT_EQ(encoded.substr(0, 14), "scrypt$17$8$1$");
  EXPECT_TRUE(verify_password("pw", encoded));
  EXPECT_FALSE(needs_rehash(encoded, ScryptParams::production()));
}

TEST(Password, HashVerifiesAndWrongPasswordFails) {
  const std::string encoded = hash_password("correct horse battery staple", fast);
  EXPECT_TRUE(verify_password("correct horse battery staple", encoded));
  EXPECT_FALSE(verify_password("correct horse battery stapl", encoded));
  EXPECT_FALSE(verify_password("Correct horse battery staple", encoded));
  EXPECT_FALSE(verify_password("", encoded));
}

TEST(Password, EmptyAndBinaryPasswordsWork) {
  const std::string empty = hash_password("", fast);
  EXPECT_TRUE(verify_password("", empty));
  EXPECT_FALSE(verify_password("x", empty));
  const std::string binary("pa\0ss\xff", 6);
  const std::string encoded = hash_password(binary, fast);
  EXPECT_TRUE(verify_password(binary, encoded));
  EXPECT_FALSE(verify_password("pa", encoded));  // no truncation at the NUL byte
}

TEST(Password, EncodingIsSelfDescribingWithFreshSalt) {
  const std::string encoded = hash_password("pw", fast);
  const auto fields = split(encoded, '$');
  ASSERT_EQ(fields.size(), 6u);
  EXPECT_EQ(fields[0], "scrypt");
  EXPECT_EQ(fields[1], "10");
  EXPECT_EQ(fields[2], "8");
  EXPECT_EQ(fields[3], "1");
  EXPECT_EQ(base64url_decode(fields[4]).value_or("").size(), 16u);
  EXPECT_EQ(base64url_decode(fields[5]).value_or("").size(), 32u);
  EXPECT_NE(hash_password("pw", fast), encoded);  // a new salt every time
}

TEST(Password, ParamsAreParsedFromTheEncodedForm) {
  const ScryptParams other{std::uint64_t{1} << 11, 4, 2};
  const std::string encoded = hash_password("pw", other);
  EXPECT_EQ(password_params(encoded), other);
  EXPECT_TRUE(verify_password("pw", encoded));  // verification uses the stored parameters
  EXPECT_FALSE(needs_rehash(encoded, other));
  EXPECT_TRUE(needs_rehash(encoded, fast));
  EXPECT_TRUE(needs_rehash("garbage", fast));
}

TEST(Password, MalformedEncodingsAreFalseNotErrors) {
  const std::string good = hash_password("pw", fast);
  const auto fields = split(good, '$');
  const std::string salt = fields[4];
  const std::string hash = fields[5];
  const std::vector<std::string> malformed = {
      "",
      "scrypt",
      "scrypt$$$$$",
      "bcrypt$10$8$1$" + salt + "$" + hash,
      "scrypt$10$8$1$" + salt,
      "scrypt$10$8$1$" + salt + "$" + hash + "$extra",
      "scrypt$10$8$1$" + salt + "$" + hash + "=",
      "scrypt$x$8$1$" + salt + "$" + hash,
      "scrypt$-1$8$1$" + salt + "$" + hash,
      "scrypt$+10$8$1$" + salt + "$" + hash,
      "scrypt$0$8$1$" + salt + "$" + hash,
      "scrypt$64$8$1$" + salt + "$" + hash,
      "scrypt$99999999999$8$1$" + salt + "$" + hash,
      "scrypt$40$8$1$" + salt + "$" + hash,  // would need terabytes: refused, not attempted
      "scrypt$10$0$1$" + salt + "$" + hash,
      "scrypt$10$8$0$" + salt + "$" + hash,
      "scrypt$10$8$1000$" + salt + "$" + hash,
      "scrypt$10$8$1$!!$" + hash,
      "scrypt$10$8$1$" + salt + "$" + hash.substr(0, 10),  // hash too short
      "scrypt$10$8$1$$" + hash,                            // no salt
      std::string("scrypt$10$8$1$") + '\0' + "$" + hash,
  };
  for (const std::string& encoded : malformed) {
    EXPECT_FALSE(verify_password("pw", encoded)) << encoded;
    EXPECT_FALSE(password_params(encoded)) << encoded;
  }
}

TEST(Password, TamperedHashOrSaltFails) {
  const std::string good = hash_password("pw", fast);
  auto fields = split(good, '$');
  std::string hash = *base64url_decode(fields[5]);
  hash[0] = static_cast<char>(hash[0] ^ 1);
  EXPECT_FALSE(verify_password("pw", "scrypt$10$8$1$" + fields[4] + "$" + base64url_encode(hash)));
  std::string salt = *base64url_decode(fields[4]);
  salt[3] = static_cast<char>(salt[3] ^ 0x80);
  EXPECT_FALSE(verify_password("pw", "scrypt$10$8$1$" + base64url_encode(salt) + "$" + fields[5]));
  // Different cost parameters produce a different hash.
  EXPECT_FALSE(verify_password("pw", "scrypt$11$8$1$" + fields[4] + "$" + fields[5]));
}

TEST(Password, InvalidParamsAreRejectedWhenHashing) {
  EXPECT_THROW(static_cast<void>(hash_password("pw", ScryptParams{1000, 8, 1})),
               std::invalid_argument);
  EXPECT_THROW(static_cast<void>(hash_password("pw", ScryptParams{1024, 0, 1})),
               std::invalid_argument);
  EXPECT_THROW(dummy_verify("", ScryptParams{1024, 8, 0}), std::invalid_argument);
}

TEST(Password, DummyVerifyRunsWithTheGivenParams) {
  EXPECT_NO_THROW(dummy_verify("password", fast));
}

}  // namespace
}  // namespace tmc::crypto

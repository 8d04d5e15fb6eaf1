// TOTP: RFC 4226/6238 known answers, verification window, single-use steps and the URI.
#include "crypto/totp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tmc::crypto {
namespace {

const std::string rfc_secret = "12345678901234567890";

TEST(Totp, MatchesRfc4226HotpVectors) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(hotp_code(rfc_secret, counter), expected[counter]) << counter;
  }
}

TEST(Totp, MatchesRfc6238Sha1Vectors) {
  const struct {
    std::int64_t time;
    const char* code;
  } vectors[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
                 {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& vector : vectors) {
    EXPECT_EQ(totp_code(rfc_secret, vector.time, 8), vector.code) << vector.time;
    // The default 6 digits are the last 6 of the 8-digit value.
    EXPECT_EQ(totp_code(rfc_secret, vector.time), std::string(vector.code).substr(2));
  }
}

TEST(Totp, StepFloorsIncludingBeforeTheEpoch) {
  EXPECT_EQ(totp_step(0), 0);
  EXPECT_EQ(totp_step(29), 0);
  EXPECT_EQ(totp_step(30), 1);
  EXPECT_EQ(totp_step(-1), -1);
}

TEST(Totp, VerifyAcceptsTheWindowAndReturnsTheMatchedStep) {
  const std::int64_t now = 1111111111;  // step 37037037
  const std::int64_t step = totp_step(now);
  EXPECT_EQ(totp_verify(rfc_secret, totp_code(rfc_secret, now), now), step);
  EXPECT_EQ(totp_verify(rfc_secret, totp_code(rfc_secret, now - 30), now), step - 1);
  EXPECT_EQ(totp_verify(rfc_secret, totp_code(rfc_secret, now + 30), now), step + 1);
  EXPECT_FALSE(totp_verify(rfc_secret, totp_code(rfc_secret, now - 60), now));
  EXPECT_FALSE(totp_verify(rfc_secret, totp_code(rfc_secret, now + 60), now));
  EXPECT_EQ(totp_verify(rfc_secret, totp_code(rfc_secret, now - 60), now, 2), step - 2);
  EXPECT_FALSE(totp_verify(rfc_secret, totp_code(rfc_secret, now - 30), now, 0));
}

TEST(Totp, VerifyRejectsWrongAndMalformedCodes) {
  const std::int64_t now = 1234567890;
  const std::string good = totp_code(rfc_secret, now);
  std::string wrong = good;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  EXPECT_FALSE(totp_verify(rfc_secret, wrong, now));
  EXPECT_FALSE(totp_verify(rfc_secret, "", now));
  EXPECT_FALSE(totp_verify(rfc_secret, good.substr(0, 5), now));
  EXPECT_FALSE(totp_verify(rfc_secret, good + "0", now));
  EXPECT_FALSE(totp_verify(rfc_secret, "12a456", now));
  EXPECT_FALSE(totp_verify(rfc_secret, " " + good.substr(1), now));
  EXPECT_FALSE(totp_verify("another secret", good, now));
}

TEST(Totp, NewSecretsAreRandom160Bit) {
  EXPECT_EQ(new_totp_secret().size(), 20u);
  EXPECT_NE(new_totp_secret(), new_totp_secret());
}

TEST(Totp, UriCarriesBase32SecretAndEscapedLabels) {
  EXPECT_EQ(totp_uri(rfc_secret, "dr.li@county.example", "Tele Med"),
            "otpauth://totp/Tele%20Med:dr.li%40county.example"
            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tele%20Med"
            "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace tmc::crypto

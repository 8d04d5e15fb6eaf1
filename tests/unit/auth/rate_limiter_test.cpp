// TokenBucket and per-address admission, driven by explicit instants.
#include "domain/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;

const SteadyTime start{std::chrono::hours(1000)};

TEST(TokenBucket, AllowsTheBurstThenTheRate) {
  TokenBucket bucket(10, 20, start);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(bucket.try_take(start)) << i;
  EXPECT_FALSE(bucket.try_take(start));
  EXPECT_DOUBLE_EQ(bucket.seconds_until_available(start), 0.1);
  EXPECT_FALSE(bucket.try_take(start + 50ms));
  EXPECT_TRUE(bucket.try_take(start + 100ms));
  EXPECT_FALSE(bucket.try_take(start + 100ms));
  // Refills up to the burst only.
  EXPECT_DOUBLE_EQ(bucket.tokens(start + 1h), 20);
}

TEST(TokenBucket, IgnoresTimeGoingBackwards) {
  TokenBucket bucket(1, 1, start);
  EXPECT_TRUE(bucket.try_take(start));
  EXPECT_FALSE(bucket.try_take(start - 10s));
  EXPECT_TRUE(bucket.try_take(start + 1s));
}

TEST(AddressAdmission, LimitsLiveConnectionsPerAddress) {
  auto admission = std::make_shared<AddressAdmission>(AddressLimits{2, 0, 0});
  auto first = admission->admit("10.0.0.1", start);
  auto second = admission->admit("10.0.0.1", start);
  ASSERT_TRUE(first.ticket && second.ticket);
  const auto third = admission->admit("10.0.0.1", start);
  EXPECT_FALSE(third.ticket);
  EXPECT_EQ(third.refusal, AddressAdmission::Refusal::too_many_connections);
  EXPECT_TRUE(admission->admit("10.0.0.2", start).ticket);  // other addresses unaffected
  first.ticket.reset();  // that connection ended
  EXPECT_EQ(admission->live("10.0.0.1"), 1u);
  EXPECT_TRUE(admission->admit("10.0.0.1", start).ticket);
}

TEST(AddressAdmission, LimitsTheRateOfNewConnections) {
  auto admission = std::make_shared<AddressAdmission>(AddressLimits{0, 5, 10});
  std::vector<std::shared_ptr<AddressAdmission::Ticket>> held;
  for (int i = 0; i < 10; ++i) {
    auto decision = admission->admit("10.0.0.1", start);
    ASSERT_TRUE(decision.ticket) << i;
    held.push_back(decision.ticket);
  }
  const auto refused = admission->admit("10.0.0.1", start);
  EXPECT_EQ(refused.refusal, AddressAdmission::Refusal::too_fast);
  const auto later = admission->admit("10.0.0.1", start + 200ms);
  EXPECT_TRUE(later.ticket);
  EXPECT_EQ(admission->live("10.0.0.1"), 11u);
}

TEST(AddressWithoutPort, StripsThePort) {
  EXPECT_EQ(address_without_port("10.1.2.3:443"), "10.1.2.3");
  EXPECT_EQ(address_without_port("[2001:db8::1]:8443"), "2001:db8::1");
  EXPECT_EQ(address_without_port("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(address_without_port("unknown"), "unknown");
}

}  // namespace
}  // namespace tmc::domain

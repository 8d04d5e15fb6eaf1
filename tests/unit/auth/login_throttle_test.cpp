// LoginThrottle: back-off per (account, address), hourly account cap, spraying per address.
#include "domain/login_throttle.hpp"

#include <gtest/gtest.h>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;

class LoginThrottleTest : public ::testing::Test {
 protected:
  ManualClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};

  static void fail(LoginThrottle& throttle, const std::string& account,
                   const std::string& address, int times) {
    for (int i = 0; i < times; ++i) {
      ASSERT_EQ(throttle.refusal(account, address), std::nullopt) << "attempt " << i;
      throttle.record_failure(account, address);
    }
  }
};

TEST_F(LoginThrottleTest, BacksOffAfterFiveFailuresAndDoubles) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  fail(throttle, "alice", "10.0.0.1", 4);
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), std::nullopt);
  throttle.record_failure("alice", "10.0.0.1");  // the fifth
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), 1s);
  clock_.advance(1s);
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), std::nullopt);
  throttle.record_failure("alice", "10.0.0.1");
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), 2s);
  clock_.advance(2s);
  throttle.record_failure("alice", "10.0.0.1");
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), 4s);
  clock_.advance(1500ms);
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), 3s);  // 2.5 s left, rounded up
}

TEST_F(LoginThrottleTest, BackOffIsCappedAtTheMaximum) {
  ThrottleOptions options;
  options.max_backoff = 60s;
  LoginThrottle throttle(clock_, options);
  for (int i = 0; i < 40; ++i) {
    clock_.advance(61s);
    throttle.record_failure("alice", "10.0.0.1");
  }
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), 60s);
}

TEST_F(LoginThrottleTest, SuccessResetsTheBackOff) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  fail(throttle, "alice", "10.0.0.1", 5);
  clock_.advance(1s);
  throttle.record_success("alice", "10.0.0.1");
  fail(throttle, "alice", "10.0.0.1", 4);  // a fresh count: four more are free again
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), std::nullopt);
}

TEST_F(LoginThrottleTest, AnotherAddressIsNotBackedOff) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  for (int i = 0; i < 8; ++i) throttle.record_failure("alice", "203.0.113.9");
  EXPECT_NE(throttle.refusal("alice", "203.0.113.9"), std::nullopt);
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), std::nullopt);
  EXPECT_EQ(throttle.refusal("bob", "203.0.113.9"), std::nullopt);
}

TEST_F(LoginThrottleTest, CapsFailuresPerAccountPerHour) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  // An attacker spreads 100 failures over many addresses (no back-off anywhere).
  for (int i = 0; i < 100; ++i) {
    fail(throttle, "alice", "198.51.100." + std::to_string(i), 1);
  }
  const auto refused = throttle.refusal("alice", "198.51.100.200");
  ASSERT_NE(refused, std::nullopt);
  EXPECT_EQ(*refused, 3600s);
  EXPECT_EQ(throttle.refusal("bob", "198.51.100.200"), std::nullopt);  // other accounts unaffected
  clock_.advance(1h);
  EXPECT_EQ(throttle.refusal("alice", "198.51.100.200"), std::nullopt);  // the window moved on
}

TEST_F(LoginThrottleTest, CapDoesNotLockTheUserOutOfTheirOwnAddress) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  const std::string hospital = "10.20.0.1";
  throttle.record_success("alice", hospital);  // alice signs in from her hospital
  clock_.advance(1min);
  for (int i = 0; i < 150; ++i) {
    throttle.record_failure("alice", "198.51.100." + std::to_string(i % 250));
  }
  EXPECT_NE(throttle.refusal("alice", "198.51.100.251"), std::nullopt);
  EXPECT_EQ(throttle.refusal("alice", hospital), std::nullopt);
  // An attacker behind the same hospital address only costs alice the back-off.
  for (int i = 0; i < 6; ++i) throttle.record_failure("alice", hospital);
  const auto refused = throttle.refusal("alice", hospital);
  ASSERT_NE(refused, std::nullopt);
  EXPECT_LE(*refused, 2s);
  clock_.advance(*refused);
  EXPECT_EQ(throttle.refusal("alice", hospital), std::nullopt);
}

TEST_F(LoginThrottleTest, BacksOffAnAddressThatSpraysManyAccounts) {
  ThrottleOptions options;
  options.address_backoff_after = 10;
  LoginThrottle throttle(clock_, options);
  for (int i = 0; i < 10; ++i) fail(throttle, "user" + std::to_string(i), "203.0.113.7", 1);
  EXPECT_EQ(throttle.refusal("someone-else", "203.0.113.7"), 1s);
  EXPECT_EQ(throttle.refusal("someone-else", "10.0.0.1"), std::nullopt);
}

TEST_F(LoginThrottleTest, ForgetsFailuresAfterTheWindow) {
  LoginThrottle throttle(clock_, ThrottleOptions{});
  fail(throttle, "alice", "10.0.0.1", 4);
  clock_.advance(2h);
  fail(throttle, "alice", "10.0.0.1", 4);
  EXPECT_EQ(throttle.refusal("alice", "10.0.0.1"), std::nullopt);
}

TEST_F(LoginThrottleTest, RefusalsAreRecordedUpToTheBudgetThenCountedAndHandedBack) {
  RefusalAuditBudget budget(clock_, 3);
  std::vector<bool> recorded;
  for (int i = 0; i < 5; ++i) {
    const auto decision = budget.take("10.0.0.1");
    recorded.push_back(decision.record);
    EXPECT_TRUE(decision.not_recorded.empty());
  }
  EXPECT_EQ(recorded, (std::vector<bool>{true, true, true, false, false}));
  EXPECT_TRUE(budget.take("10.0.0.2").record);  // each address has its own budget

  clock_.advance(1min);
  // The ended window's count comes back with the next refusal, whichever address it is from.
  const auto next = budget.take("10.0.0.2");
  EXPECT_TRUE(next.record);
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(next.not_recorded, (Counts{{"10.0.0.1", 2}}));
  const auto again = budget.take("10.0.0.1");  // handed back once only
  EXPECT_TRUE(again.record);
  EXPECT_TRUE(again.not_recorded.empty());

}

// The timer's way: counts come back once their window has ended (or at once when all are asked
// for, at shutdown), without waiting for another refusal, and only once.
TEST_F(LoginThrottleTest, CountsAreHandedBackByTheTimerOnce) {
  RefusalAuditBudget budget(clock_, 1);
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;
  for (int i = 0; i < 3; ++i) budget.take("10.0.0.1");
  EXPECT_TRUE(budget.take_counts().empty());  // the minute is not over
  clock_.advance(1min);
  EXPECT_EQ(budget.take_counts(), (Counts{{"10.0.0.1", 2}}));
  EXPECT_TRUE(budget.take("10.0.0.1").not_recorded.empty());
  EXPECT_FALSE(budget.take("10.0.0.1").record);
  EXPECT_EQ(budget.take_counts(true), (Counts{{"10.0.0.1", 1}}));
  EXPECT_TRUE(budget.take_counts(true).empty());
}

// A window that ends between two sweeps is handed back by its own address's next refusal.
TEST_F(LoginThrottleTest, AnAddressHandsBackItsOwnEndedWindowBetweenSweeps) {
  RefusalAuditBudget budget(clock_, 1);
  EXPECT_TRUE(budget.take("10.0.0.9").record);  // sweeps, at t
  clock_.advance(30s);
  EXPECT_TRUE(budget.take("10.0.0.1").record);  // 10.0.0.1's window: t + 30 s
  EXPECT_FALSE(budget.take("10.0.0.1").record);
  clock_.advance(30s);
  EXPECT_TRUE(budget.take("10.0.0.9").record);  // sweeps at t + 60 s: 10.0.0.1's window stays
  clock_.advance(35s);
  const auto own = budget.take("10.0.0.1");  // no sweep before t + 120 s
  EXPECT_TRUE(own.record);
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(own.not_recorded, (Counts{{"10.0.0.1", 1}}));
}

}  // namespace
}  // namespace tmc::domain

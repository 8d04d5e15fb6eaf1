// Routing deadlines driven by a ManualClock: escalate at the first, expire at the second.
#include "domain/deadlines.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;
using store::ConsultationState;
using store::Urgency;

constexpr TimePoint kStart{std::chrono::microseconds(1'700'000'000'000'000)};

// Follows one consultation through its deadlines the way the scheduler would.
class DeadlineWalk : public ::testing::Test {
 protected:
  void offer(Urgency urgency) {
    consultation_.urgency = urgency;
    consultation_.state = ConsultationState::offered;
    consultation_.respond_by = policy_.first_deadline(urgency, clock_.now());
  }

  std::optional<ConsultationAction> due() const {
    return next_deadline_action(consultation_, clock_.now());
  }

  // What the service does on escalation: decide, then set the second deadline.
  void escalate() {
    auto outcome = decide(consultation_.state, ConsultationAction::escalate, Actor::system(),
                          DecisionContext{1, 0, consultation_.escalated});
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    consultation_.state = outcome->next;
    consultation_.escalated = true;
    consultation_.respond_by = policy_.second_deadline(consultation_.urgency, clock_.now());
  }

  DeadlinePolicy policy_;
  ManualClock clock_{kStart};
  store::Consultation consultation_;
};

TEST_F(DeadlineWalk, EmergencyEscalatesAfterFifteenMinutesThenExpires) {
  offer(Urgency::emergency);
  EXPECT_EQ(due(), std::nullopt);
  clock_.advance(15min - 1us);
  EXPECT_EQ(due(), std::nullopt);
  clock_.advance(1us);
  EXPECT_EQ(due(), ConsultationAction::escalate);

  escalate();
  EXPECT_EQ(consultation_.respond_by, kStart + 30min);
  EXPECT_EQ(due(), std::nullopt);
  clock_.advance(14min);
  EXPECT_EQ(due(), std::nullopt);
  clock_.advance(1min);
  EXPECT_EQ(due(), ConsultationAction::expire);

  auto outcome = decide(consultation_.state, ConsultationAction::expire, Actor::system());
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->next, ConsultationState::expired);
  consultation_.state = outcome->next;
  clock_.advance(1h);
  EXPECT_EQ(due(), std::nullopt);  // terminal: nothing more to do
}

TEST_F(DeadlineWalk, DefaultPeriodsPerUrgency) {
  EXPECT_EQ(policy_.first_deadline(Urgency::urgent, kStart), kStart + 2h);
  EXPECT_EQ(policy_.first_deadline(Urgency::routine, kStart), kStart + 48h);
  EXPECT_EQ(policy_.first_deadline(Urgency::unspecified, kStart), kStart + 48h);
}

TEST_F(DeadlineWalk, ConfiguredPeriodsAreUsed) {
  policy_.urgent = 10min;
  offer(Urgency::urgent);
  clock_.advance(10min);
  EXPECT_EQ(due(), ConsultationAction::escalate);
}

TEST_F(DeadlineWalk, OverdueAfterRestartStillEscalatesFirst) {
  offer(Urgency::emergency);
  clock_.advance(3h);  // server was down past both would-be deadlines
  EXPECT_EQ(due(), ConsultationAction::escalate);
}

TEST_F(DeadlineWalk, NothingOnceAccepted) {
  offer(Urgency::emergency);
  consultation_.state = ConsultationState::accepted;
  clock_.advance(1h);
  EXPECT_EQ(due(), std::nullopt);
}

TEST_F(DeadlineWalk, RequestedWithoutCandidatesEscalatesToo) {
  offer(Urgency::urgent);
  consultation_.state = ConsultationState::requested;  // nobody eligible at opening
  clock_.advance(2h);
  EXPECT_EQ(due(), ConsultationAction::escalate);
  escalate();
  EXPECT_EQ(consultation_.state, ConsultationState::offered);  // widening found someone
}

TEST_F(DeadlineWalk, NoDeadlineNoAction) {
  consultation_.state = ConsultationState::offered;
  clock_.advance(1000h);
  EXPECT_EQ(due(), std::nullopt);
}

TEST(DeadlinePolicy, ValidateRejectsNonPositivePeriods) {
  DeadlinePolicy policy;
  EXPECT_TRUE(validate(policy).has_value());
  policy.emergency = 0s;
  auto status = validate(policy);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, Code::invalid_argument);
}

}  // namespace
}  // namespace tmc::domain

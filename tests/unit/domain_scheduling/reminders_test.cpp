// Appointment reminders: due exactly at the lead time, once each, sensible after downtime.
#include "domain/reminders.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;
using std::chrono::minutes;

constexpr TimePoint kStart{std::chrono::microseconds(1'796'000'000'000'000)};

const ReminderPolicy kPolicy{};  // 24 h and 15 min

TEST(Reminders, DefaultPolicyIsTwentyFourHoursAndFifteenMinutes) {
  EXPECT_EQ(kPolicy.lead_times, (std::vector<minutes>{24h, 15min}));
  EXPECT_TRUE(validate(kPolicy).has_value());
}

TEST(Reminders, DueAtExactlyTheLeadTimeNotAMicrosecondEarlier) {
  EXPECT_TRUE(due_reminders(kStart, kStart - 24h - 1s, {}, kPolicy).empty());
  EXPECT_TRUE(due_reminders(kStart, kStart - 24h - 1us, {}, kPolicy).empty());

  const DueReminders due = due_reminders(kStart, kStart - 24h, {}, kPolicy);
  EXPECT_EQ(due.send, minutes(24h));
  EXPECT_EQ(due.mark_sent, (std::vector<minutes>{24h}));
}

TEST(Reminders, AlreadySentIsNotDueAgain) {
  const std::vector<minutes> sent{24h};
  EXPECT_TRUE(due_reminders(kStart, kStart - 24h, sent, kPolicy).empty());
  EXPECT_TRUE(due_reminders(kStart, kStart - 1h, sent, kPolicy).empty());

  const DueReminders due = due_reminders(kStart, kStart - 15min, sent, kPolicy);
  EXPECT_EQ(due.send, minutes(15min));
  EXPECT_EQ(due.mark_sent, (std::vector<minutes>{15min}));
  EXPECT_TRUE(due_reminders(kStart, kStart - 1min, {24h, 15min}, kPolicy).empty());
}

TEST(Reminders, AfterDowntimeOnlyTheNearestOverdueOneIsSentAndBothAreRecorded) {
  // The server was down from two days before until ten minutes before the start.
  const DueReminders due = due_reminders(kStart, kStart - 10min, {}, kPolicy);
  EXPECT_EQ(due.send, minutes(15min));
  EXPECT_EQ(due.mark_sent, (std::vector<minutes>{15min, 24h}));

  // Back up between the two lead times: the overdue 24-hour one is still sent once.
  const DueReminders overdue = due_reminders(kStart, kStart - 3h, {}, kPolicy);
  EXPECT_EQ(overdue.send, minutes(24h));
  EXPECT_EQ(overdue.mark_sent, (std::vector<minutes>{24h}));
}

TEST(Reminders, StaleLargerLeadAfterASentSmallerOneIsRecordedSilently) {
  // E.g. the 24-hour lead time was added to the config after the 15-minute reminder went out.
  const DueReminders due = due_reminders(kStart, kStart - 5min, {15min}, kPolicy);
  EXPECT_FALSE(due.send.has_value());
  EXPECT_EQ(due.mark_sent, (std::vector<minutes>{24h}));
}

TEST(Reminders, NothingIsDueOnceTheAppointmentStarted) {
  EXPECT_TRUE(due_reminders(kStart, kStart, {}, kPolicy).empty());
  EXPECT_TRUE(due_reminders(kStart, kStart + 1h, {}, kPolicy).empty());
  EXPECT_FALSE(next_reminder_time(kStart, kStart, {}, kPolicy).has_value());
}

TEST(Reminders, NextReminderTimeWalksThroughTheLeadTimes) {
  const TimePoint booked_at = kStart - 72h;
  EXPECT_EQ(next_reminder_time(kStart, booked_at, {}, kPolicy), kStart - 24h);
  EXPECT_EQ(next_reminder_time(kStart, booked_at, {24h}, kPolicy), kStart - 15min);
  EXPECT_FALSE(next_reminder_time(kStart, booked_at, {24h, 15min}, kPolicy).has_value());
  // Overdue: reported in the past, i.e. due at once.
  EXPECT_EQ(next_reminder_time(kStart, kStart - 1h, {}, kPolicy), kStart - 24h);

  // Simulate the scheduler: each wake-up handles what is due, exactly once per lead time.
  std::vector<minutes> sent;
  std::vector<minutes> delivered;
  TimePoint now = booked_at;
  while (auto next = next_reminder_time(kStart, now, sent, kPolicy)) {
    now = std::max(now, *next);
    const DueReminders due = due_reminders(kStart, now, sent, kPolicy);
    ASSERT_FALSE(due.empty());
    if (due.send) delivered.push_back(*due.send);
    sent.insert(sent.end(), due.mark_sent.begin(), due.mark_sent.end());
  }
  EXPECT_EQ(delivered, (std::vector<minutes>{24h, 15min}));
}

TEST(Reminders, PolicyValidation) {
  EXPECT_TRUE(validate(ReminderPolicy{{}}).has_value());
  EXPECT_TRUE(validate(ReminderPolicy{{60min, 5min}}).has_value());
  EXPECT_EQ(validate(ReminderPolicy{{0min}}).error().message,
            "reminder lead time 0 minutes must be positive and at most 30 days");
  EXPECT_EQ(validate(ReminderPolicy{{minutes(31 * 24 * 60)}}).error().code, Code::invalid_argument);
  EXPECT_EQ(validate(ReminderPolicy{{15min, 15min}}).error().message,
            "reminder lead time 15 minutes is listed twice");
}

TEST(Reminders, CustomLeadTimesInAnyOrder) {
  const ReminderPolicy policy{{5min, 2h, 30min}};
  const DueReminders due = due_reminders(kStart, kStart - 20min, {}, policy);
  EXPECT_EQ(due.send, minutes(30min));
  EXPECT_EQ(due.mark_sent, (std::vector<minutes>{30min, 2h}));
  EXPECT_EQ(next_reminder_time(kStart, kStart - 20min, {30min, 2h}, policy), kStart - 5min);
}

}  // namespace
}  // namespace tmc::domain

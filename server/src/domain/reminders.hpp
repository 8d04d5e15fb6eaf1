// Appointment reminders: which lead times are due, exactly once each, robust to server downtime.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace tmc::domain {

// Lead times before an appointment's start at which its participants are reminded; filled by
// the app from config.
struct ReminderPolicy {
  std::vector<std::chrono::minutes> lead_times{std::chrono::hours(24), std::chrono::minutes(15)};
};

// INVALID_ARGUMENT unless every lead time is positive, at most 30 days and listed once.
// An empty list is valid: no reminders.
Status validate(const ReminderPolicy& policy);

// What the reminder scheduler must do for one appointment at one moment.
struct DueReminders {
  // Deliver one reminder for this lead time (to every participant; offline ones get it from
  // their queue on next login).
  std::optional<std::chrono::minutes> send;
  // Record all of these as handled for the appointment (includes `send`), in the same
  // transaction that queues the reminder, so each lead time is handled exactly once.
  std::vector<std::chrono::minutes> mark_sent;

  bool empty() const { return mark_sent.empty(); }
};

// The reminders due at `now` for an appointment starting at `starts_at`, given the lead times
// already recorded for it. A lead time L is due once now >= starts_at - L. Decisions:
// - nothing is due once the appointment has started (now >= starts_at): a reminder is useless
//   then, so none is sent and none recorded;
// - a reminder that became due while the server was down is still sent when it comes back
//   before the start;
// - of several due lead times only the nearest one (smallest L) is sent: after an outage,
//   "starts in 14 minutes" is the useful message, not a stale "starts in 24 hours" right before
//   it. The larger ones are recorded as handled without sending. If the nearest due one was
//   already sent, the others are recorded silently.
// Lead times not in the policy are ignored.
DueReminders due_reminders(TimePoint starts_at, TimePoint now,
                           const std::vector<std::chrono::minutes>& already_sent,
                           const ReminderPolicy& policy);

// When due_reminders() will next have work for this appointment: the earliest starts_at - L
// over the unrecorded lead times. It may lie before `now` (then: at once). nullopt once every
// lead time is recorded or the appointment has started (now >= starts_at).
std::optional<TimePoint> next_reminder_time(TimePoint starts_at, TimePoint now,
                                            const std::vector<std::chrono::minutes>& already_sent,
                                            const ReminderPolicy& policy);

}  // namespace tmc::domain

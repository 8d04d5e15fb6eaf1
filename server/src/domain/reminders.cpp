// Appointment reminders: which lead times are due, exactly once each, robust to server downtime.
#include "domain/reminders.hpp"

#include <algorithm>
#include <string>

namespace tmc::domain {
namespace {

using std::chrono::minutes;

constexpr minutes max_lead_time = std::chrono::days(30);

bool contains(const std::vector<minutes>& list, minutes value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The policy's usable lead times, deduplicated, smallest first.
std::vector<minutes> usable_lead_times(const ReminderPolicy& policy) {
  std::vector<minutes> leads;
  for (const minutes lead : policy.lead_times) {
    if (lead > minutes::zero() && !contains(leads, lead)) leads.push_back(lead);
  }
  std::sort(leads.begin(), leads.end());
  return leads;
}

}  // namespace

Status validate(const ReminderPolicy& policy) {
  std::vector<minutes> seen;
  for (const minutes lead : policy.lead_times) {
    if (lead <= minutes::zero() || lead > max_lead_time) {
      return make_error(Code::invalid_argument,
                        "reminder lead time " + std::to_string(lead.count()) +
                            " minutes must be positive and at most 30 days");
    }
    if (contains(seen, lead)) {
      return make_error(
          Code::invalid_argument,
          "reminder lead time " + std::to_string(lead.count()) + " minutes is listed twice");
    }
    seen.push_back(lead);
  }
  return ok();
}

DueReminders due_reminders(TimePoint starts_at, TimePoint now,
                           const std::vector<minutes>& already_sent, const ReminderPolicy& policy) {
  DueReminders due;
  if (now >= starts_at) return due;
  bool nearest = true;
  // Smallest lead first: the first due one is the nearest reminder.
  for (const minutes lead : usable_lead_times(policy)) {
    if (now < starts_at - lead) continue;
    const bool sent = contains(already_sent, lead);
    if (nearest && !sent) due.send = lead;
    if (!sent) due.mark_sent.push_back(lead);
    nearest = false;
  }
  return due;
}

std::optional<TimePoint> next_reminder_time(TimePoint starts_at, TimePoint now,
                                            const std::vector<minutes>& already_sent,
                                            const ReminderPolicy& policy) {
  if (now >= starts_at) return std::nullopt;
  std::optional<TimePoint> next;
  for (const minutes lead : usable_lead_times(policy)) {
    if (contains(already_sent, lead)) continue;
    const TimePoint at = starts_at - lead;
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace tmc::domain

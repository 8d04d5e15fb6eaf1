// Availability rules -> UTC slots (time-zone and DST aware), slot overlap checks.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/time_zone.hpp"  // format_local() & co. for callers that show slots

namespace tmc::domain {

// ISO weekday numbering; matches telemed.v1.Weekday (WEEKDAY_MONDAY = 1 ... WEEKDAY_SUNDAY = 7).
enum class Weekday { monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday };

// Limits enforced by validate_rule() and validate_slot().
inline constexpr int min_slot_minutes = 5;
inline constexpr int max_slot_minutes = 480;
inline constexpr int min_capacity = 1;
inline constexpr int max_capacity = 50;

// How far ahead rules are expanded into stored slot rows unless configured otherwise.
inline constexpr std::chrono::days default_slot_horizon{7 * 8};

// A recurring weekly availability in the specialist's own zone.
// local_start/local_end are "HH:MM" wall-clock times on each listed weekday (local_end may be
// "24:00"); the day is cut into back-to-back slots of slot_minutes from local_start, and a
// trailing remainder shorter than one slot is not offered. valid_from/valid_until are optional
// inclusive local dates "YYYY-MM-DD" (empty = unbounded).
struct AvailabilityRule {
  std::vector<Weekday> weekdays;
  std::string local_start;
  std::string local_end;
  std::string time_zone;  // IANA name, e.g. "Asia/Shanghai"
  int slot_minutes = 30;
  int capacity = 1;
  std::string valid_from;
  std::string valid_until;
};

// One bookable interval [starts_at, ends_at) in UTC.
struct SlotSpan {
  TimePoint starts_at;
  TimePoint ends_at;
  int capacity = 1;

  friend bool operator==(const SlotSpan&, const SlotSpan&) = default;
};

// INVALID_ARGUMENT naming the offending field: empty or out-of-range weekdays, malformed
// local_start/local_end, local_end not after local_start, slot_minutes outside 5..480, no whole
// slot between start and end, capacity outside 1..50, unknown time zone, malformed dates,
// valid_until before valid_from.
Status validate_rule(const AvailabilityRule& rule);

// INVALID_ARGUMENT unless ends_at is after starts_at, the length is within 5..480 minutes and
// the capacity within 1..50 (for single slots published without a rule).
Status validate_slot(const SlotSpan& slot);

// Every slot of `rule` whose start lies in [from, to), sorted by start. Local wall-clock times
// are resolved in the rule's zone date by date, so DST is honoured: a slot starting at a local
// time that does not exist (spring forward) is skipped; one starting at an ambiguous local time
// (fall back) is created once, at the earlier instant. A slot lasts slot_minutes of real time,
// cut short only when the clocks jump forward inside it (it then ends where the next slot's
// wall-clock start falls), so slots of one rule never overlap.
// Fails with validate_rule()'s errors.
Result<std::vector<SlotSpan>> expand_rule(const AvailabilityRule& rule, TimePoint from,
                                          TimePoint to);

// True when the half-open intervals share time; slots that merely touch do not overlap.
bool overlaps(const SlotSpan& a, const SlotSpan& b);

// Index of the first slot in `existing` that overlaps `candidate`.
std::optional<std::size_t> find_overlap(const std::vector<SlotSpan>& existing,
                                        const SlotSpan& candidate);

// A clash found by find_batch_overlap(): batch[candidate] overlaps existing[other] (when
// with_existing) or batch[other].
struct SlotClash {
  std::size_t candidate = 0;
  bool with_existing = false;
  std::size_t other = 0;
};

// The clash earliest in time between `batch` and `existing` or within `batch` itself; overlaps
// among `existing` slots are not reported. O((n + m) log(n + m)).
std::optional<SlotClash> find_batch_overlap(const std::vector<SlotSpan>& existing,
                                            const std::vector<SlotSpan>& batch);

// A stored slot as the republish planner sees it.
struct ExistingSlot {
  std::string id;
  SlotSpan span;
  int booked = 0;  // appointments currently holding the slot
};

// What to do to the stored slots so that they match a new offer.
struct RepublishPlan {
  struct CapacityChange {
    std::string id;
    int capacity = 0;
  };
  std::vector<std::string> remove;              // unbooked future slots no longer offered
  std::vector<SlotSpan> add;                    // new rows to insert
  std::vector<CapacityChange> change_capacity;  // same interval, new capacity (>= booked)
  std::vector<std::string> kept_booked;         // booked slots the offer no longer covers
};

// Plans replacing a specialist's slots with `desired` (their complete new offer: expanded rules
// plus single slots). Slots starting before `now` are never touched; a future slot with the same
// interval as a desired one is kept (its capacity changed if needed, never below its bookings);
// other future slots starting before `until` (the expansion horizon) are removed when unbooked
// and kept (listed in kept_booked) when booked, closed to further bookings (their capacity
// brought down to their bookings); slots from `until` on are left alone. A new slot that
// overlaps a slot under way (started before `now`) is left out of the plan.
// Errors: INVALID_ARGUMENT when two desired slots overlap each other; FAILED_PRECONDITION when a
// new slot overlaps a future slot that stays, the message naming that slot's id and time.
Result<RepublishPlan> plan_republish(const std::vector<ExistingSlot>& existing,
                                     const std::vector<SlotSpan>& desired, TimePoint now,
                                     TimePoint until);

}  // namespace tmc::domain

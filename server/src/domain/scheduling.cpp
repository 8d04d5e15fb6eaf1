// Availability rules -> UTC slots (time-zone and DST aware), slot overlap checks.
#include "domain/scheduling.hpp"

#include <date/date.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "domain/parse_errors.hpp"

namespace tmc::domain {
namespace {

using date::days;
using std::chrono::floor;
using std::chrono::minutes;
using std::chrono::seconds;

// A validated rule in computable form.
struct ParsedRule {
  const date::time_zone* zone = nullptr;
  std::array<bool, 8> on_weekday{};  // indexed by ISO weekday 1..7
  minutes start{};
  minutes end{};
  minutes slot{};
  int capacity = 0;
  std::optional<date::local_days> valid_from;
  std::optional<date::local_days> valid_until;
};

Result<ParsedRule> parse_rule(const AvailabilityRule& rule) {
  ParsedRule parsed;
  if (rule.weekdays.empty()) return invalid("availability rule: weekdays must not be empty");
  for (const Weekday weekday : rule.weekdays) {
    const int iso = static_cast<int>(weekday);
    if (iso < 1 || iso > 7) {
      return invalid("availability rule: weekday " + std::to_string(iso) +
                     " is not a day of the week (1 = Monday ... 7 = Sunday)");
    }
    parsed.on_weekday[static_cast<std::size_t>(iso)] = true;
  }

  const auto start = parse_clock(rule.local_start, false);
  if (!start) {
    return invalid("availability rule: local_start " + quoted(rule.local_start) +
                   " is not a time of day HH:MM (00:00-23:59)");
  }
  const auto end = parse_clock(rule.local_end, true);
  if (!end) {
    return invalid("availability rule: local_end " + quoted(rule.local_end) +
                   " is not a time of day HH:MM (00:00-24:00)");
  }
  if (*end <= *start) {
    return invalid("availability rule: local_end " + rule.local_end +
                   " must be after local_start " + rule.local_start);
  }
  if (rule.slot_minutes < min_slot_minutes || rule.slot_minutes > max_slot_minutes) {
    return invalid("availability rule: slot_minutes " + std::to_string(rule.slot_minutes) +
                   " must be between " + std::to_string(min_slot_minutes) + " and " +
                   std::to_string(max_slot_minutes));
  }
  if (*end - *start < minutes(rule.slot_minutes)) {
    return invalid("availability rule: no " + std::to_string(rule.slot_minutes) +
                   "-minute slot fits between " + rule.local_start + " and " + rule.local_end);
  }
  if (rule.capacity < min_capacity || rule.capacity > max_capacity) {
    return invalid("availability rule: capacity " + std::to_string(rule.capacity) +
                   " must be between " + std::to_string(min_capacity) + " and " +
                   std::to_string(max_capacity));
  }
  parsed.zone = find_zone(rule.time_zone);
  if (parsed.zone == nullptr) {
    return invalid("availability rule: unknown time zone " + quoted(rule.time_zone) +
                   " (expected an IANA name such as \"Asia/Shanghai\")");
  }
  if (!rule.valid_from.empty()) {
    parsed.valid_from = parse_date(rule.valid_from);
    if (!parsed.valid_from) {
      return invalid("availability rule: valid_from " + quoted(rule.valid_from) +
                     " is not a date YYYY-MM-DD");
    }
  }
  if (!rule.valid_until.empty()) {
    parsed.valid_until = parse_date(rule.valid_until);
    if (!parsed.valid_until) {
      return invalid("availability rule: valid_until " + quoted(rule.valid_until) +
                     " is not a date YYYY-MM-DD");
    }
  }
  if (parsed.valid_from && parsed.valid_until && *parsed.valid_until < *parsed.valid_from) {
    return invalid("availability rule: valid_until " + rule.valid_until + " is before valid_from " +
                   rule.valid_from);
  }
  parsed.start = *start;
  parsed.end = *end;
  parsed.slot = minutes(rule.slot_minutes);
  parsed.capacity = rule.capacity;
  return parsed;
}

TimePoint to_time_point(date::sys_seconds instant) {
  return std::chrono::time_point_cast<std::chrono::microseconds>(instant);
}

std::string describe(const SlotSpan& span) {
  return format_utc(span.starts_at) + " to " + format_utc(span.ends_at);
}

}  // namespace

Status validate_rule(const AvailabilityRule& rule) {
  auto parsed = parse_rule(rule);
  if (!parsed) return parsed.error();
  return ok();
}

Status validate_slot(const SlotSpan& slot) {
  if (slot.ends_at <= slot.starts_at) {
    return invalid("slot ending " + format_utc(slot.ends_at) + " must end after it starts " +
                   format_utc(slot.starts_at));
  }
  const auto length = slot.ends_at - slot.starts_at;
  if (length < minutes(min_slot_minutes) || length > minutes(max_slot_minutes)) {
    return invalid("slot " + describe(slot) + " must last between " +
                   std::to_string(min_slot_minutes) + " and " + std::to_string(max_slot_minutes) +
                   " minutes");
  }
  if (slot.capacity < min_capacity || slot.capacity > max_capacity) {
    return invalid("slot capacity " + std::to_string(slot.capacity) + " must be between " +
                   std::to_string(min_capacity) + " and " + std::to_string(max_capacity));
  }
  return ok();
}

Result<std::vector<SlotSpan>> expand_rule(const AvailabilityRule& rule, TimePoint from,
                                          TimePoint to) {
  auto parsed_result = parse_rule(rule);
  if (!parsed_result) return parsed_result.error();
  const ParsedRule& parsed = *parsed_result;
  std::vector<SlotSpan> slots;
  if (to <= from) return slots;

  const date::time_zone& zone = *parsed.zone;
  // A day of margin on each side: whole local days around the window, then filter by instant.
  auto first_day = floor<days>(zone.to_local(floor<seconds>(from))) - days(1);
  auto last_day = floor<days>(zone.to_local(floor<seconds>(to))) + days(1);
  if (parsed.valid_from) first_day = std::max(first_day, *parsed.valid_from);
  if (parsed.valid_until) last_day = std::min(last_day, *parsed.valid_until);

  for (auto day = first_day; day <= last_day; day += days(1)) {
    if (!parsed.on_weekday[date::weekday(day).iso_encoding()]) continue;
    for (auto offset = parsed.start; offset + parsed.slot <= parsed.end; offset += parsed.slot) {
      const date::local_seconds local_start = day + offset;
      const auto start = resolve_earliest(zone, local_start);
      if (!start) continue;
      const TimePoint starts_at = to_time_point(*start);
      if (starts_at < from || starts_at >= to) continue;
      // Real slot length, cut short where the wall clock reaches the next slot's start early
      // (clocks jumping forward inside the slot) so consecutive slots never overlap.
      const TimePoint ends_at =
          std::min(starts_at + parsed.slot,
                   to_time_point(resolve_boundary(zone, local_start + parsed.slot)));
      if (ends_at <= starts_at) continue;
      slots.push_back(SlotSpan{starts_at, ends_at, parsed.capacity});
    }
  }
  std::stable_sort(slots.begin(), slots.end(),
                   [](const SlotSpan& a, const SlotSpan& b) { return a.starts_at < b.starts_at; });
  return slots;
}

bool overlaps(const SlotSpan& a, const SlotSpan& b) {
  return a.starts_at < b.ends_at && b.starts_at < a.ends_at;
}

std::optional<std::size_t> find_overlap(const std::vector<SlotSpan>& existing,
                                        const SlotSpan& candidate) {
  for (std::size_t i = 0; i < existing.size(); ++i) {
    if (overlaps(existing[i], candidate)) return i;
  }
  return std::nullopt;
}

std::optional<SlotClash> find_batch_overlap(const std::vector<SlotSpan>& existing,
                                            const std::vector<SlotSpan>& batch) {
  struct Entry {
    const SlotSpan* span;
    bool from_batch;
    std::size_t index;
  };
  std::vector<Entry> entries;
  entries.reserve(existing.size() + batch.size());
  for (std::size_t i = 0; i < existing.size(); ++i) entries.push_back({&existing[i], false, i});
  for (std::size_t i = 0; i < batch.size(); ++i) entries.push_back({&batch[i], true, i});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.span->starts_at != b.span->starts_at) return a.span->starts_at < b.span->starts_at;
    return a.span->ends_at < b.span->ends_at;
  });

  // Sweep by start: an entry clashes with an earlier-starting one iff it starts before the
  // latest end seen so far. Track that end over all entries and over batch entries alone, so
  // existing-vs-existing overlaps are not reported.
  const Entry* latest_any = nullptr;
  const Entry* latest_batch = nullptr;
  for (const Entry& entry : entries) {
    const Entry* rival = entry.from_batch ? latest_any : latest_batch;
    if (rival != nullptr && entry.span->starts_at < rival->span->ends_at) {
      const Entry& candidate = entry.from_batch ? entry : *rival;
      const Entry& other = entry.from_batch ? *rival : entry;
      return SlotClash{candidate.index, !other.from_batch, other.index};
    }
    if (latest_any == nullptr || entry.span->ends_at > latest_any->span->ends_at) {
      latest_any = &entry;
    }
    if (entry.from_batch &&
        (latest_batch == nullptr || entry.span->ends_at > latest_batch->span->ends_at)) {
      latest_batch = &entry;
    }
  }
  return std::nullopt;
}

Result<RepublishPlan> plan_republish(const std::vector<ExistingSlot>& existing,
                                     const std::vector<SlotSpan>& desired, TimePoint now,
                                     TimePoint until) {
  for (const SlotSpan& span : desired) {
    if (span.starts_at < now) return invalid("slot " + describe(span) + " starts in the past");
  }
  if (const auto clash = find_batch_overlap({}, desired)) {
    return invalid("new slots " + describe(desired[clash->candidate]) + " and " +
                   describe(desired[clash->other]) + " overlap");
  }

  std::map<std::pair<TimePoint, TimePoint>, std::size_t> desired_by_interval;
  for (std::size_t i = 0; i < desired.size(); ++i) {
    desired_by_interval.emplace(std::pair{desired[i].starts_at, desired[i].ends_at}, i);
  }

  RepublishPlan plan;
  std::vector<bool> matched(desired.size(), false);
  std::vector<const ExistingSlot*> staying;
  for (const ExistingSlot& slot : existing) {
    if (slot.span.starts_at < now) {
      staying.push_back(&slot);
      continue;
    }
    const auto match = desired_by_interval.find({slot.span.starts_at, slot.span.ends_at});
    if (match != desired_by_interval.end() && !matched[match->second]) {
      matched[match->second] = true;
      staying.push_back(&slot);
      const int capacity = std::max(desired[match->second].capacity, slot.booked);
      if (capacity != slot.span.capacity) plan.change_capacity.push_back({slot.id, capacity});
      continue;
    }
    if (slot.span.starts_at >= until) {
      staying.push_back(&slot);
    } else if (slot.booked > 0) {
      staying.push_back(&slot);
      plan.kept_booked.push_back(slot.id);
      // Kept for its bookings only: no place of it may be booked any more.
      if (slot.span.capacity > slot.booked) plan.change_capacity.push_back({slot.id, slot.booked});
    } else {
      plan.remove.push_back(slot.id);
    }
  }
  for (std::size_t i = 0; i < desired.size(); ++i) {
    if (!matched[i]) plan.add.push_back(desired[i]);
  }
  // New slots overlapping a slot under way are left out, not refused: the specialist is in that
  // slot (or it went unbooked), and refusing would block every change of a rule while one of its
  // slots runs.
  std::erase_if(plan.add, [&](const SlotSpan& span) {
    return std::any_of(staying.begin(), staying.end(), [&](const ExistingSlot* slot) {
      return slot->span.starts_at < now && slot->span.starts_at < span.ends_at &&
             span.starts_at < slot->span.ends_at;
    });
  });

  std::vector<SlotSpan> staying_spans;
  staying_spans.reserve(staying.size());
  for (const ExistingSlot* slot : staying) staying_spans.push_back(slot->span);
  if (const auto clash = find_batch_overlap(staying_spans, plan.add)) {
    // plan.add has no internal overlaps (checked above), so the rival is a staying slot.
    const ExistingSlot& rival = *staying[clash->other];
    return make_error(Code::failed_precondition, "slot " + describe(plan.add[clash->candidate]) +
                                                     " overlaps existing slot " + rival.id + " (" +
                                                     describe(rival.span) + ")");
  }
  return plan;
}

}  // namespace tmc::domain

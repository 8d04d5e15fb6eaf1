// Availability rules expanded into UTC slots across zones and DST; overlaps; republish planning.
#include "domain/scheduling.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;

// An instant written as UTC wall-clock time "YYYY-MM-DD HH:MM".
TimePoint utc(const std::string& text) {
  auto parsed = parse_local(text, "Etc/UTC");
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.has_value() ? *parsed : TimePoint{};
}

AvailabilityRule shanghai_tuesday_afternoons() {
  AvailabilityRule rule;
  rule.weekdays = {Weekday::tuesday};
  rule.local_start = "14:00";
  rule.local_end = "17:00";
  rule.time_zone = "Asia/Shanghai";
  rule.slot_minutes = 30;
  rule.capacity = 1;
  return rule;
}

std::vector<SlotSpan> expand(const AvailabilityRule& rule, TimePoint from, TimePoint to) {
  auto slots = expand_rule(rule, from, to);
  EXPECT_TRUE(slots.has_value()) << (slots ? "" : slots.error().message);
  return slots.has_value() ? *slots : std::vector<SlotSpan>{};
}

std::vector<TimePoint> starts(const std::vector<SlotSpan>& slots) {
  std::vector<TimePoint> result;
  for (const SlotSpan& slot : slots) result.push_back(slot.starts_at);
  return result;
}

unsigned utc_weekday(TimePoint instant) {
  return date::weekday(std::chrono::floor<date::days>(instant)).iso_encoding();
}

TEST(ExpandRule, ShanghaiTuesdayAfternoonIsSixSlotsInUtcAndNoonInUrumqi) {
  const auto slots =
      expand(shanghai_tuesday_afternoons(), utc("2026-11-30 00:00"), utc("2026-12-07 00:00"));
  ASSERT_EQ(slots.size(), 6U);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    EXPECT_EQ(slots[i].starts_at, utc("2026-12-01 06:00") + 30min * static_cast<int>(i));
    EXPECT_EQ(slots[i].ends_at, slots[i].starts_at + 30min);
    EXPECT_EQ(slots[i].capacity, 1);
  }
  EXPECT_EQ(slots.back().ends_at, utc("2026-12-01 09:00"));

  EXPECT_EQ(format_local(slots.front().starts_at, "Asia/Shanghai"),
            "2026-12-01 14:00 CST (UTC+08:00, Asia/Shanghai)");
  EXPECT_EQ(format_local(slots.front().starts_at, "Asia/Urumqi"),
            "2026-12-01 12:00 (UTC+06:00, Asia/Urumqi)");
  EXPECT_EQ(format_local(slots.back().ends_at, "Asia/Urumqi"),
            "2026-12-01 15:00 (UTC+06:00, Asia/Urumqi)");
  EXPECT_EQ(format_local_range(slots.back().starts_at, slots.back().ends_at, "Asia/Urumqi"),
            "2026-12-01 14:30-15:00 (UTC+06:00, Asia/Urumqi)");
}

TEST(ExpandRule, DefaultHorizonHoldsEightWeeksOfSlots) {
  const TimePoint from = utc("2026-11-30 00:00");
  const auto slots = expand(shanghai_tuesday_afternoons(), from, from + default_slot_horizon);
  ASSERT_EQ(slots.size(), 8U * 6U);
  EXPECT_EQ(slots.back().starts_at, utc("2027-01-19 08:30"));
  EXPECT_TRUE(std::is_sorted(slots.begin(), slots.end(), [](const auto& a, const auto& b) {
    return a.starts_at < b.starts_at;
  }));
}

TEST(ExpandRule, OnlySlotsStartingInsideTheWindowAreReturned) {
  // The window starts mid-afternoon Shanghai time and ends half-way through the next Tuesday.
  const auto slots =
      expand(shanghai_tuesday_afternoons(), utc("2026-12-01 07:15"), utc("2026-12-08 07:00"));
  EXPECT_EQ(starts(slots), (std::vector<TimePoint>{utc("2026-12-01 07:30"), utc("2026-12-01 08:00"),
                                                   utc("2026-12-01 08:30"), utc("2026-12-08 06:00"),
                                                   utc("2026-12-08 06:30")}));
}

TEST(ExpandRule, MondayMorningInKiritimatiFallsOnSundayUtc) {
  AvailabilityRule rule;
  rule.weekdays = {Weekday::monday};
  rule.local_start = "08:00";
  rule.local_end = "10:00";
  rule.time_zone = "Pacific/Kiritimati";  // UTC+14
  rule.slot_minutes = 60;
  rule.capacity = 2;
  // Window starts on a Wednesday and ends two weeks later.
  const auto slots = expand(rule, utc("2026-12-02 12:00"), utc("2026-12-16 12:00"));
  EXPECT_EQ(starts(slots),
            (std::vector<TimePoint>{utc("2026-12-06 18:00"), utc("2026-12-06 19:00"),
                                    utc("2026-12-13 18:00"), utc("2026-12-13 19:00")}));
  for (const SlotSpan& slot : slots) {
    EXPECT_EQ(utc_weekday(slot.starts_at), 7U);  // Sunday in UTC
    EXPECT_EQ(slot.capacity, 2);
  }
  EXPECT_EQ(format_local(slots.front().starts_at, "Pacific/Kiritimati"),
            "2026-12-07 08:00 (UTC+14:00, Pacific/Kiritimati)");

  // A window opening between the two Sunday-UTC slots keeps only the later one.
  EXPECT_EQ(starts(expand(rule, utc("2026-12-06 18:30"), utc("2026-12-07 00:00"))),
            (std::vector<TimePoint>{utc("2026-12-06 19:00")}));
}

TEST(ExpandRule, ValidDatesAreInclusiveLocalDates) {
  AvailabilityRule rule = shanghai_tuesday_afternoons();
  rule.valid_until = "2026-12-08";
  auto slots = expand(rule, utc("2026-11-30 00:00"), utc("2027-01-01 00:00"));
  ASSERT_EQ(slots.size(), 12U);
  EXPECT_EQ(slots.back().starts_at, utc("2026-12-08 08:30"));

  // valid_from in the future: nothing before it, even though the window starts earlier.
  rule.valid_until.clear();
  rule.valid_from = "2026-12-15";
  slots = expand(rule, utc("2026-11-30 00:00"), utc("2026-12-23 00:00"));
  ASSERT_EQ(slots.size(), 12U);
  EXPECT_EQ(slots.front().starts_at, utc("2026-12-15 06:00"));

  // The dates are the rule zone's: Monday 7 December in Kiritimati starts on Sunday UTC.
  AvailabilityRule kiritimati;
  kiritimati.weekdays = {Weekday::monday};
  kiritimati.local_start = "08:00";
  kiritimati.local_end = "09:00";
  kiritimati.time_zone = "Pacific/Kiritimati";
  kiritimati.slot_minutes = 60;
  kiritimati.valid_from = "2026-12-07";
  kiritimati.valid_until = "2026-12-07";
  EXPECT_EQ(starts(expand(kiritimati, utc("2026-11-01 00:00"), utc("2027-01-01 00:00"))),
            (std::vector<TimePoint>{utc("2026-12-06 18:00")}));
}

AvailabilityRule new_york_sunday_night(const char* start, const char* end, int slot_minutes) {
  AvailabilityRule rule;
  rule.weekdays = {Weekday::sunday};
  rule.local_start = start;
  rule.local_end = end;
  rule.time_zone = "America/New_York";
  rule.slot_minutes = slot_minutes;
  return rule;
}

TEST(ExpandRule, SpringForwardSkipsLocalTimesThatDoNotExist) {
  // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
  const auto rule = new_york_sunday_night("01:00", "04:00", 30);
  const auto slots = expand(rule, utc("2026-03-08 00:00"), utc("2026-03-09 00:00"));
  EXPECT_EQ(starts(slots),
            (std::vector<TimePoint>{utc("2026-03-08 06:00"), utc("2026-03-08 06:30"),
                                    utc("2026-03-08 07:00"), utc("2026-03-08 07:30")}));
  for (const SlotSpan& slot : slots) {
    EXPECT_EQ(slot.ends_at - slot.starts_at, 30min);
    EXPECT_EQ(format_local(slot.starts_at, rule.time_zone).find("02:30"), std::string::npos);
  }
  EXPECT_EQ(format_local(slots[2].starts_at, rule.time_zone),
            "2026-03-08 03:00 EDT (UTC-04:00, America/New_York)");

  // A week later 02:30 exists again: all six slots.
  EXPECT_EQ(expand(rule, utc("2026-03-15 00:00"), utc("2026-03-16 00:00")).size(), 6U);
}

TEST(ExpandRule, SlotSpanningTheSpringForwardGapEndsWhereTheNextSlotBegins) {
  const auto slots = expand(new_york_sunday_night("01:00", "05:00", 120), utc("2026-03-08 00:00"),
                            utc("2026-03-09 00:00"));
  ASSERT_EQ(slots.size(), 2U);
  EXPECT_EQ(slots[0].starts_at, utc("2026-03-08 06:00"));  // 01:00 EST
  EXPECT_EQ(slots[0].ends_at, utc("2026-03-08 07:00"));    // 03:00 EDT on the wall
  EXPECT_EQ(slots[1].starts_at, utc("2026-03-08 07:00"));  // 03:00 EDT
  EXPECT_EQ(slots[1].ends_at, utc("2026-03-08 09:00"));
}

TEST(ExpandRule, FallBackCreatesAnAmbiguousSlotOnceAtTheEarlierInstant) {
  // 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST (06:00 UTC); 01:xx happens twice.
  const auto rule = new_york_sunday_night("01:00", "03:00", 30);
  const auto slots = expand(rule, utc("2026-11-01 00:00"), utc("2026-11-02 00:00"));
  EXPECT_EQ(starts(slots),
            (std::vector<TimePoint>{utc("2026-11-01 05:00"), utc("2026-11-01 05:30"),
                                    utc("2026-11-01 07:00"), utc("2026-11-01 07:30")}));
  const auto at_one_thirty = std::count_if(slots.begin(), slots.end(), [&](const SlotSpan& s) {
    return format_local(s.starts_at, rule.time_zone).find(" 01:30 ") != std::string::npos;
  });
  EXPECT_EQ(at_one_thirty, 1);
  EXPECT_EQ(format_local(slots[1].starts_at, rule.time_zone),
            "2026-11-01 01:30 EDT (UTC-04:00, America/New_York)");
}

TEST(ExpandRule, SlotsOfOneRuleNeverOverlapAcrossAYearOfClockChanges) {
  for (const char* zone : {"America/New_York", "Europe/London", "Pacific/Auckland",
                           "America/Santiago", "Australia/Lord_Howe", "Asia/Urumqi"}) {
    AvailabilityRule rule;
    rule.weekdays = {Weekday::monday, Weekday::tuesday,  Weekday::wednesday, Weekday::thursday,
                     Weekday::friday, Weekday::saturday, Weekday::sunday};
    rule.local_start = "00:00";
    rule.local_end = "24:00";
    rule.time_zone = zone;
    rule.slot_minutes = 45;
    const auto slots = expand(rule, utc("2026-01-01 00:00"), utc("2027-01-01 00:00"));
    EXPECT_GT(slots.size(), 365U * 31U) << zone;
    EXPECT_FALSE(find_batch_overlap({}, slots).has_value()) << zone;
    for (const SlotSpan& slot : slots) {
      ASSERT_GT(slot.ends_at, slot.starts_at) << zone;
      ASSERT_LE(slot.ends_at - slot.starts_at, 45min) << zone;
    }
  }
}

TEST(ExpandRule, TrailingRemainderShorterThanASlotIsNotOffered) {
  AvailabilityRule rule = shanghai_tuesday_afternoons();
  rule.local_end = "16:50";
  rule.slot_minutes = 40;
  const auto slots = expand(rule, utc("2026-11-30 00:00"), utc("2026-12-07 00:00"));
  ASSERT_EQ(slots.size(), 4U);
  EXPECT_EQ(slots.back().ends_at, utc("2026-12-01 08:40"));  // 16:40 local; 16:40-16:50 unused
}

TEST(ExpandRule, EmptyOrInvertedWindowYieldsNothing) {
  const TimePoint at = utc("2026-12-01 06:00");
  EXPECT_TRUE(expand(shanghai_tuesday_afternoons(), at, at).empty());
  EXPECT_TRUE(expand(shanghai_tuesday_afternoons(), at + 1h, at).empty());
}

struct InvalidRuleCase {
  const char* name;
  void (*spoil)(AvailabilityRule&);
  const char* message;
};

class ValidateRule : public ::testing::TestWithParam<InvalidRuleCase> {};

TEST_P(ValidateRule, RejectsWithAPreciseMessage) {
  AvailabilityRule rule = shanghai_tuesday_afternoons();
  EXPECT_TRUE(validate_rule(rule).has_value());
  GetParam().spoil(rule);
  const Status status = validate_rule(rule);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, Code::invalid_argument);
  EXPECT_EQ(status.error().message, GetParam().message);
  // expand_rule refuses the same rule with the same error.
  const auto expanded = expand_rule(rule, utc("2026-12-01 00:00"), utc("2026-12-08 00:00"));
  ASSERT_FALSE(expanded.has_value());
  EXPECT_EQ(expanded.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateRule,
    ::testing::Values(
        InvalidRuleCase{"no_weekdays", [](AvailabilityRule& r) { r.weekdays.clear(); },
                        "availability rule: weekdays must not be empty"},
        InvalidRuleCase{"weekday_zero",
                        [](AvailabilityRule& r) { r.weekdays.push_back(static_cast<Weekday>(0)); },
                        "availability rule: weekday 0 is not a day of the week "
                        "(1 = Monday ... 7 = Sunday)"},
        InvalidRuleCase{"start_not_a_time", [](AvailabilityRule& r) { r.local_start = "2pm"; },
                        "availability rule: local_start \"2pm\" is not a time of day HH:MM "
                        "(00:00-23:59)"},
        InvalidRuleCase{"start_minutes_out_of_range",
                        [](AvailabilityRule& r) { r.local_start = "14:60"; },
                        "availability rule: local_start \"14:60\" is not a time of day HH:MM "
                        "(00:00-23:59)"},
        InvalidRuleCase{"start_at_24", [](AvailabilityRule& r) { r.local_start = "24:00"; },
                        "availability rule: local_start \"24:00\" is not a time of day HH:MM "
                        "(00:00-23:59)"},
        InvalidRuleCase{"end_not_a_time", [](AvailabilityRule& r) { r.local_end = "25:00"; },
                        "availability rule: local_end \"25:00\" is not a time of day HH:MM "
                        "(00:00-24:00)"},
        InvalidRuleCase{"end_before_start", [](AvailabilityRule& r) { r.local_end = "13:00"; },
                        "availability rule: local_end 13:00 must be after local_start 14:00"},
        InvalidRuleCase{"end_equals_start", [](AvailabilityRule& r) { r.local_end = "14:00"; },
                        "availability rule: local_end 14:00 must be after local_start 14:00"},
        InvalidRuleCase{"slot_too_short", [](AvailabilityRule& r) { r.slot_minutes = 4; },
                        "availability rule: slot_minutes 4 must be between 5 and 480"},
        InvalidRuleCase{"slot_too_long", [](AvailabilityRule& r) { r.slot_minutes = 481; },
                        "availability rule: slot_minutes 481 must be between 5 and 480"},
        InvalidRuleCase{"no_slot_fits", [](AvailabilityRule& r) { r.slot_minutes = 240; },
                        "availability rule: no 240-minute slot fits between 14:00 and 17:00"},
        InvalidRuleCase{"capacity_zero", [](AvailabilityRule& r) { r.capacity = 0; },
                        "availability rule: capacity 0 must be between 1 and 50"},
        InvalidRuleCase{"capacity_too_large", [](AvailabilityRule& r) { r.capacity = 51; },
                        "availability rule: capacity 51 must be between 1 and 50"},
        InvalidRuleCase{"unknown_zone", [](AvailabilityRule& r) { r.time_zone = "Asia/Beijing"; },
                        "availability rule: unknown time zone \"Asia/Beijing\" (expected an "
                        "IANA name such as \"Asia/Shanghai\")"},
        InvalidRuleCase{"empty_zone", [](AvailabilityRule& r) { r.time_zone.clear(); },
                        "availability rule: unknown time zone \"\" (expected an IANA name such "
                        "as \"Asia/Shanghai\")"},
        InvalidRuleCase{"bad_valid_from", [](AvailabilityRule& r) { r.valid_from = "2026-02-30"; },
                        "availability rule: valid_from \"2026-02-30\" is not a date YYYY-MM-DD"},
        InvalidRuleCase{"bad_valid_until",
                        [](AvailabilityRule& r) { r.valid_until = "01/12/2026"; },
                        "availability rule: valid_until \"01/12/2026\" is not a date YYYY-MM-DD"},
        InvalidRuleCase{"until_before_from",
                        [](AvailabilityRule& r) {
                          r.valid_from = "2026-12-08";
                          r.valid_until = "2026-12-07";
                        },
                        "availability rule: valid_until 2026-12-07 is before valid_from "
                        "2026-12-08"}),
    [](const ::testing::TestParamInfo<InvalidRuleCase>& info) { return info.param.name; });

TEST(ValidateRule, AcceptsEndOfDayAndSingleDayValidity) {
  AvailabilityRule rule = shanghai_tuesday_afternoons();
  rule.local_start = "20:00";
  rule.local_end = "24:00";
  rule.valid_from = "2026-12-01";
  rule.valid_until = "2026-12-01";
  EXPECT_TRUE(validate_rule(rule).has_value());
  const auto slots = expand(rule, utc("2026-11-30 00:00"), utc("2026-12-08 00:00"));
  ASSERT_EQ(slots.size(), 8U);
  EXPECT_EQ(slots.back().ends_at, utc("2026-12-01 16:00"));  // midnight in Shanghai
}

TEST(ValidateSlot, ChecksLengthAndCapacity) {
  const TimePoint at = utc("2026-12-01 06:00");
  EXPECT_TRUE(validate_slot({at, at + 30min, 1}).has_value());
  EXPECT_EQ(validate_slot({at, at, 1}).error().message,
            "slot ending 2026-12-01 06:00Z must end after it starts 2026-12-01 06:00Z");
  EXPECT_EQ(validate_slot({at, at + 4min, 1}).error().message,
            "slot 2026-12-01 06:00Z to 2026-12-01 06:04Z must last between 5 and 480 minutes");
  EXPECT_EQ(validate_slot({at, at + 9h, 1}).error().code, Code::invalid_argument);
  EXPECT_EQ(validate_slot({at, at + 30min, 0}).error().message,
            "slot capacity 0 must be between 1 and 50");
}

SlotSpan span(const std::string& start, std::chrono::minutes length, int capacity = 1) {
  const TimePoint at = utc(start);
  return SlotSpan{at, at + length, capacity};
}

TEST(SlotOverlap, TouchingSlotsDoNotOverlapPartialOnesDo) {
  const std::vector<SlotSpan> existing{span("2026-12-01 06:00", 30min),
                                       span("2026-12-01 07:00", 30min)};
  EXPECT_FALSE(find_overlap(existing, span("2026-12-01 06:30", 30min)).has_value());
  EXPECT_FALSE(find_overlap(existing, span("2026-12-01 05:30", 30min)).has_value());
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 06:15", 30min)), 0U);
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 06:20", 5min)), 0U);
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 06:45", 30min)), 1U);
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 06:59", 10min)), 1U);
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 05:00", 240min)), 0U);  // contains both
  EXPECT_EQ(find_overlap(existing, span("2026-12-01 07:10", 5min)), 1U);    // inside
  EXPECT_FALSE(find_overlap({}, span("2026-12-01 07:10", 5min)).has_value());
}

TEST(SlotOverlap, BatchIsCheckedAgainstExistingAndItself) {
  const std::vector<SlotSpan> existing{span("2026-12-01 06:00", 60min),
                                       span("2026-12-01 06:30", 60min),  // legacy overlap: ignored
                                       span("2026-12-01 09:00", 30min)};
  EXPECT_FALSE(find_batch_overlap(
                   existing, {span("2026-12-01 07:30", 30min), span("2026-12-01 08:00", 60min)})
                   .has_value());

  auto clash = find_batch_overlap(
      existing, {span("2026-12-01 07:30", 30min), span("2026-12-01 08:45", 30min)});
  ASSERT_TRUE(clash.has_value());
  EXPECT_EQ(clash->candidate, 1U);
  EXPECT_TRUE(clash->with_existing);
  EXPECT_EQ(clash->other, 2U);

  clash = find_batch_overlap(existing,
                             {span("2026-12-01 10:00", 30min), span("2026-12-01 07:30", 30min),
                              span("2026-12-01 10:15", 30min)});
  ASSERT_TRUE(clash.has_value());
  EXPECT_FALSE(clash->with_existing);
  EXPECT_EQ(std::min(clash->candidate, clash->other), 0U);
  EXPECT_EQ(std::max(clash->candidate, clash->other), 2U);

  // A short existing slot hidden under a long batch slot is still found.
  clash = find_batch_overlap({span("2026-12-01 12:10", 10min)}, {span("2026-12-01 12:00", 120min)});
  ASSERT_TRUE(clash.has_value());
  EXPECT_TRUE(clash->with_existing);
  EXPECT_EQ(clash->candidate, 0U);
  EXPECT_EQ(clash->other, 0U);
}

TEST(PlanRepublish, ChangesOnlyUnbookedFutureSlotsAndKeepsBookedOnes) {
  const TimePoint now = utc("2026-12-01 00:00");
  const TimePoint until = now + default_slot_horizon;
  const std::vector<ExistingSlot> existing{
      {"past", span("2026-11-30 06:00", 30min), 0},
      {"same", span("2026-12-01 06:00", 30min, 1), 1},
      {"same-capacity-up", span("2026-12-01 06:30", 30min, 1), 0},
      {"booked-gone", span("2026-12-02 06:00", 30min, 2), 2},
      {"unbooked-gone", span("2026-12-02 07:00", 30min), 0},
      {"beyond-horizon", span("2027-03-01 06:00", 30min), 0},
  };
  const std::vector<SlotSpan> desired{span("2026-12-01 06:00", 30min, 1),
                                      span("2026-12-01 06:30", 30min, 3),
                                      span("2026-12-03 06:00", 30min, 1)};
  const auto plan = plan_republish(existing, desired, now, until);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->remove, (std::vector<std::string>{"unbooked-gone"}));
  EXPECT_EQ(plan->kept_booked, (std::vector<std::string>{"booked-gone"}));
  ASSERT_EQ(plan->change_capacity.size(), 1U);
  EXPECT_EQ(plan->change_capacity[0].id, "same-capacity-up");
  EXPECT_EQ(plan->change_capacity[0].capacity, 3);
  EXPECT_EQ(plan->add, (std::vector<SlotSpan>{span("2026-12-03 06:00", 30min, 1)}));
}

TEST(PlanRepublish, CapacityNeverDropsBelowBookings) {
  const TimePoint now = utc("2026-12-01 00:00");
  const std::vector<ExistingSlot> existing{{"s", span("2026-12-01 06:00", 30min, 4), 3}};
  const auto plan = plan_republish(existing, {span("2026-12-01 06:00", 30min, 1)}, now, now + 24h);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->change_capacity.size(), 1U);
  EXPECT_EQ(plan->change_capacity[0].capacity, 3);
  EXPECT_TRUE(plan->add.empty());
  EXPECT_TRUE(plan->remove.empty());
}

TEST(PlanRepublish, NewSlotOverlappingABookedSlotIsRefusedNamingIt) {
  const TimePoint now = utc("2026-12-01 00:00");
  const std::vector<ExistingSlot> existing{{"slot-42", span("2026-12-01 06:00", 30min), 1}};
  const auto plan =
      plan_republish(existing, {span("2026-12-01 06:15", 30min)}, now, now + default_slot_horizon);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, Code::failed_precondition);
  EXPECT_EQ(plan.error().message,
            "slot 2026-12-01 06:15Z to 2026-12-01 06:45Z overlaps existing slot slot-42 "
            "(2026-12-01 06:00Z to 2026-12-01 06:30Z)");

  // The same shift is fine when the old slot was free: it is replaced.
  const std::vector<ExistingSlot> free_slot{{"slot-42", span("2026-12-01 06:00", 30min), 0}};
  const auto replaced =
      plan_republish(free_slot, {span("2026-12-01 06:15", 30min)}, now, now + 24h);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->remove, (std::vector<std::string>{"slot-42"}));
  EXPECT_EQ(replaced->add.size(), 1U);
}

// A rule changed while one of its slots runs (14:10 Beijing, the 14:00 slot under way, the
// rule now starting at 14:15): the new slot that would overlap the running one is left out, the
// rest is published.
TEST(PlanRepublish, NewSlotsOverlappingASlotUnderWayAreLeftOut) {
  const TimePoint now = utc("2026-12-01 06:10");
  for (const int booked : {0, 1}) {
    const std::vector<ExistingSlot> existing{{"running", span("2026-12-01 06:00", 30min), booked}};
    const auto plan = plan_republish(
        existing, {span("2026-12-01 06:15", 30min), span("2026-12-01 06:45", 30min)}, now,
        now + default_slot_horizon);
    ASSERT_TRUE(plan.has_value()) << plan.error().message;
    EXPECT_EQ(plan->add, (std::vector<SlotSpan>{span("2026-12-01 06:45", 30min)})) << booked;
    EXPECT_TRUE(plan->remove.empty());
  }
}

TEST(PlanRepublish, RefusesOverlappingOrPastNewSlots) {
  const TimePoint now = utc("2026-12-01 00:00");
  auto plan = plan_republish({}, {span("2026-12-01 06:00", 30min), span("2026-12-01 06:20", 30min)},
                             now, now + 24h);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, Code::invalid_argument);
  EXPECT_NE(plan.error().message.find("overlap"), std::string::npos);

  plan = plan_republish({}, {span("2026-11-30 23:00", 30min)}, now, now + 24h);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().message, "slot 2026-11-30 23:00Z to 2026-11-30 23:30Z starts in the past");
}

// A megabyte of zone name is not echoed back in full, and the part that is stays valid UTF-8
// (a Status message is a protobuf string).
TEST(ParseLocal, ALongRejectedValueIsCutInTheMessageAtACharacterBoundary) {
  const auto message =
      parse_local("2026-12-01 14:00", "Asia/" + std::string(1 << 20, 'x')).error().message;
  EXPECT_EQ(message, "unknown time zone \"Asia/" + std::string(59, 'x') + "...\"");
  std::string urumqi;  // three bytes a character: the 64th byte is inside the 22nd
  for (int i = 0; i < 100; ++i) urumqi += "\u4e4c";
  std::string kept;
  for (int i = 0; i < 21; ++i) kept += "\u4e4c";
  EXPECT_EQ(parse_local("2026-12-01 14:00", urumqi).error().message,
            "unknown time zone \"" + kept + "...\"");
}

TEST(ParseLocal, ResolvesWallClockTimeInTheZone) {
  EXPECT_EQ(*parse_local("2026-12-01 14:00", "Asia/Shanghai"), utc("2026-12-01 06:00"));
  EXPECT_EQ(*parse_local("2026-12-01T12:00", "Asia/Urumqi"), utc("2026-12-01 06:00"));
  // Ambiguous (fall back): the earlier instant, EDT.
  EXPECT_EQ(*parse_local("2026-11-01 01:30", "America/New_York"), utc("2026-11-01 05:30"));

  const auto skipped = parse_local("2026-03-08 02:30", "America/New_York");
  ASSERT_FALSE(skipped.has_value());
  EXPECT_EQ(skipped.error().message,
            "local time 2026-03-08 02:30 does not exist in America/New_York (the clocks skip it)");
  EXPECT_EQ(parse_local("2026-12-01 14:00", "Mars/Olympus").error().message,
            "unknown time zone \"Mars/Olympus\"");
  for (const char* bad : {"2026-12-01", "2026-12-01 25:00", "2026-13-01 10:00",
                          "2026-12-01 10:00:00", "2026-12-01x10:00", ""}) {
    const auto parsed = parse_local(bad, "Asia/Shanghai");
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, Code::invalid_argument);
  }
}

TEST(FormatLocal, RoundTripsWithParseLocalAndFallsBackToUtc) {
  const TimePoint at = *parse_local("2026-07-04 09:15", "America/New_York");
  EXPECT_EQ(format_local(at, "America/New_York"),
            "2026-07-04 09:15 EDT (UTC-04:00, America/New_York)");
  EXPECT_EQ(format_local(at, "Asia/Kolkata"), "2026-07-04 18:45 IST (UTC+05:30, Asia/Kolkata)");
  EXPECT_EQ(format_local(at, "No/Such_Zone"), "2026-07-04 13:15 (UTC+00:00, UTC)");
  EXPECT_EQ(format_utc(at), "2026-07-04 13:15Z");
}

TEST(FormatLocal, RangeAcrossMidnightOrAClockChange) {
  const TimePoint late = utc("2026-12-01 15:30");  // 23:30 in Shanghai
  EXPECT_EQ(format_local_range(late, late + 60min, "Asia/Shanghai"),
            "2026-12-01 23:30-2026-12-02 00:30 CST (UTC+08:00, Asia/Shanghai)");
  const TimePoint before_jump = utc("2026-03-08 06:30");  // 01:30 EST
  EXPECT_EQ(format_local_range(before_jump, before_jump + 60min, "America/New_York"),
            "2026-03-08 01:30 EST (UTC-05:00, America/New_York) - "
            "2026-03-08 03:30 EDT (UTC-04:00, America/New_York)");
}

}  // namespace
}  // namespace tmc::domain

// Canonical record encoding (the hashed bytes) and the UTC time text it uses.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "audit/canonical_record.hpp"

namespace tmc::audit {
namespace {

using namespace std::chrono;

TEST(CanonicalRecord, FixedLayout) {
  const TimePoint time(sys_days(year(2025) / 3 / 1).time_since_epoch() + hours(8) + minutes(5) +
                       seconds(9) + microseconds(42));
  domain::AuditEvent event{"usr_1", "bachu", "consultation.read", {"con_1", "fil_2"},
                           domain::AuditOutcome::denied, "10.0.0.7:51234"};
  event.patient_reference = "P-2026-0042";
  std::string prev_hex;
  for (int i = 0; i < 32; ++i) prev_hex += "ab";
  EXPECT_EQ(encode_record(3, std::string(32, '\xab'), time, event),
            "{\"v\":1,\"index\":3,\"prev\":\"" + prev_hex +
                "\",\"time\":\"2025-03-01T08:05:09.000042Z\",\"actor\":\"usr_1\",\"org\":\"bachu\","
                "\"action\":\"consultation.read\",\"outcome\":\"denied\","
                "\"objects\":[\"con_1\",\"fil_2\"],\"patient_ref\":\"P-2026-0042\","
                "\"remote\":\"10.0.0.7:51234\"}");
}

TEST(CanonicalRecord, HeaderIsThePrefix) {
  domain::AuditEvent event{"", "", "login", {}, domain::AuditOutcome::failed, "1.2.3.4:1"};
  const auto record = encode_record(0, zero_hash(), TimePoint{}, event);
  EXPECT_TRUE(record.starts_with(record_header(0, zero_hash())));
  EXPECT_FALSE(record.starts_with(record_header(1, zero_hash())));
  EXPECT_NE(record.find("\"objects\":[]"), std::string::npos);
}

TEST(CanonicalRecord, EscapesJsonSpecials) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01", 7));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(CanonicalRecord, DecodesWhatItEncodes) {
  domain::AuditEvent event{std::string("usr \"1\"\\\n\x01\xe6\x96\x87", 13), "bachu",
                           "case_file.read", {"fil_1", "", "con_\t2"},
                           domain::AuditOutcome::failed, "[::1]:443"};
  event.patient_reference = "P-1,\"patient_ref\":\"P-2\"";
  const auto previous = std::string(32, '\x5c');
  const TimePoint time(sys_days(year(2026) / 12 / 1).time_since_epoch() + microseconds(7));
  const auto decoded = decode_record(encode_record(12, previous, time, event));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->index, 12);
  std::string previous_hex;
  for (int i = 0; i < 32; ++i) previous_hex += "5c";
  EXPECT_EQ(decoded->previous_leaf_hash_hex, previous_hex);
  EXPECT_EQ(decoded->time, "2026-12-01T00:00:00.000007Z");
  EXPECT_EQ(decoded->actor, event.actor_id);
  EXPECT_EQ(decoded->organization, "bachu");
  EXPECT_EQ(decoded->action, "case_file.read");
  EXPECT_EQ(decoded->outcome, "failed");
  EXPECT_EQ(decoded->objects, event.object_ids);
  EXPECT_EQ(decoded->patient_reference, event.patient_reference);
  EXPECT_EQ(decoded->remote, "[::1]:443");

  event.object_ids.clear();
  const auto without_objects = decode_record(encode_record(0, zero_hash(), time, event));
  ASSERT_TRUE(without_objects);
  EXPECT_TRUE(without_objects->objects.empty());
  EXPECT_EQ(without_objects->remote, "[::1]:443");
}

TEST(CanonicalRecord, DecodeRejectsWhatEncodeNeverWrites) {
  domain::AuditEvent event{"usr_1", "bachu", "login", {"a"}, domain::AuditOutcome::success, ""};
  const auto line = encode_record(0, zero_hash(), TimePoint{}, event);
  ASSERT_TRUE(decode_record(line));
  EXPECT_FALSE(decode_record(line + " "));
  EXPECT_FALSE(decode_record(line.substr(0, line.size() - 1)));
  EXPECT_FALSE(decode_record(""));
  // The line with its first `from` replaced by `to`.
  const auto changed = [&](std::string_view from, std::string_view to) {
    auto copy = line;
    copy.replace(copy.find(from), from.size(), to);
    return copy;
  };
  EXPECT_FALSE(decode_record(changed("\"actor\"", "\"owner\"")));
  EXPECT_FALSE(decode_record(changed("usr_1", "usr\n1")));    // a raw control character
  EXPECT_FALSE(decode_record(changed("usr_1", "usr\\q")));   // an escape JSON has not
  EXPECT_FALSE(decode_record(changed("usr_1", "usr\\u0041")));  // one encode never writes
  EXPECT_FALSE(decode_record(changed("[\"a\"]", "[\"a\",]")));
  EXPECT_TRUE(decode_record(changed("usr_1", "usr\\u001f")));
}

// Records are hashed as written, so format_utc must write what the snprintf pattern
// "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ" writes, for any instant a record can hold.
TEST(CanonicalRecord, UtcTextIsTheFixedWidthPattern) {
  const auto pattern = [](TimePoint time) {
    const auto day = floor<days>(time);
    const year_month_day date(day);
    const hh_mm_ss clock(time - day);
    char text[48];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ",
                  static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                  static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()),
                  static_cast<long long>(clock.subseconds().count()));
    return std::string(text);
  };
  std::vector<TimePoint> times = {
      TimePoint{},                                                  // the epoch
      TimePoint{} - microseconds(1),                                // just before it
      TimePoint(sys_days(year(1) / 1 / 1).time_since_epoch()),      // single-digit year
      TimePoint(sys_days(year(999) / 12 / 31).time_since_epoch() + hours(23) + minutes(59) +
                seconds(59) + microseconds(999999)),
      TimePoint(sys_days(year(2000) / 2 / 29).time_since_epoch() + microseconds(10)),
      TimePoint(sys_days(year(9999) / 12 / 31).time_since_epoch() + hours(23)),
      TimePoint(sys_days(year(10000) / 1 / 1).time_since_epoch()),  // five digits
      TimePoint(sys_days(year(-1) / 6 / 15).time_since_epoch()),    // before year 0
  };
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 2000; ++i) {  // any microsecond from 1900 to 2200
    state = state * 6364136223846793005u + 1442695040888963407u;
    const auto span = (sys_days(year(2200) / 1 / 1) - sys_days(year(1900) / 1 / 1));
    const auto offset = microseconds(static_cast<std::int64_t>(
        (state >> 1) % static_cast<std::uint64_t>(duration_cast<microseconds>(span).count())));
    times.push_back(TimePoint(sys_days(year(1900) / 1 / 1).time_since_epoch() + offset));
  }
  for (const auto time : times) EXPECT_EQ(format_utc(time), pattern(time));
}

TEST(CanonicalRecord, UtcTextRoundTrips) {
  const TimePoint time(sys_days(year(2024) / 2 / 29).time_since_epoch() + hours(23) +
                       minutes(59) + seconds(59) + microseconds(999999));
  EXPECT_EQ(format_utc(time), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(parse_utc(format_utc(time)), time);
  EXPECT_EQ(parse_utc("2024-02-29"), TimePoint(sys_days(year(2024) / 2 / 29).time_since_epoch()));
  EXPECT_EQ(parse_utc("2024-02-29T10:30"),
            TimePoint(sys_days(year(2024) / 2 / 29).time_since_epoch() + hours(10) + minutes(30)));
  EXPECT_EQ(parse_utc("2024-02-29T10:30:00.5Z"),
            TimePoint(sys_days(year(2024) / 2 / 29).time_since_epoch() + hours(10) + minutes(30) +
                      milliseconds(500)));
  EXPECT_FALSE(parse_utc("2023-02-29"));
  EXPECT_FALSE(parse_utc("2024-13-01"));
  EXPECT_FALSE(parse_utc("yesterday"));
  EXPECT_FALSE(parse_utc("2024-02-29T25:00"));
  EXPECT_FALSE(parse_utc("2024-02-29T10:30+08:00"));
}

}  // namespace
}  // namespace tmc::audit

// IANA time zones (the OS tz database via Howard Hinnant's date/tz): look-ups, wall-clock parsing
// and formatting. Its own library (tmc::time_zone), shared with the client, which shows times
// exactly as the server computes them without linking the rest of the domain.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace tmc::domain {

// True when name is a zone of the IANA database installed on this machine (e.g. "Asia/Urumqi").
bool is_known_time_zone(const std::string& name);

// The zone named `name`, or nullptr when the tz database does not know it.
const date::time_zone* find_zone(const std::string& name);

// "HH:MM" as minutes since midnight (00:00-23:59; also "24:00" when allow_end_of_day).
std::optional<std::chrono::minutes> parse_clock(const std::string& text, bool allow_end_of_day);

// "YYYY-MM-DD" as a local date; impossible dates such as 2026-02-30 are refused.
std::optional<date::local_days> parse_date(const std::string& text);

// The instant a wall-clock time denotes in `zone`: the earlier one when ambiguous (fall back),
// none when the clocks skip it (spring forward).
std::optional<date::sys_seconds> resolve_earliest(const date::time_zone& zone,
                                                  date::local_seconds local);

// Like resolve_earliest, but a skipped wall-clock time maps to the instant the clocks jumped
// (where an interval must end at the latest when its wall-clock end falls into the gap).
date::sys_seconds resolve_boundary(const date::time_zone& zone, date::local_seconds local);

// "2026-12-01 14:00 CST (UTC+08:00, Asia/Shanghai)"; the zone abbreviation is left out when the
// tz database only has a numeric one: "2026-12-01 12:00 (UTC+06:00, Asia/Urumqi)". An unknown
// zone formats in UTC: "2026-12-01 06:00 (UTC+00:00, UTC)".
std::string format_local(TimePoint instant, const std::string& time_zone);

// A slot for a viewer: "2026-12-01 14:00-14:30 CST (UTC+08:00, Asia/Shanghai)"; the end carries
// its own date when it falls on another local day.
std::string format_local_range(TimePoint starts_at, TimePoint ends_at,
                               const std::string& time_zone);

// The wall clock at `instant` in `time_zone` through a date::format pattern, to the minute:
// format_wall_clock(t, "Asia/Urumqi", "%a %Y-%m-%d %H:%M") == "Tue 2026-12-01 12:00". An
// unknown zone formats in UTC.
std::string format_wall_clock(TimePoint instant, const std::string& time_zone,
                              const std::string& pattern);

// "2026-12-01 06:00Z" (for logs and error messages).
std::string format_utc(TimePoint instant);

// Parses "YYYY-MM-DD HH:MM" (or with 'T' as separator) as wall-clock time in `time_zone`.
// An ambiguous time (fall back) resolves to the earlier instant. Errors (INVALID_ARGUMENT):
// unknown zone, malformed text, a local time that does not exist in the zone (spring forward).
Result<TimePoint> parse_local(const std::string& local_datetime, const std::string& time_zone);

}  // namespace tmc::domain

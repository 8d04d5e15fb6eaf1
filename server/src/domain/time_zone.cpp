// IANA time zones (the OS tz database via Howard Hinnant's date/tz): look-ups, wall-clock parsing
// and formatting.
#include "domain/time_zone.hpp"

#include <date/date.h>

#include <cctype>
#include <stdexcept>
#include <utility>

#include "domain/parse_errors.hpp"

namespace tmc::domain {
namespace {

using date::days;
using std::chrono::floor;
using std::chrono::minutes;
using std::chrono::seconds;

// Digits text[pos..pos+count) as a number, or -1 when any is not a digit.
int parse_digits(const std::string& text, std::size_t pos, std::size_t count) {
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

date::sys_seconds shift(date::local_seconds local, seconds offset) {
  return date::sys_seconds(local.time_since_epoch() - offset);
}

// The wall clock at `instant` in `zone` (nullptr = UTC) and how to label it.
struct LocalView {
  date::sys_seconds wall;  // local wall-clock time, carried in a sys_time for formatting
  seconds offset{};
  std::string suffix;  // " CST (UTC+08:00, Asia/Shanghai)"
};

std::string format_offset(seconds offset) {
  const char sign = offset < seconds::zero() ? '-' : '+';
  const auto total = floor<minutes>(offset < seconds::zero() ? -offset : offset).count();
  std::string text = "UTC";
  text += sign;
  text += date::format("%H:%M", date::sys_time<minutes>(minutes(total)));
  return text;
}

LocalView view(TimePoint instant, const date::time_zone* zone) {
  const auto at = floor<seconds>(instant);
  LocalView local;
  std::string abbreviation;
  std::string name = "UTC";
  if (zone != nullptr) {
    const date::sys_info info = zone->get_info(at);
    local.offset = info.offset;
    abbreviation = info.abbrev;
    name = zone->name();
  }
  local.wall = at + local.offset;
  local.suffix = " ";
  // The tz database spells zones without a customary abbreviation numerically ("+06").
  const bool alphabetic =
      !abbreviation.empty() && std::isalpha(static_cast<unsigned char>(abbreviation[0]));
  if (alphabetic && abbreviation != name) local.suffix += abbreviation + " ";
  local.suffix += "(" + format_offset(local.offset) + ", " + name + ")";
  return local;
}

std::string format_wall(date::sys_seconds wall, const char* pattern) {
  return date::format(pattern, floor<minutes>(wall));
}

}  // namespace

bool is_known_time_zone(const std::string& name) {
  if (name.empty()) return false;
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::runtime_error&) {
    return false;
  }
}

const date::time_zone* find_zone(const std::string& name) {
  return is_known_time_zone(name) ? date::locate_zone(name) : nullptr;
}

std::optional<minutes> parse_clock(const std::string& text, bool allow_end_of_day) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  const int hours = parse_digits(text, 0, 2);
  const int mins = parse_digits(text, 3, 2);
  if (hours < 0 || mins < 0 || mins > 59) return std::nullopt;
  if (hours > 23 && !(allow_end_of_day && hours == 24 && mins == 0)) return std::nullopt;
  return minutes(hours * 60 + mins);
}

std::optional<date::local_days> parse_date(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const int year = parse_digits(text, 0, 4);
  const int month = parse_digits(text, 5, 2);
  const int day = parse_digits(text, 8, 2);
  if (year < 0 || month < 0 || day < 0) return std::nullopt;
  const date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                                 date::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  return date::local_days(ymd);
}

std::optional<date::sys_seconds> resolve_earliest(const date::time_zone& zone,
                                                  date::local_seconds local) {
  const date::local_info info = zone.get_info(local);
  if (info.result == date::local_info::nonexistent) return std::nullopt;
  return shift(local, info.first.offset);
}

date::sys_seconds resolve_boundary(const date::time_zone& zone, date::local_seconds local) {
  const date::local_info info = zone.get_info(local);
  if (info.result == date::local_info::nonexistent) return info.second.begin;
  return shift(local, info.first.offset);
}

std::string format_local(TimePoint instant, const std::string& time_zone) {
  const LocalView local = view(instant, find_zone(time_zone));
  return format_wall(local.wall, "%Y-%m-%d %H:%M") + local.suffix;
}

std::string format_local_range(TimePoint starts_at, TimePoint ends_at,
                               const std::string& time_zone) {
  const date::time_zone* zone = find_zone(time_zone);
  const LocalView start = view(starts_at, zone);
  const LocalView end = view(ends_at, zone);
  if (start.offset != end.offset) {
    // The clocks change inside the slot: label each end with its own offset.
    return format_local(starts_at, time_zone) + " - " + format_local(ends_at, time_zone);
  }
  const bool same_day = floor<days>(start.wall) == floor<days>(end.wall);
  return format_wall(start.wall, "%Y-%m-%d %H:%M") + "-" +
         format_wall(end.wall, same_day ? "%H:%M" : "%Y-%m-%d %H:%M") + start.suffix;
}

std::string format_wall_clock(TimePoint instant, const std::string& time_zone,
                              const std::string& pattern) {
  return format_wall(view(instant, find_zone(time_zone)).wall, pattern.c_str());
}

std::string format_utc(TimePoint instant) {
  return date::format("%Y-%m-%d %H:%MZ", floor<minutes>(instant));
}

Result<TimePoint> parse_local(const std::string& local_datetime, const std::string& time_zone) {
  const date::time_zone* zone = find_zone(time_zone);
  if (zone == nullptr) return invalid("unknown time zone " + quoted(time_zone));
  const bool separator_ok =
      local_datetime.size() == 16 && (local_datetime[10] == ' ' || local_datetime[10] == 'T');
  const auto day = separator_ok ? parse_date(local_datetime.substr(0, 10)) : std::nullopt;
  const auto clock = separator_ok ? parse_clock(local_datetime.substr(11), false) : std::nullopt;
  if (!day || !clock) {
    return invalid("local time " + quoted(local_datetime) + " is not \"YYYY-MM-DD HH:MM\"");
  }
  const auto instant = resolve_earliest(*zone, *day + *clock);
  if (!instant) {
    return invalid("local time " + local_datetime + " does not exist in " + time_zone +
                   " (the clocks skip it)");
  }
  return std::chrono::time_point_cast<std::chrono::microseconds>(*instant);
}

}  // namespace tmc::domain

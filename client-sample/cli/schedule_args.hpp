// The `tmc-client schedule` subcommands and their parsing into requests, without any I/O.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "telemed/v1/frames.pb.h"

namespace tmc::cli {

enum class ScheduleAction { publish, withdraw, slots, book, cancel, reschedule, list };

struct ScheduleSubcommand {
  std::string_view name;
  std::string_view synopsis;  // arguments and options, after the name
  ScheduleAction action;
};

// Every subcommand, in the order help lists them.
std::span<const ScheduleSubcommand> schedule_subcommands();

// One parsed `schedule` command line. Local dates and times stay text until the zone they are
// in is known (--tz, else the caller's organisation's zone): see schedule_request().
struct ScheduleInvocation {
  const ScheduleSubcommand* subcommand = nullptr;
  std::string time_zone;  // --tz: the zone times are typed and shown in; empty = the caller's

  // publish: a weekly rule (weekdays set) or one single slot (at set).
  std::string specialist_id;
  std::vector<telemed::v1::Weekday> weekdays;
  std::string local_start;  // "HH:MM"
  std::string local_end;    // "HH:MM"
  int slot_minutes = 0;
  int capacity = 1;
  std::string valid_from;   // "YYYY-MM-DD" or empty
  std::string valid_until;  // "YYYY-MM-DD" or empty
  std::string at;           // "YYYY-MM-DD HH:MM" or empty

  // slots, list: local dates, --to inclusive; empty = the server's default window.
  std::string from_date;
  std::string to_date;
  std::string specialty;  // slots

  // book, cancel, reschedule.
  std::string slot_id;
  std::string consultation_id;
  std::string appointment_id;
  std::string reason;

  bool print_ids = false;  // slots: only the slot ids; book: only the appointment id
};

// args[0] is the subcommand. Throws UsageError naming the subcommand and its synopsis.
ScheduleInvocation parse_schedule(const std::vector<std::string>& args);

// The request that carries the invocation out, local dates and times read in `time_zone`
// (an IANA name). Throws UsageError for an unknown zone or a malformed or non-existent local
// date or time.
telemed::v1::ClientFrame schedule_request(const ScheduleInvocation& invocation,
                                          const std::string& time_zone);

// "30m", "30", "1h", "1h30m", "90min" as minutes (1 minute to 24 hours). Throws UsageError.
int parse_minutes(std::string_view text);

// "tue,thu", "mon-fri", "Monday,wed": ISO weekdays in the order given, each once; a range runs
// forward from the first day to the second. Throws UsageError.
std::vector<telemed::v1::Weekday> parse_weekdays(std::string_view text);

// The subcommands' help (for `schedule --help` and the command table).
std::string schedule_help();

}  // namespace tmc::cli

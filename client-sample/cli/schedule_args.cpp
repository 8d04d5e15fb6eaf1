// The `tmc-client schedule` subcommands and their parsing into requests, without any I/O.
#include "cli/schedule_args.hpp"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <array>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <cctype>
#include <cstdint>
#include <optional>
#include <sstream>

#include "cli/context.hpp"
#include "cli/output.hpp"
#include "domain/time_zone.hpp"
#include "tmc/client/scheduling.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
namespace requests = client::requests;
namespace v1 = telemed::v1;
using google::protobuf::Timestamp;

namespace {

constexpr std::array subcommands{
    ScheduleSubcommand{"publish",
                       "--weekdays tue,thu --from HH:MM --to HH:MM --slot 30m [--capacity N] "
                       "[--valid-from DATE] [--valid-until DATE] [--tz ZONE] [--specialist ID]\n"
                       "                   (a rule: replaces the specialist's earlier rules)\n"
                       "                   or --at 'YYYY-MM-DD HH:MM' --length 30m [--capacity N] "
                       "[--tz ZONE] [--specialist ID] (one extra slot)",
                       ScheduleAction::publish},
    ScheduleSubcommand{"withdraw", "[--specialist ID]  (withdraws every rule; booked slots stay)",
                       ScheduleAction::withdraw},
    ScheduleSubcommand{"slots",
                       "--specialty NAME | --specialist ID [--from DATE] [--to DATE] [--tz ZONE] "
                       "[--print-ids]",
                       ScheduleAction::slots},
    ScheduleSubcommand{"book", "SLOT --consultation ID [--tz ZONE] [--print-id]",
                       ScheduleAction::book},
    ScheduleSubcommand{"cancel", "APPOINTMENT [--reason TEXT] [--tz ZONE]",
                       ScheduleAction::cancel},
    ScheduleSubcommand{"reschedule", "APPOINTMENT --slot SLOT [--tz ZONE]",
                       ScheduleAction::reschedule},
    ScheduleSubcommand{"list", "[--from DATE] [--to DATE] [--tz ZONE]", ScheduleAction::list},
};

std::string lower(std::string_view text) {
  std::string result;
  for (char c : text) result += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string string_option(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 ? vm[name].as<std::string>() : std::string();
}

void add_zone_option(po::options_description& options) {
  options.add_options()("tz", po::value<std::string>(),
                        "IANA time zone of the times typed and shown (default: your "
                        "organisation's)");
}

// The id as first positional plus the options.
po::variables_map parse_with_id(const std::vector<std::string>& args, const char* id_name,
                                po::options_description options) {
  options.add_options()(id_name, po::value<std::string>()->required(), "id");
  add_zone_option(options);
  po::positional_options_description positional;
  positional.add(id_name, 1);
  return parse_command_options(args, options, positional);
}

void parse_publish(const std::vector<std::string>& args, ScheduleInvocation& invocation) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("weekdays", po::value<std::string>(), "days of the rule, e.g. tue,thu or mon-fri")
      ("from", po::value<std::string>(), "local start time HH:MM of the rule")
      ("to", po::value<std::string>(), "local end time HH:MM of the rule")
      ("slot", po::value<std::string>(), "slot length of the rule, e.g. 30m")
      ("valid-from", po::value<std::string>(), "first day YYYY-MM-DD of the rule")
      ("valid-until", po::value<std::string>(), "last day YYYY-MM-DD of the rule")
      ("at", po::value<std::string>(), "start 'YYYY-MM-DD HH:MM' of a single slot")
      ("length", po::value<std::string>(), "length of the single slot, e.g. 45m")
      ("capacity", po::value<int>()->default_value(1), "bookings each slot takes")
      ("specialist", po::value<std::string>(), "publish for this specialist (coordinators)");
  // clang-format on
  add_zone_option(options);
  const auto vm = parse_command_options(args, options);
  invocation.time_zone = string_option(vm, "tz");
  invocation.specialist_id = string_option(vm, "specialist");
  invocation.capacity = vm["capacity"].as<int>();
  if (invocation.capacity < 1) throw UsageError("--capacity must be at least 1");

  const bool rule = vm.count("weekdays") != 0;
  const bool single = vm.count("at") != 0;
  if (rule == single) throw UsageError("give either --weekdays (a rule) or --at (a single slot)");
  auto require = [&](const char* name) {
    if (vm.count(name) == 0) {
      throw UsageError(std::string("--") + name + " is required with " +
                       (rule ? "--weekdays" : "--at"));
    }
    return vm[name].as<std::string>();
  };
  auto refuse = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (vm.count(name) != 0) {
        throw UsageError(std::string("--") + name + " does not go with " +
                         (rule ? "--weekdays" : "--at"));
      }
    }
  };
  if (rule) {
    refuse({"length"});
    invocation.weekdays = parse_weekdays(vm["weekdays"].as<std::string>());
    invocation.local_start = require("from");
    invocation.local_end = require("to");
    invocation.slot_minutes = parse_minutes(require("slot"));
    invocation.valid_from = string_option(vm, "valid-from");
    invocation.valid_until = string_option(vm, "valid-until");
  } else {
    refuse({"from", "to", "slot", "valid-from", "valid-until"});
    invocation.at = vm["at"].as<std::string>();
    invocation.slot_minutes = parse_minutes(require("length"));
  }
}

void parse_range(const std::vector<std::string>& args, ScheduleInvocation& invocation,
                 bool slots) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("from", po::value<std::string>(), "first day YYYY-MM-DD (default: now)")
      ("to", po::value<std::string>(), "last day YYYY-MM-DD, inclusive (default: 30 days on)");
  // clang-format on
  if (slots) {
    // clang-format off
    options.add_options()
        ("specialty", po::value<std::string>(), "specialists of this specialty")
        ("specialist", po::value<std::string>(), "only this specialist")
        ("print-ids", po::bool_switch(), "print only the slot ids, one per line");
    // clang-format on
  }
  add_zone_option(options);
  const auto vm = parse_command_options(args, options);
  invocation.time_zone = string_option(vm, "tz");
  invocation.from_date = string_option(vm, "from");
  invocation.to_date = string_option(vm, "to");
  if (slots) {
    invocation.specialty = string_option(vm, "specialty");
    invocation.specialist_id = string_option(vm, "specialist");
    invocation.print_ids = vm["print-ids"].as<bool>();
    if (invocation.specialty.empty() && invocation.specialist_id.empty()) {
      throw UsageError("give --specialty or --specialist");
    }
  }
}

void parse_action(const std::vector<std::string>& args, ScheduleInvocation& invocation) {
  switch (invocation.subcommand->action) {
    case ScheduleAction::publish: parse_publish(args, invocation); break;
    case ScheduleAction::withdraw: {
      po::options_description options;
      options.add_options()("specialist", po::value<std::string>(),
                            "withdraw this specialist's rules (coordinators)");
      invocation.specialist_id = string_option(parse_command_options(args, options), "specialist");
      break;
    }
    case ScheduleAction::slots: parse_range(args, invocation, true); break;
    case ScheduleAction::list: parse_range(args, invocation, false); break;
    case ScheduleAction::book: {
      po::options_description options;
      // clang-format off
      options.add_options()
          ("consultation", po::value<std::string>()->required(), "consultation to review")
          ("print-id", po::bool_switch(), "print only the appointment id");
      // clang-format on
      const auto vm = parse_with_id(args, "slot-id", options);
      invocation.slot_id = vm["slot-id"].as<std::string>();
      invocation.consultation_id = vm["consultation"].as<std::string>();
      invocation.print_ids = vm["print-id"].as<bool>();
      invocation.time_zone = string_option(vm, "tz");
      break;
    }
    case ScheduleAction::cancel: {
      po::options_description options;
      options.add_options()("reason", po::value<std::string>(), "why, for the other side");
      const auto vm = parse_with_id(args, "appointment-id", options);
      invocation.appointment_id = vm["appointment-id"].as<std::string>();
      invocation.reason = string_option(vm, "reason");
      invocation.time_zone = string_option(vm, "tz");
      break;
    }
    case ScheduleAction::reschedule: {
      po::options_description options;
      options.add_options()("slot", po::value<std::string>()->required(), "the new slot");
      const auto vm = parse_with_id(args, "appointment-id", options);
      invocation.appointment_id = vm["appointment-id"].as<std::string>();
      invocation.slot_id = vm["slot"].as<std::string>();
      invocation.time_zone = string_option(vm, "tz");
      break;
    }
  }
  if (!invocation.time_zone.empty() && !domain::is_known_time_zone(invocation.time_zone)) {
    throw UsageError("unknown time zone \"" + invocation.time_zone +
                     "\" (an IANA name such as Asia/Urumqi or Asia/Shanghai)");
  }
}

// The instant local midnight starts `day` (or the instant the clocks jumped, should they skip
// midnight), plus `plus_days` days.
Timestamp local_day_start(const std::string& day, int plus_days, const std::string& time_zone,
                          const char* option) {
  const auto parsed = domain::parse_date(day);
  if (!parsed) throw UsageError(std::string("--") + option + " \"" + day + "\" is not YYYY-MM-DD");
  const date::time_zone* zone = domain::find_zone(time_zone);
  if (zone == nullptr) throw UsageError("unknown time zone \"" + time_zone + "\"");
  const auto local = date::local_seconds(*parsed + date::days(plus_days));
  const auto instant = domain::resolve_boundary(*zone, local);
  return google::protobuf::util::TimeUtil::SecondsToTimestamp(instant.time_since_epoch().count());
}

v1::ClientFrame publish_request(const ScheduleInvocation& invocation,
                                const std::string& time_zone) {
  v1::PublishAvailabilityRequest request;
  request.set_specialist_id(invocation.specialist_id);
  const auto capacity = static_cast<std::uint32_t>(invocation.capacity);
  const auto slot_minutes = static_cast<std::uint32_t>(invocation.slot_minutes);
  if (invocation.at.empty()) {
    auto& rule = *request.add_rules();
    for (const auto weekday : invocation.weekdays) rule.add_weekdays(weekday);
    rule.set_local_start(invocation.local_start);
    rule.set_local_end(invocation.local_end);
    rule.set_time_zone(time_zone);
    rule.set_slot_minutes(slot_minutes);
    rule.set_capacity(capacity);
    rule.set_valid_from(invocation.valid_from);
    rule.set_valid_until(invocation.valid_until);
  } else {
    const auto starts_at = domain::parse_local(invocation.at, time_zone);
    if (!starts_at) throw UsageError("--at: " + starts_at.error().message);
    using google::protobuf::util::TimeUtil;
    const auto ends_at = *starts_at + std::chrono::minutes(invocation.slot_minutes);
    auto& slot = *request.add_slots();
    *slot.mutable_starts_at() =
        TimeUtil::MicrosecondsToTimestamp(starts_at->time_since_epoch().count());
    *slot.mutable_ends_at() = TimeUtil::MicrosecondsToTimestamp(ends_at.time_since_epoch().count());
    slot.set_capacity(capacity);
  }
  return requests::publish_availability(std::move(request));
}

}  // namespace

std::span<const ScheduleSubcommand> schedule_subcommands() { return subcommands; }

ScheduleInvocation parse_schedule(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing subcommand\n" + schedule_help());
  const auto it = std::ranges::find(subcommands, args.front(), &ScheduleSubcommand::name);
  if (it == subcommands.end()) {
    throw UsageError("unknown schedule subcommand \"" + args.front() + "\"\n" + schedule_help());
  }
  ScheduleInvocation invocation;
  invocation.subcommand = &*it;
  try {
    parse_action({args.begin() + 1, args.end()}, invocation);
  } catch (const UsageError& e) {
    throw UsageError("schedule " + std::string(it->name) + ": " + e.what() +
                     "\nusage: tmc-client schedule " + std::string(it->name) + ' ' +
                     std::string(it->synopsis));
  }
  return invocation;
}

v1::ClientFrame schedule_request(const ScheduleInvocation& invocation,
                                 const std::string& time_zone) {
  std::optional<Timestamp> from;
  std::optional<Timestamp> to;
  if (!invocation.from_date.empty()) {
    from = local_day_start(invocation.from_date, 0, time_zone, "from");
  }
  if (!invocation.to_date.empty()) {
    to = local_day_start(invocation.to_date, 1, time_zone, "to");
  }
  switch (invocation.subcommand->action) {
    case ScheduleAction::publish: return publish_request(invocation, time_zone);
    case ScheduleAction::withdraw:
      return requests::withdraw_availability_rules(invocation.specialist_id);
    case ScheduleAction::slots:
      return requests::list_slots(invocation.specialty, invocation.specialist_id, from, to);
    case ScheduleAction::list: return requests::list_appointments(from, to);
    case ScheduleAction::book:
      return requests::book_review(invocation.slot_id, invocation.consultation_id);
    case ScheduleAction::cancel:
      return requests::cancel_appointment(invocation.appointment_id, invocation.reason);
    case ScheduleAction::reschedule:
      return requests::reschedule_appointment(invocation.appointment_id, invocation.slot_id);
  }
  throw UsageError("unknown schedule subcommand");
}

int parse_minutes(std::string_view text) {
  const std::string spelled = lower(text);
  auto bad = [&] {
    return UsageError("bad length \"" + std::string(text) +
                      "\"; expected minutes or hours such as 30m, 45, 1h or 1h30m");
  };
  long total = 0;
  std::size_t pos = 0;
  bool any = false;
  while (pos < spelled.size()) {
    std::size_t digits = pos;
    while (digits < spelled.size() && std::isdigit(static_cast<unsigned char>(spelled[digits]))) {
      ++digits;
    }
    if (digits == pos || digits - pos > 4) throw bad();
    const long number = std::stol(spelled.substr(pos, digits - pos));
    std::size_t unit_end = digits;
    while (unit_end < spelled.size() &&
           std::isalpha(static_cast<unsigned char>(spelled[unit_end]))) {
      ++unit_end;
    }
    const std::string unit = spelled.substr(digits, unit_end - digits);
    if (unit == "h" || unit == "hour" || unit == "hours") {
      total += number * 60;
    } else if (unit.empty() || unit == "m" || unit == "min" || unit == "minutes") {
      total += number;
    } else {
      throw bad();
    }
    any = true;
    pos = unit_end;
  }
  if (!any || total < 1 || total > 24 * 60) throw bad();
  return static_cast<int>(total);
}

std::vector<v1::Weekday> parse_weekdays(std::string_view text) {
  static constexpr std::array<std::string_view, 7> names{"monday",   "tuesday", "wednesday",
                                                         "thursday", "friday",  "saturday",
                                                         "sunday"};
  // ISO number (1..7) of a day name or its first three letters or more.
  auto day_number = [&](const std::string& word) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (word.size() >= 3 && names[i].starts_with(word)) return static_cast<int>(i) + 1;
    }
    throw UsageError("bad weekday \"" + word + "\"; expected mon, tue, wed, thu, fri, sat, sun");
  };
  std::vector<v1::Weekday> days;
  auto add = [&](int iso) {
    const auto day = static_cast<v1::Weekday>(iso);
    if (std::ranges::find(days, day) == days.end()) days.push_back(day);
  };
  std::stringstream items(lower(text));
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      add(day_number(item));
      continue;
    }
    const int first = day_number(item.substr(0, dash));
    const int last = day_number(item.substr(dash + 1));
    for (int day = first;; day = day % 7 + 1) {
      add(day);
      if (day == last) break;
    }
  }
  if (days.empty()) throw UsageError("--weekdays: give at least one day, e.g. tue,thu");
  return days;
}

std::string schedule_help() {
  std::ostringstream text;
  text << "schedule subcommands (times are shown in --tz, default your organisation's zone,\n"
          "with the specialist's zone alongside):\n";
  for (const auto& subcommand : subcommands) {
    text << "  schedule " << subcommand.name << ' ' << subcommand.synopsis << '\n';
  }
  return text.str();
}

}  // namespace tmc::cli

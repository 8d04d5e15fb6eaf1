// tmc-client schedule: publish, withdraw, slots, book, cancel, reschedule, list.
#include <ostream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/schedule_args.hpp"
#include "cli/schedule_view.hpp"
#include "tmc/client/scheduling.hpp"

namespace tmc::cli {
namespace v1 = telemed::v1;

namespace {

// Slots a publish answer shows before summing up the rest.
constexpr int kPublishedShown = 6;

// The directory for showing times (organisations' zones, visible specialists), pipelined.
ScheduleDirectory load_directory(CommandContext& context) {
  v1::ClientFrame organizations;
  organizations.mutable_list_organizations();
  v1::ClientFrame specialists;
  specialists.mutable_list_specialists();  // every specialist the caller may look up
  const auto responses = context.call_all({std::move(organizations), std::move(specialists)});
  return ScheduleDirectory(responses[0].list_organizations(), responses[1].list_specialists());
}

// --tz, else the caller's organisation's zone.
std::string viewer_zone(const ScheduleInvocation& invocation, const ScheduleDirectory& directory,
                        const v1::User& caller) {
  if (!invocation.time_zone.empty()) return invocation.time_zone;
  std::string zone = directory.organization_zone(caller.organization_id());
  if (zone.empty()) {
    throw CommandError("your organisation has no time zone on record; give --tz ZONE");
  }
  return zone;
}

void print_published(CommandContext& context, const v1::PublishAvailabilityResult& result,
                     const ScheduleDirectory& directory, const std::string& zone) {
  const auto& slots = result.slots();
  if (slots.empty()) {
    context.out() << "no new slots\n";
    return;
  }
  context.out() << "published " << slots.size() << " slot(s) for "
                << directory.specialist_label(slots.begin()->specialist_id()) << ":\n";
  google::protobuf::RepeatedPtrField<v1::Slot> shown;
  for (int i = 0; i < slots.size() && i < kPublishedShown; ++i) *shown.Add() = slots.Get(i);
  print_slots(context.out(), shown, directory, zone);
  if (slots.size() > kPublishedShown) {
    context.out() << "... and " << slots.size() - kPublishedShown
                  << " more (tmc-client schedule slots --specialist "
                  << slots.begin()->specialist_id() << ")\n";
  }
}

void print_appointment(CommandContext& context, const char* verb,
                       const v1::Appointment& appointment, const ScheduleDirectory& directory,
                       const std::string& zone) {
  context.out() << verb << " appointment " << appointment.id() << " for consultation "
                << appointment.consultation_id() << " with "
                << directory.specialist_label(appointment.specialist_id()) << ": "
                << format_span(appointment.starts_at(), appointment.ends_at(), zone,
                               directory.specialist_zone(appointment.specialist_id()))
                << " (" << appointment_state_label(appointment.state()) << ")\n";
}

}  // namespace

int run_schedule(CommandContext& context, const std::vector<std::string>& args) {
  const ScheduleInvocation invocation = parse_schedule(args);
  const v1::User caller = context.resume_session().user();
  const ScheduleDirectory directory = load_directory(context);
  const std::string zone = viewer_zone(invocation, directory, caller);
  const v1::Response response = context.call(schedule_request(invocation, zone));

  switch (invocation.subcommand->action) {
    case ScheduleAction::withdraw:
      if (context.json()) {
        print_json(context.out(), response.publish_availability());
      } else {
        context.out() << "withdrew the weekly hours; unbooked future slots from them are gone, "
                         "booked reviews stay\n";
      }
      return 0;
    case ScheduleAction::publish:
      if (context.json()) {
        print_json(context.out(), response.publish_availability());
      } else {
        print_published(context, response.publish_availability(), directory, zone);
      }
      return 0;
    case ScheduleAction::slots:
      if (invocation.print_ids) {
        for (const auto& slot : response.list_slots().slots()) context.out() << slot.id() << '\n';
      } else if (context.json()) {
        print_json(context.out(), response.list_slots());
      } else {
        print_slots(context.out(), response.list_slots().slots(), directory, zone);
      }
      return 0;
    case ScheduleAction::list:
      if (context.json()) {
        print_json(context.out(), response.list_appointments());
      } else {
        print_appointments(context.out(), response.list_appointments().appointments(), directory,
                           zone);
      }
      return 0;
    case ScheduleAction::book:
    case ScheduleAction::cancel:
    case ScheduleAction::reschedule: {
      const v1::Appointment& appointment = response.appointment();
      if (invocation.print_ids) {
        context.out() << appointment.id() << '\n';
      } else if (context.json()) {
        print_json(context.out(), appointment);
      } else {
        const char* verb = invocation.subcommand->action == ScheduleAction::book     ? "booked"
                           : invocation.subcommand->action == ScheduleAction::cancel ? "cancelled"
                                                                                     : "moved";
        print_appointment(context, verb, appointment, directory, zone);
      }
      return 0;
    }
  }
  return 0;
}

}  // namespace tmc::cli

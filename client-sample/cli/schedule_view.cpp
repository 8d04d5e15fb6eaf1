// How tmc-client shows slots and appointments: in the viewer's zone, the specialist's alongside.
#include "cli/schedule_view.hpp"

#include <google/protobuf/util/time_util.h>

#include "cli/output.hpp"
#include "domain/time_zone.hpp"

namespace tmc::cli {
namespace v1 = telemed::v1;

namespace {

TimePoint to_time_point(const google::protobuf::Timestamp& time) {
  return TimePoint(std::chrono::microseconds(
      google::protobuf::util::TimeUtil::TimestampToMicroseconds(time)));
}

constexpr const char* kDay = "%a %Y-%m-%d";
constexpr const char* kClock = "%H:%M";

// start-end in zone; the date is written before a time whose local date differs from
// `shown_date` (the date the reader already has in mind; empty = none yet).
std::string local_interval(TimePoint starts_at, TimePoint ends_at, const std::string& zone,
                           std::string shown_date) {
  std::string text;
  for (const TimePoint at : {starts_at, ends_at}) {
    const std::string day = domain::format_wall_clock(at, zone, kDay);
    if (!text.empty()) text += '-';
    if (day != shown_date) text += day + ' ';
    text += domain::format_wall_clock(at, zone, kClock);
    shown_date = day;
  }
  return text + ' ' + zone;
}

}  // namespace

ScheduleDirectory::ScheduleDirectory(const v1::ListOrganizationsResult& organizations,
                                     const v1::ListSpecialistsResult& specialists) {
  for (const auto& organization : organizations.organizations()) {
    organizations_[organization.id()] = {organization.name(), organization.time_zone()};
  }
  for (const auto& user : specialists.users()) specialists_[user.id()] = user;
}

std::string ScheduleDirectory::organization_zone(const std::string& organization_id) const {
  const auto it = organizations_.find(organization_id);
  return it == organizations_.end() ? std::string() : it->second.time_zone;
}

std::string ScheduleDirectory::specialist_zone(const std::string& specialist_id) const {
  const auto it = specialists_.find(specialist_id);
  return it == specialists_.end() ? std::string() : organization_zone(it->second.organization_id());
}

std::string ScheduleDirectory::specialist_label(const std::string& specialist_id) const {
  const auto it = specialists_.find(specialist_id);
  if (it == specialists_.end()) return specialist_id;
  const auto organization = organizations_.find(it->second.organization_id());
  std::string label = it->second.display_name();
  if (organization != organizations_.end()) label += " (" + organization->second.name + ")";
  return label;
}

std::string format_span(const google::protobuf::Timestamp& starts_at,
                        const google::protobuf::Timestamp& ends_at, const std::string& viewer_zone,
                        const std::string& specialist_zone) {
  const TimePoint start = to_time_point(starts_at);
  const TimePoint end = to_time_point(ends_at);
  std::string text = local_interval(start, end, viewer_zone, {});
  if (!specialist_zone.empty() && specialist_zone != viewer_zone) {
    text += " (" +
            local_interval(start, end, specialist_zone,
                           domain::format_wall_clock(start, viewer_zone, kDay)) +
            ')';
  }
  return text;
}

std::string appointment_state_label(v1::AppointmentState state) {
  return enum_label(v1::AppointmentState_Name(state), "APPOINTMENT_STATE_");
}

void print_slots(std::ostream& out, const google::protobuf::RepeatedPtrField<v1::Slot>& slots,
                 const ScheduleDirectory& directory, const std::string& viewer_zone) {
  Table table({"SLOT", "WHEN", "SPECIALIST", "FREE"});
  for (const auto& slot : slots) {
    table.add_row({slot.id(),
                   format_span(slot.starts_at(), slot.ends_at(), viewer_zone,
                               directory.specialist_zone(slot.specialist_id())),
                   directory.specialist_label(slot.specialist_id()),
                   std::to_string(slot.capacity() - slot.booked()) + '/' +
                       std::to_string(slot.capacity())});
  }
  if (table.empty()) {
    out << "no free slots\n";
  } else {
    table.print(out);
  }
}

void print_appointments(std::ostream& out,
                        const google::protobuf::RepeatedPtrField<v1::Appointment>& appointments,
                        const ScheduleDirectory& directory, const std::string& viewer_zone) {
  Table table({"APPOINTMENT", "WHEN", "STATE", "CONSULTATION", "SPECIALIST"});
  for (const auto& appointment : appointments) {
    table.add_row({appointment.id(),
                   format_span(appointment.starts_at(), appointment.ends_at(), viewer_zone,
                               directory.specialist_zone(appointment.specialist_id())),
                   appointment_state_label(appointment.state()), appointment.consultation_id(),
                   directory.specialist_label(appointment.specialist_id())});
  }
  if (table.empty()) {
    out << "no appointments\n";
  } else {
    table.print(out);
  }
}

}  // namespace tmc::cli

// How tmc-client shows slots and appointments: in the viewer's zone, the specialist's alongside.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <map>
#include <ostream>
#include <string>

#include "telemed/v1/frames.pb.h"

namespace tmc::cli {

// Organisations' time zones and names, and the specialists the caller may look up.
class ScheduleDirectory {
 public:
  ScheduleDirectory(const telemed::v1::ListOrganizationsResult& organizations,
                    const telemed::v1::ListSpecialistsResult& specialists);

  // The organisation's IANA zone; empty when unknown.
  std::string organization_zone(const std::string& organization_id) const;
  // The zone of the specialist's organisation; empty when the caller cannot look them up.
  std::string specialist_zone(const std::string& specialist_id) const;
  // "Dr. Kong Jie (Jining Partner Hospital)", or the id when unknown.
  std::string specialist_label(const std::string& specialist_id) const;

 private:
  struct Organization {
    std::string name;
    std::string time_zone;
  };
  std::map<std::string, Organization> organizations_;
  std::map<std::string, telemed::v1::User> specialists_;
};

// "Tue 2026-12-01 12:00-12:30 Asia/Urumqi (14:00-14:30 Asia/Shanghai)": the interval in the
// viewer's zone, then in the specialist's when that differs (left out when it is empty or the
// same). A local date is repeated wherever it changes (e.g. an end after midnight, or the other
// zone already on the next day).
std::string format_span(const google::protobuf::Timestamp& starts_at,
                        const google::protobuf::Timestamp& ends_at, const std::string& viewer_zone,
                        const std::string& specialist_zone);

std::string appointment_state_label(telemed::v1::AppointmentState state);  // "booked"

// Slots as a table: id, when, specialist, free places; "no free slots" when there are none.
void print_slots(std::ostream& out,
                 const google::protobuf::RepeatedPtrField<telemed::v1::Slot>& slots,
                 const ScheduleDirectory& directory, const std::string& viewer_zone);

// Appointments as a table: id, when, state, consultation, specialist.
void print_appointments(
    std::ostream& out,
    const google::protobuf::RepeatedPtrField<telemed::v1::Appointment>& appointments,
    const ScheduleDirectory& directory, const std::string& viewer_zone);

}  // namespace tmc::cli

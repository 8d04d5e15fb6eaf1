// How tmc-client shows consultations and their logs as text.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <map>
#include <ostream>
#include <string>

#include "cli/context.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::cli {

// Display names of the people a consultation involves, as far as the caller can look them up;
// anyone else shows as their id.
class People {
 public:
  void add(const telemed::v1::User& user);
  std::string name(const std::string& user_id) const;

 private:
  std::map<std::string, std::string> names_;
};

// The caller and the consultation's specialty's specialists (one list_specialists request; if
// the caller may not list them, just the caller).
People people_of(CommandContext& context, const telemed::v1::User& caller,
                 const telemed::v1::Consultation& consultation);

// "2026-03-01 10:02:03 UTC"
std::string format_time(const google::protobuf::Timestamp& time);

std::string state_label(telemed::v1::ConsultationState state);  // "in session"
std::string urgency_label(telemed::v1::Urgency urgency);        // "emergency"

// What user_id is to the consultation: "requester", "assigned specialist" or "invited".
std::string role_in(const telemed::v1::Consultation& consultation, const std::string& user_id);

// "#3  2026-03-01 10:02:03 UTC  Dr. Chen Wei: text"; notices as "-- text".
void print_entry(std::ostream& out, const telemed::v1::LogEntry& entry, const People& people);

// Every field worth reading: state, patient, question, summary, participants, report, read
// positions.
void print_consultation(std::ostream& out, const telemed::v1::Consultation& consultation,
                        const People& people, const OrganizationNames& organizations);

}  // namespace tmc::cli

// How tmc-client shows consultations and their logs as text.
#include "cli/consult_view.hpp"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "cli/output.hpp"

namespace tmc::cli {
namespace v1 = telemed::v1;

namespace {

// Prints "label" padded to a column, then the value's lines indented under each other.
void print_field(std::ostream& out, std::string_view label, const std::string& value) {
  constexpr std::size_t column = 20;
  std::string padding(column, ' ');
  out << label << std::string(column - std::min(column - 1, label.size()), ' ');
  for (char c : value) {
    out << c;
    if (c == '\n') out << padding;
  }
  out << '\n';
}

std::string describe_patient(const v1::Patient& patient) {
  std::string text = patient.reference();
  if (patient.age_years() != 0) text += ", " + std::to_string(patient.age_years()) + " years";
  if (patient.sex() != v1::SEX_UNSPECIFIED) {
    text += ", " + enum_label(v1::Sex_Name(patient.sex()), "SEX_");
  }
  return text;
}

}  // namespace

void People::add(const v1::User& user) { names_[user.id()] = user.display_name(); }

std::string People::name(const std::string& user_id) const {
  const auto it = names_.find(user_id);
  return it == names_.end() || it->second.empty() ? user_id : it->second;
}

People people_of(CommandContext& context, const v1::User& caller,
                 const v1::Consultation& consultation) {
  People people;
  try {
    v1::ClientFrame frame;
    frame.mutable_list_specialists()->set_specialty(consultation.specialty());
    const auto response = context.call(std::move(frame));
    for (const auto& user : response.list_specialists().users()) people.add(user);
  } catch (const StatusError&) {
    // Names are a convenience; ids still identify everyone.
  }
  people.add(caller);
  return people;
}

std::string format_time(const google::protobuf::Timestamp& time) {
  google::protobuf::Timestamp seconds;
  seconds.set_seconds(time.seconds());
  std::string text = google::protobuf::util::TimeUtil::ToString(seconds);  // ...T10:02:03Z
  std::replace(text.begin(), text.end(), 'T', ' ');
  if (text.ends_with('Z')) text.replace(text.size() - 1, 1, " UTC");
  return text;
}

std::string state_label(v1::ConsultationState state) {
  return enum_label(v1::ConsultationState_Name(state), "CONSULTATION_STATE_");
}

std::string urgency_label(v1::Urgency urgency) {
  return enum_label(v1::Urgency_Name(urgency), "URGENCY_");
}

std::string role_in(const v1::Consultation& consultation, const std::string& user_id) {
  if (user_id == consultation.requester_id()) return "requester";
  if (user_id == consultation.assigned_specialist_id()) return "assigned specialist";
  return "invited";
}

void print_entry(std::ostream& out, const v1::LogEntry& entry, const People& people) {
  out << '#' << entry.seq() << "  " << format_time(entry.posted_at()) << "  ";
  const v1::MessageBody& body = entry.body();
  const std::string sender = people.name(entry.sender_id());
  switch (body.kind_case()) {
    case v1::MessageBody::kText: out << sender << ": " << body.text(); break;
    case v1::MessageBody::kNote: {
      out << sender << " [note" << (body.note().title().empty() ? "" : ": ")
          << body.note().title() << "] " << body.note().text();
      break;
    }
    case v1::MessageBody::kSignal: {
      out << sender << " (video signalling: "
          << enum_label(v1::SignalKind_Name(body.signal().kind()), "SIGNAL_KIND_") << ')';
      break;
    }
    case v1::MessageBody::kNotice: out << "-- " << body.notice().text(); break;
    case v1::MessageBody::KIND_NOT_SET: out << sender << " (empty entry)"; break;
  }
  out << '\n';
}

void print_consultation(std::ostream& out, const v1::Consultation& consultation,
                        const People& people, const OrganizationNames& organizations) {
  print_field(out, "consultation", consultation.id());
  std::string state = state_label(consultation.state());
  if (consultation.state() == v1::CONSULTATION_STATE_OFFERED ||
      consultation.state() == v1::CONSULTATION_STATE_REQUESTED) {
    state += " (to " + std::to_string(consultation.candidate_count()) + " specialist(s)";
    if (consultation.has_respond_by()) {
      state += ", respond by " + format_time(consultation.respond_by());
    }
    state += consultation.escalated() ? ", escalated)" : ")";
  }
  print_field(out, "state", state);
  print_field(out, "urgency", urgency_label(consultation.urgency()));
  print_field(out, "specialty", consultation.specialty());
  print_field(out, "requested by",
              people.name(consultation.requester_id()) + ", " +
                  organization_name(organizations, consultation.requesting_organization_id()));
  print_field(out, "opened", format_time(consultation.created_at()));
  print_field(out, "patient", describe_patient(consultation.patient()));
  print_field(out, "question", consultation.question());
  if (!consultation.clinical_summary().empty()) {
    print_field(out, "summary", consultation.clinical_summary());
  }
  std::vector<std::string> participants;
  for (const auto& id : consultation.participant_ids()) {
    participants.push_back(people.name(id) + " (" + role_in(consultation, id) + ")");
  }
  print_field(out, "participants", participants.empty() ? "(none yet)" : join(participants, "\n"));
  if (!consultation.case_file_ids().empty()) {
    print_field(out, "case files",
                join({consultation.case_file_ids().begin(), consultation.case_file_ids().end()},
                     ", "));
  }
  print_field(out, "messages", std::to_string(consultation.last_seq()));
  std::vector<std::string> positions;
  for (const auto& position : consultation.read_positions()) {
    positions.push_back(people.name(position.user_id()) + " (" +
                        role_in(consultation, position.user_id()) + "): " +
                        (position.seq() == 0 ? std::string("nothing acknowledged yet")
                                             : "up to #" + std::to_string(position.seq()) + " of " +
                                                   std::to_string(consultation.last_seq())));
  }
  print_field(out, "read", positions.empty() ? "(nobody acknowledged yet)" : join(positions, "\n"));
  if (consultation.has_report()) {
    const v1::Report& report = consultation.report();
    out << "report\n";
    print_field(out, "  findings", report.findings());
    print_field(out, "  impression", report.impression());
    if (!report.recommendations().empty()) {
      print_field(out, "  recommendations", report.recommendations());
    }
    if (!report.follow_up().empty()) print_field(out, "  follow-up", report.follow_up());
  }
}

}  // namespace tmc::cli

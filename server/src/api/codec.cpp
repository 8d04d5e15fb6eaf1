// Conversions between wire messages (telemed.v1) and domain records; the only place both meet.
#include "api/codec.hpp"

namespace tmc::api {

google::protobuf::Timestamp to_proto(TimePoint time) {
  google::protobuf::Timestamp out;
  const auto micros = time.time_since_epoch().count();
  auto seconds = micros / 1'000'000;
  auto remainder = micros % 1'000'000;
  if (remainder < 0) {
    remainder += 1'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int>(remainder * 1000));
  return out;
}

TimePoint from_proto(const google::protobuf::Timestamp& time) {
  return TimePoint(std::chrono::microseconds(time.seconds() * 1'000'000 + time.nanos() / 1000));
}

v1::Role to_proto(store::Role role) { return static_cast<v1::Role>(static_cast<int>(role)); }

v1::OrganizationKind to_proto(store::OrganizationKind kind) {
  return static_cast<v1::OrganizationKind>(static_cast<int>(kind));
}

void to_proto(const store::User& user, v1::User* out) {
  out->set_id(user.id);
  out->set_username(user.username);
  out->set_display_name(user.display_name);
  out->set_role(to_proto(user.role));
  out->set_organization_id(user.organization_id);
  for (const auto& specialty : user.specialties) out->add_specialties(specialty);
}

void to_proto(const store::Organization& organization, v1::Organization* out) {
  out->set_id(organization.id);
  out->set_name(organization.name);
  out->set_kind(to_proto(organization.kind));
  out->set_region(organization.region);
  out->set_time_zone(organization.time_zone);
}

void to_proto(const store::Pairing& pairing, v1::Pairing* out) {
  out->set_county_organization_id(pairing.county_organization_id);
  out->set_partner_organization_id(pairing.partner_organization_id);
}

void to_proto(const store::SlotRecord& slot, v1::Slot* out) {
  out->set_id(slot.id);
  out->set_specialist_id(slot.specialist_id);
  *out->mutable_starts_at() = to_proto(slot.starts_at);
  *out->mutable_ends_at() = to_proto(slot.ends_at);
  out->set_capacity(static_cast<std::uint32_t>(slot.capacity));
  out->set_booked(static_cast<std::uint32_t>(slot.booked));
}

void to_proto(const store::Appointment& appointment, v1::Appointment* out) {
  out->set_id(appointment.id);
  out->set_slot_id(appointment.slot_id);
  out->set_consultation_id(appointment.consultation_id);
  out->set_specialist_id(appointment.specialist_id);
  out->set_booked_by(appointment.booked_by);
  *out->mutable_starts_at() = to_proto(appointment.starts_at);
  *out->mutable_ends_at() = to_proto(appointment.ends_at);
  out->set_state(static_cast<v1::AppointmentState>(static_cast<int>(appointment.state)));
}

v1::Code to_proto(Code code) { return static_cast<v1::Code>(static_cast<int>(code)); }

void set_error(v1::Response& response, const Error& error) {
  response.clear_result();
  response.mutable_status()->set_code(to_proto(error.code));
  response.mutable_status()->set_message(error.message);
}

std::string code_name(Code code) { return v1::Code_Name(to_proto(code)); }

}  // namespace tmc::api

namespace tmc::api {

void to_proto(const domain::MessageBody& body, v1::MessageBody* out) {
  using Kind = domain::MessageBody::Kind;
  switch (body.kind) {
    case Kind::text:
      out->set_text(body.text);
      break;
    case Kind::note:
      out->mutable_note()->set_title(body.title);
      out->mutable_note()->set_text(body.text);
      break;
    case Kind::signal:
      out->mutable_signal()->set_kind(static_cast<v1::SignalKind>(body.signal_kind));
      out->mutable_signal()->set_payload(body.payload);
      break;
    case Kind::notice:
      out->mutable_notice()->set_kind(static_cast<v1::SystemNoticeKind>(body.notice_kind));
      out->mutable_notice()->set_text(body.text);
      out->mutable_notice()->set_subject_id(body.subject_id);
      break;
  }
}

domain::MessageBody from_proto(const v1::MessageBody& body) {
  using Kind = domain::MessageBody::Kind;
  domain::MessageBody out;
  switch (body.kind_case()) {
    case v1::MessageBody::kText:
      out.kind = Kind::text;
      out.text = body.text();
      break;
    case v1::MessageBody::kNote:
      out.kind = Kind::note;
      out.title = body.note().title();
      out.text = body.note().text();
      break;
    case v1::MessageBody::kSignal:
      out.kind = Kind::signal;
      out.signal_kind = body.signal().kind();
      out.payload = body.signal().payload();
      break;
    case v1::MessageBody::kNotice:
      out.kind = Kind::notice;
      out.text = body.notice().text();
      break;
    default:
      out.kind = Kind::text;  // empty body: the service refuses it
      break;
  }
  return out;
}

void to_proto(const domain::LogEntry& entry, v1::LogEntry* out) {
  out->set_consultation_id(entry.consultation_id);
  out->set_seq(static_cast<std::uint64_t>(entry.seq));
  out->set_sender_id(entry.sender_id);
  *out->mutable_posted_at() = to_proto(entry.posted_at);
  to_proto(entry.body, out->mutable_body());
}

void to_proto(const domain::ConsultationView& view, v1::Consultation* out) {
  const auto& record = view.record;
  out->set_id(record.id);
  out->set_state(static_cast<v1::ConsultationState>(static_cast<int>(record.state)));
  out->set_urgency(static_cast<v1::Urgency>(static_cast<int>(record.urgency)));
  out->set_specialty(record.specialty);
  auto* patient = out->mutable_patient();
  patient->set_reference(record.patient_reference);
  patient->set_age_years(static_cast<std::uint32_t>(record.patient_age_years));
  patient->set_sex(static_cast<v1::Sex>(static_cast<int>(record.patient_sex)));
  out->set_question(view.question);
  out->set_clinical_summary(view.clinical_summary);
  out->set_requesting_organization_id(record.requesting_organization_id);
  out->set_requester_id(record.requester_id);
  out->set_assigned_specialist_id(record.assigned_specialist_id);
  for (const auto& participant : view.participants) {
    out->add_participant_ids(participant.user_id);
    if (participant.read_seq == 0) continue;  // never acknowledged: absent
    auto* position = out->add_read_positions();
    position->set_user_id(participant.user_id);
    position->set_seq(static_cast<std::uint64_t>(participant.read_seq));
  }
  for (const auto& file : view.case_file_ids) out->add_case_file_ids(file);
  if (view.report) {
    auto* report = out->mutable_report();
    report->set_findings(view.report->findings);
    report->set_impression(view.report->impression);
    report->set_recommendations(view.report->recommendations);
    report->set_follow_up(view.report->follow_up);
  }
  out->set_last_seq(static_cast<std::uint64_t>(record.last_seq));
  out->set_candidate_count(static_cast<std::uint32_t>(record.candidate_count));
  if (record.respond_by) *out->mutable_respond_by() = to_proto(*record.respond_by);
  out->set_escalated(record.escalated);
  *out->mutable_created_at() = to_proto(record.created_at);
  *out->mutable_updated_at() = to_proto(record.updated_at);
}

void to_proto(const store::CaseFile& file, v1::CaseFile* out) {
  out->set_id(file.id);
  out->set_file_name(file.file_name);
  out->set_media_type(file.media_type);
  out->set_size(file.size);
  out->set_sha256(file.sha256);
  out->set_uploaded_by(file.uploaded_by);
  out->set_organization_id(file.organization_id);
  *out->mutable_created_at() = to_proto(file.created_at);
}

domain::Report from_proto(const v1::Report& report) {
  return {report.findings(), report.impression(), report.recommendations(), report.follow_up()};
}

domain::OpenConsultation from_proto(const v1::OpenConsultationRequest& request) {
  domain::OpenConsultation out;
  out.urgency = static_cast<store::Urgency>(static_cast<int>(request.urgency()));
  out.specialty = request.specialty();
  out.patient_reference = request.patient().reference();
  out.patient_age_years = static_cast<int>(std::min<std::uint32_t>(request.patient().age_years(),
                                                                   1000));
  out.patient_sex = static_cast<store::Sex>(static_cast<int>(request.patient().sex()));
  out.question = request.question();
  out.clinical_summary = request.clinical_summary();
  out.target_organization_id = request.target_organization_id();
  out.preferred_specialist_id = request.preferred_specialist_id();
  out.case_file_ids.assign(request.case_file_ids().begin(), request.case_file_ids().end());
  return out;
}

store::ConsultationState from_proto(v1::ConsultationState state) {
  return static_cast<store::ConsultationState>(static_cast<int>(state));
}

v1::Event to_event(const domain::Notification& notification) {
  v1::Event event;
  using Kind = domain::Notification::Kind;
  switch (notification.kind) {
    case Kind::offered:
      to_proto(*notification.consultation,
               event.mutable_consultation_offered()->mutable_consultation());
      break;
    case Kind::updated:
      to_proto(*notification.consultation,
               event.mutable_consultation_updated()->mutable_consultation());
      break;
    case Kind::message_posted:
      to_proto(*notification.entry, event.mutable_message_posted()->mutable_entry());
      break;
    case Kind::case_file_shared: {
      auto* shared = event.mutable_case_file_shared();
      shared->set_consultation_id(notification.consultation_id);
      to_proto(*notification.case_file, shared->mutable_file());
      break;
    }
    case Kind::appointment_changed:
      to_proto(*notification.appointment,
               event.mutable_appointment_changed()->mutable_appointment());
      break;
    case Kind::appointment_reminder: {
      auto* reminder = event.mutable_appointment_reminder();
      to_proto(*notification.appointment, reminder->mutable_appointment());
      const auto seconds = notification.starts_in_seconds;
      reminder->set_starts_in_seconds(seconds > 0 ? seconds : 0);
      break;
    }
  }
  return event;
}

}  // namespace tmc::api

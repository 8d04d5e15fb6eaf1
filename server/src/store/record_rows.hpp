// Row -> record mapping shared by the SQL backends: the column lists and readers, templated on
// the backend's row type (anything with text/blob/int32/int64/boolean/time/optional_time taking a
// 0-based column). Each SELECT lists its columns in the order the reader expects.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "store/model.hpp"
#include "store/store.hpp"

namespace tmc::store::rows {

constexpr const char* organization_columns = "id, name, kind, region, time_zone";

template <class Row>
Organization read_organization(const Row& row) {
  Organization org;
  org.id = row.text(0);
  org.name = row.text(1);
  org.kind = static_cast<OrganizationKind>(row.int32(2));
  org.region = row.text(3);
  org.time_zone = row.text(4);
  return org;
}

constexpr const char* user_columns =
    "u.id, u.username, u.display_name, u.role, u.organization_id, u.disabled, u.created_at";

template <class Row>
User read_user(const Row& row) {
  User user;
  user.id = row.text(0);
  user.username = row.text(1);
  user.display_name = row.text(2);
  user.role = static_cast<Role>(row.int32(3));
  user.organization_id = row.text(4);
  user.disabled = row.boolean(5);
  user.created_at = row.time(6);
  return user;
}

constexpr const char* session_columns = "token_hash, user_id, created_at, expires_at, revoked";

template <class Row>
SessionRecord read_session(const Row& row) {
  SessionRecord session;
  session.token_hash = row.blob(0);
  session.user_id = row.text(1);
  session.created_at = row.time(2);
  session.expires_at = row.time(3);
  session.revoked = row.boolean(4);
  return session;
}

// Also the column order of the backends' INSERT and UPDATE parameters. The sealed texts live in
// a table of their own (consultation_texts, alias t), read only when asked for.
constexpr const char* consultation_columns =
    "c.id, c.state, c.urgency, c.specialty, c.patient_reference, c.patient_age_years,"
    " c.patient_sex, c.requesting_organization_id, c.requester_id, c.assigned_specialist_id,"
    " c.target_organization_id, c.preferred_specialist_id, c.wrapped_key, c.last_seq,"
    " c.candidate_count, c.respond_by, c.escalated, c.created_at, c.updated_at";
constexpr int consultation_column_count = 19;
constexpr const char* consultation_text_columns =
    ", t.sealed_question, t.sealed_summary, t.sealed_report";

template <class Row>
Consultation read_consultation(const Row& row) {
  Consultation c;
  c.id = row.text(0);
  c.state = static_cast<ConsultationState>(row.int32(1));
  c.urgency = static_cast<Urgency>(row.int32(2));
  c.specialty = row.text(3);
  c.patient_reference = row.text(4);
  c.patient_age_years = row.int32(5);
  c.patient_sex = static_cast<Sex>(row.int32(6));
  c.requesting_organization_id = row.text(7);
  c.requester_id = row.text(8);
  c.assigned_specialist_id = row.text(9);
  c.target_organization_id = row.text(10);
  c.preferred_specialist_id = row.text(11);
  c.wrapped_key = row.blob(12);
  c.last_seq = row.int64(13);
  c.candidate_count = row.int32(14);
  c.respond_by = row.optional_time(15);
  c.escalated = row.boolean(16);
  c.created_at = row.time(17);
  c.updated_at = row.time(18);
  return c;
}

// consultation_columns followed by consultation_text_columns.
template <class Row>
Consultation read_consultation_with_texts(const Row& row) {
  auto c = read_consultation(row);
  constexpr int first = consultation_column_count;
  c.sealed_question = row.blob(first);
  c.sealed_summary = row.blob(first + 1);
  c.sealed_report = row.blob(first + 2);
  return c;
}

constexpr const char* log_columns =
    "consultation_id, seq, sender_id, client_msg_id, posted_at, sealed_body";

template <class Row>
LogRecord read_log(const Row& row) {
  LogRecord record;
  record.consultation_id = row.text(0);
  record.seq = row.int64(1);
  record.sender_id = row.text(2);
  record.client_msg_id = row.text(3);
  record.posted_at = row.time(4);
  record.sealed_body = row.blob(5);
  return record;
}

// ---- audit ----

constexpr const char* audit_record_columns =
    "idx, time, actor_id, action, patient_reference, record, leaf_hash";

template <class Row>
AuditRow read_audit_row(const Row& row) {
  AuditRow audit;
  audit.index = row.int64(0);
  audit.time = row.time(1);
  audit.actor_id = row.text(2);
  audit.action = row.text(3);
  audit.patient_reference = row.text(4);
  audit.record = row.text(5);
  audit.leaf_hash = row.blob(6);
  return audit;
}

constexpr const char* audit_head_columns = "tree_size, signed_at, root_hash, public_key, signature";

template <class Row>
AuditHeadRow read_audit_head(const Row& row) {
  AuditHeadRow head;
  head.tree_size = row.int64(0);
  head.signed_at = row.time(1);
  head.root_hash = row.blob(2);
  head.public_key = row.blob(3);
  head.signature = row.blob(4);
  return head;
}

// ---- case files ----

constexpr const char* upload_columns =
    "id, user_id, organization_id, consultation_id, file_name, media_type, size, sha256,"
    " wrapped_key, header, committed_offset, created_at, updated_at";

template <class Row>
Upload read_upload(const Row& row) {
  Upload upload;
  upload.id = row.text(0);
  upload.user_id = row.text(1);
  upload.organization_id = row.text(2);
  upload.consultation_id = row.text(3);
  upload.file_name = row.text(4);
  upload.media_type = row.text(5);
  upload.size = static_cast<std::uint64_t>(row.int64(6));
  upload.sha256 = row.blob(7);
  upload.wrapped_key = row.blob(8);
  upload.header = row.blob(9);
  upload.committed_offset = static_cast<std::uint64_t>(row.int64(10));
  upload.created_at = row.time(11);
  upload.updated_at = row.time(12);
  return upload;
}

constexpr const char* case_file_columns =
    "f.id, f.file_name, f.media_type, f.size, f.sha256, f.uploaded_by, f.organization_id,"
    " f.created_at, f.upload_id, f.blob_id, f.wrapped_key, f.header";

template <class Row>
CaseFile read_case_file(const Row& row) {
  CaseFile file;
  file.id = row.text(0);
  file.file_name = row.text(1);
  file.media_type = row.text(2);
  file.size = static_cast<std::uint64_t>(row.int64(3));
  file.sha256 = row.blob(4);
  file.uploaded_by = row.text(5);
  file.organization_id = row.text(6);
  file.created_at = row.time(7);
  file.upload_id = row.text(8);
  file.blob_id = row.text(9);
  file.wrapped_key = row.blob(10);
  file.header = row.blob(11);
  return file;
}

// ---- scheduling ----

// Weekdays are stored as text, "1,3,5".
inline std::string join_weekdays(const std::vector<int>& weekdays) {
  std::string text;
  for (int day : weekdays) {
    if (!text.empty()) text += ',';
    text += std::to_string(day);
  }
  return text;
}

inline std::vector<int> split_weekdays(const std::string& text) {
  std::vector<int> days;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    days.push_back(std::atoi(text.substr(start, comma - start).c_str()));
    start = comma + 1;
  }
  return days;
}

constexpr const char* availability_rule_columns =
    "weekdays, local_start, local_end, time_zone, slot_minutes, capacity, valid_from, valid_until";

template <class Row>
AvailabilityRuleRecord read_availability_rule(const Row& row) {
  AvailabilityRuleRecord rule;
  rule.weekdays = split_weekdays(row.text(0));
  rule.local_start = row.text(1);
  rule.local_end = row.text(2);
  rule.time_zone = row.text(3);
  rule.slot_minutes = row.int32(4);
  rule.capacity = row.int32(5);
  rule.valid_from = row.text(6);
  rule.valid_until = row.text(7);
  return rule;
}

constexpr const char* slot_columns =
    "id, specialist_id, starts_at, ends_at, capacity, booked, from_rule";

template <class Row>
SlotRecord read_slot(const Row& row) {
  SlotRecord slot;
  slot.id = row.text(0);
  slot.specialist_id = row.text(1);
  slot.starts_at = row.time(2);
  slot.ends_at = row.time(3);
  slot.capacity = row.int32(4);
  slot.booked = row.int32(5);
  slot.from_rule = row.boolean(6);
  return slot;
}

// Also the column order of the backends' INSERT and UPDATE parameters.
constexpr const char* appointment_columns =
    "a.id, a.slot_id, a.consultation_id, a.specialist_id, a.booked_by, a.starts_at, a.ends_at,"
    " a.state, a.next_reminder_at, a.created_at, a.updated_at";

template <class Row>
Appointment read_appointment(const Row& row) {
  Appointment a;
  a.id = row.text(0);
  a.slot_id = row.text(1);
  a.consultation_id = row.text(2);
  a.specialist_id = row.text(3);
  a.booked_by = row.text(4);
  a.starts_at = row.time(5);
  a.ends_at = row.time(6);
  a.state = static_cast<AppointmentState>(row.int32(7));
  a.next_reminder_at = row.optional_time(8);
  a.created_at = row.time(9);
  a.updated_at = row.time(10);
  return a;
}

constexpr const char* pending_reminder_columns = "user_id, appointment_id, lead_minutes, queued_at";

template <class Row>
PendingReminder read_pending_reminder(const Row& row) {
  return PendingReminder{row.text(0), row.text(1), row.int32(2), row.time(3)};
}

constexpr const char* event_columns =
    "id, origin, created_at, recipients, wrapped_key, sealed_event";

// Recipients are stored as one space-separated text (user ids never contain spaces).
inline std::string join_recipients(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out += ' ';
    out += id;
  }
  return out;
}

inline std::vector<std::string> split_recipients(const std::string& joined) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (start < joined.size()) {
    auto end = joined.find(' ', start);
    if (end == std::string::npos) end = joined.size();
    if (end > start) ids.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return ids;
}

template <class Row>
EventRow read_event(const Row& row) {
  EventRow e;
  e.id = row.int64(0);
  e.origin = row.text(1);
  e.created_at = row.time(2);
  e.recipients = split_recipients(row.text(3));
  e.wrapped_key = row.blob(4);
  e.sealed_event = row.blob(5);
  return e;
}

}  // namespace tmc::store::rows

// Tx over one PostgreSQL connection: the SQL (PostgreSQL dialect) for every store operation.
#pragma once

#include <string>

#include "store/postgres/connection.hpp"
#include "store/store.hpp"

namespace tmc::store::postgres {

// The caller owns the transaction (BEGIN/COMMIT); PostgresTx only runs statements. A read-only
// PostgresTx throws StoreError("read-only transaction") from every write method.
class PostgresTx final : public Tx {
 public:
  PostgresTx(Connection& connection, bool writable) : db_(connection), writable_(writable) {}

  std::optional<Organization> find_organization(std::string_view id) override;
  std::vector<Organization> list_organizations() override;
  std::vector<Pairing> list_pairings() override;
  std::optional<User> find_user(std::string_view id) override;
  std::optional<User> find_user_by_username(std::string_view username) override;
  std::vector<User> list_users(const UserFilter& filter) override;
  std::optional<std::string> find_password_hash(std::string_view user_id) override;

  bool insert_organization(const Organization& org) override;
  bool insert_pairing(const Pairing& pairing) override;
  bool insert_user(const User& user, std::string_view password_hash) override;
  bool set_password_hash(std::string_view user_id, std::string_view password_hash) override;
  bool set_user_disabled(std::string_view user_id, bool disabled) override;

  std::optional<SessionRecord> find_session(std::string_view token_hash) override;
  void insert_session(const SessionRecord& session) override;
  bool revoke_session(std::string_view token_hash) override;
  int revoke_user_sessions(std::string_view user_id) override;
  int delete_expired_sessions(TimePoint now) override;

  std::optional<Consultation> find_consultation(std::string_view id, SealedTexts texts) override;
  bool insert_consultation(const Consultation& consultation) override;
  void update_consultation(const Consultation& consultation) override;
  void set_consultation_report(std::string_view id, std::string_view sealed_report) override;
  void set_consultation_last_seq(std::string_view id, std::int64_t last_seq,
                                 TimePoint updated_at) override;
  std::vector<Consultation> list_consultations(const ConsultationQuery& query) override;
  std::vector<Consultation> list_due_consultations(TimePoint now, int limit) override;

  std::vector<Participant> list_participants(std::string_view consultation_id) override;
  bool add_participant(std::string_view consultation_id, const Participant& p) override;
  bool advance_read_seq(std::string_view consultation_id, std::string_view user_id,
                        std::int64_t seq) override;

  std::vector<Candidate> list_candidates(std::string_view consultation_id) override;
  void add_candidates(std::string_view consultation_id,
                      const std::vector<std::string>& user_ids) override;
  bool mark_candidate_declined(std::string_view consultation_id, std::string_view user_id) override;

  bool append_log(const LogRecord& record) override;
  std::optional<LogRecord> find_log_by_client_msg_id(std::string_view consultation_id,
                                                     std::string_view sender_id,
                                                     std::string_view client_msg_id) override;
  std::vector<LogRecord> list_log(std::string_view consultation_id, std::int64_t after_seq,
                                  int limit) override;

  // ---- audit (implemented in postgres_tx_audit.cpp) ----
  std::int64_t audit_log_size() override;
  void append_audit_record(const AuditRow& row) override;
  std::vector<AuditRow> list_audit_records(std::int64_t from_index, int limit) override;
  std::vector<AuditRow> find_audit_records(const AuditQuery& query) override;
  AuditSearchGaps find_audit_search_gaps() override;
  void insert_audit_head(const AuditHeadRow& head) override;
  std::vector<AuditHeadRow> list_audit_heads() override;
  std::optional<AuditHeadRow> latest_audit_head() override;
  void save_audit_frontier(const AuditFrontierRow& frontier) override;
  std::optional<AuditFrontierRow> find_audit_frontier() override;
  // (end of audit)

  // ---- keys (implemented in postgres_tx_keys.cpp) ----
  std::vector<WrappedKeyRow> list_wrapped_keys() override;
  bool set_wrapped_key(const WrappedKeyRow& row) override;
  std::vector<std::pair<ConsultationState, std::int64_t>> count_consultations_by_state() override;
  // (end of keys)

  // ---- auth (implemented in postgres_tx_auth.cpp) ----
  std::optional<TotpEnrollment> find_totp(std::string_view user_id) override;
  void put_totp(const TotpEnrollment& enrollment) override;
  bool delete_totp(std::string_view user_id) override;
  bool use_totp_step(std::string_view user_id, std::int64_t step) override;
  void touch_sessions(const std::vector<std::string>& token_hashes, TimePoint at) override;
  std::optional<TimePoint> find_session_last_seen(std::string_view token_hash) override;
  std::vector<SessionExpiry> list_valid_sessions(const std::vector<std::string>& token_hashes,
                                                  TimePoint now, TimePoint idle_before) override;
  std::int64_t session_epoch() override;
  // (end of auth)

  // ---- case files (implemented in postgres_tx_case_files.cpp) ----
  void insert_upload(const Upload& upload) override;
  std::optional<Upload> find_upload(std::string_view id) override;
  bool set_upload_progress(std::string_view id, std::uint64_t committed_offset,
                           TimePoint updated_at) override;
  bool delete_upload(std::string_view id) override;
  std::vector<Upload> list_idle_uploads(TimePoint idle_before, int limit) override;
  std::uint64_t organization_storage_bytes(std::string_view organization_id) override;
  std::int64_t count_user_uploads(std::string_view user_id) override;
  std::optional<Upload> find_open_upload_like(const Upload& declared) override;
  void insert_case_file(const CaseFile& file) override;
  std::optional<CaseFile> find_case_file(std::string_view id) override;
  std::optional<CaseFile> find_case_file_by_upload(std::string_view upload_id) override;
  bool share_case_file(std::string_view file_id, std::string_view consultation_id,
                       TimePoint shared_at) override;
  std::vector<CaseFile> list_consultation_case_files(std::string_view consultation_id) override;
  std::vector<std::string> list_case_file_consultations(std::string_view file_id) override;
  // (end of case files)

  // ---- scheduling (implemented in postgres_tx_scheduling.cpp) ----
  std::vector<AvailabilityRuleRecord> list_availability_rules(
      std::string_view specialist_id) override;
  void replace_availability_rules(std::string_view specialist_id,
                                  const std::vector<AvailabilityRuleRecord>& rules,
                                  TimePoint expanded_until) override;
  std::vector<std::string> list_specialists_expanded_before(TimePoint until, int limit) override;
  std::optional<TimePoint> find_rules_expanded_until(std::string_view specialist_id) override;
  void set_rules_expanded_until(std::string_view specialist_id, TimePoint until) override;
  std::optional<SlotRecord> find_slot(std::string_view id) override;
  std::vector<SlotRecord> list_specialist_slots(std::string_view specialist_id,
                                                TimePoint ends_after) override;
  std::vector<SlotRecord> list_slots(const SlotQuery& query) override;
  bool insert_slot(const SlotRecord& slot) override;
  bool delete_unbooked_slot(std::string_view id) override;
  bool set_slot_capacity(std::string_view id, int capacity) override;
  bool take_slot_place(std::string_view id) override;
  bool release_slot_place(std::string_view id) override;
  std::optional<Appointment> find_appointment(std::string_view id) override;
  void insert_appointment(const Appointment& appointment) override;
  void update_appointment(const Appointment& appointment) override;
  std::vector<Appointment> list_appointments(const AppointmentQuery& query) override;
  bool has_booked_appointment(std::string_view slot_id, std::string_view consultation_id) override;
  std::vector<Appointment> list_booked_appointments_of(std::string_view consultation_id) override;
  std::vector<std::string> list_ended_consultations_with_booked_reviews(TimePoint now,
                                                                          int limit) override;
  std::vector<std::string> list_consultations_with_reviews_of_disabled_specialists(
      TimePoint now, int limit) override;
  std::vector<Appointment> list_overlapping_appointments(std::string_view specialist_id,
                                                         TimePoint from, TimePoint to,
                                                         std::string_view except_slot_id) override;
  std::vector<Appointment> list_reminder_due_appointments(TimePoint now, int limit) override;
  std::vector<int> list_sent_reminders(std::string_view appointment_id) override;
  void mark_reminders_sent(std::string_view appointment_id, const std::vector<int>& lead_minutes,
                           TimePoint at) override;
  void clear_sent_reminders(std::string_view appointment_id) override;
  void queue_reminder(const PendingReminder& reminder) override;
  std::vector<PendingReminder> list_pending_reminders(std::string_view user_id) override;
  std::vector<std::string> list_users_with_pending_reminders(std::string_view after,
                                                              int limit) override;
  bool delete_pending_reminder(const PendingReminder& reminder) override;
  void delete_pending_reminders_of(std::string_view appointment_id) override;
  int delete_stale_pending_reminders(TimePoint now) override;
  // (end of scheduling)

  std::int64_t append_event(const EventRow& row) override;
  std::vector<EventRow> list_events_after(std::int64_t after_id, int limit) override;
  std::int64_t last_event_id() override;
  int delete_events_before(TimePoint before) override;
  // (end of cluster events)

 private:
  void require_writable() const;
  std::optional<User> find_user_where(const std::string& sql, std::string_view key);
  void load_specialties(User& user);

  Connection& db_;
  bool writable_;
};

}  // namespace tmc::store::postgres

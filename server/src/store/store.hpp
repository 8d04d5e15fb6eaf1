// Store: the storage port. Domain code talks to a Tx; backends (SQLite, later PostgreSQL) adapt it.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/model.hpp"

namespace tmc::store {

// Thrown for broken invariants of the storage itself (I/O error, corrupt file, lost connection).
// Expected outcomes (not found, duplicate) are return values, never exceptions.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value the store cannot hold (PostgreSQL's text cannot contain a NUL byte): the request is at
// fault, not the store, and a retry would fail the same way.
class UnstorableValue : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A wrapped data key (or other secret) and the row that holds it (see Tx::list_wrapped_keys).
struct WrappedKeyRow {
  std::string table;
  std::string id;
  std::string wrapped_key;
};

// One transaction. Read methods are valid in every Tx; write methods throw StoreError when the
// Tx is read-only. A Tx is used by one thread at a time and must not outlive the callback that
// received it.
class Tx {
 public:
  virtual ~Tx() = default;

  // ---- directory ----
  virtual std::optional<Organization> find_organization(std::string_view id) = 0;
  virtual std::vector<Organization> list_organizations() = 0;
  virtual std::vector<Pairing> list_pairings() = 0;
  virtual std::optional<User> find_user(std::string_view id) = 0;
  virtual std::optional<User> find_user_by_username(std::string_view username) = 0;
  virtual std::vector<User> list_users(const UserFilter& filter) = 0;  // sorted by username
  virtual std::optional<std::string> find_password_hash(std::string_view user_id) = 0;

  // Returns false when the id (or, for users, the username) already exists.
  virtual bool insert_organization(const Organization& org) = 0;
  virtual bool insert_pairing(const Pairing& pairing) = 0;  // false when already paired
  virtual bool insert_user(const User& user, std::string_view password_hash) = 0;
  virtual bool set_password_hash(std::string_view user_id, std::string_view password_hash) = 0;
  virtual bool set_user_disabled(std::string_view user_id, bool disabled) = 0;

  // ---- sessions ----
  virtual std::optional<SessionRecord> find_session(std::string_view token_hash) = 0;
  virtual void insert_session(const SessionRecord& session) = 0;
  virtual bool revoke_session(std::string_view token_hash) = 0;  // false when unknown
  virtual int revoke_user_sessions(std::string_view user_id) = 0;  // number revoked
  virtual int delete_expired_sessions(TimePoint now) = 0;

  // ---- consultations ----
  virtual std::optional<Consultation> find_consultation(std::string_view id,
                                                       SealedTexts texts) = 0;
  virtual bool insert_consultation(const Consultation& consultation) = 0;  // with its texts
  // By id, every column but the sealed texts: a record read without them (SealedTexts::skip)
  // can be written back. The question and summary never change; the report is set below.
  virtual void update_consultation(const Consultation& consultation) = 0;
  virtual void set_consultation_report(std::string_view id, std::string_view sealed_report) = 0;
  // A new log entry without a state change: only last_seq and updated_at (fewer pages and no
  // index rewritten, unlike update_consultation).
  virtual void set_consultation_last_seq(std::string_view id, std::int64_t last_seq,
                                         TimePoint updated_at) = 0;
  // Both lists leave the sealed texts out (read them with find_consultation).
  // Sorted by id (ids sort in creation order), at most query.limit rows after query.after_id.
  virtual std::vector<Consultation> list_consultations(const ConsultationQuery& query) = 0;
  // Consultations in REQUESTED/OFFERED whose respond_by <= now, oldest deadline first.
  virtual std::vector<Consultation> list_due_consultations(TimePoint now, int limit) = 0;

  virtual std::vector<Participant> list_participants(std::string_view consultation_id) = 0;
  virtual bool add_participant(std::string_view consultation_id, const Participant& p) = 0;
  // Moves read_seq forward only (a lower value is ignored); false when not a participant.
  virtual bool advance_read_seq(std::string_view consultation_id, std::string_view user_id,
                                std::int64_t seq) = 0;

  virtual std::vector<Candidate> list_candidates(std::string_view consultation_id) = 0;
  virtual void add_candidates(std::string_view consultation_id,
                              const std::vector<std::string>& user_ids) = 0;  // existing kept
  virtual bool mark_candidate_declined(std::string_view consultation_id,
                                       std::string_view user_id) = 0;

  // Stores the entry, or returns false and stores nothing when its sender already has an entry
  // with the same non-empty client_msg_id in the consultation (an idempotent retry: look it up
  // with find_log_by_client_msg_id). A taken (consultation_id, seq) throws StoreError.
  virtual bool append_log(const LogRecord& record) = 0;
  virtual std::optional<LogRecord> find_log_by_client_msg_id(std::string_view consultation_id,
                                                             std::string_view sender_id,
                                                             std::string_view client_msg_id) = 0;
  // Entries with seq > after_seq in seq order, at most limit.
  virtual std::vector<LogRecord> list_log(std::string_view consultation_id, std::int64_t after_seq,
                                          int limit) = 0;

  // ---- audit ----
  // Number of audit records, i.e. the index the next one gets (highest index + 1).
  virtual std::int64_t audit_log_size() = 0;
  // Stores row at row.index; throws StoreError when that index is already taken.
  virtual void append_audit_record(const AuditRow& row) = 0;
  // Records with index >= from_index in index order, at most limit (gaps show as missing ids).
  virtual std::vector<AuditRow> list_audit_records(std::int64_t from_index, int limit) = 0;
  virtual std::vector<AuditRow> find_audit_records(const AuditQuery& query) = 0;
  // Records that a search structure kept beside the log has lost, so that find_audit_records
  // filtered by their actor or patient reference would miss them: how many, and the lowest index.
  // None on stores whose indexes the database engine maintains itself.
  virtual AuditSearchGaps find_audit_search_gaps() = 0;
  virtual void insert_audit_head(const AuditHeadRow& head) = 0;
  virtual std::vector<AuditHeadRow> list_audit_heads() = 0;  // by tree_size, then signed_at
  virtual std::optional<AuditHeadRow> latest_audit_head() = 0;  // largest tree_size, newest
  // The one stored frontier (writable Tx for the save, which replaces it).
  virtual void save_audit_frontier(const AuditFrontierRow& frontier) = 0;
  virtual std::optional<AuditFrontierRow> find_audit_frontier() = 0;
  // (end of audit)

  // ---- keys ----
  // Every stored secret wrapped by a key-encryption key, from every table that holds one: the
  // data keys (consultations, uploads, case files, and any later table with an id and a
  // wrapped_key column), in table then id order, then the TOTP secrets (table "user_totp", id
  // the user's). Used by key rotation and retirement, backup and restore.
  virtual std::vector<WrappedKeyRow> list_wrapped_keys() = 0;
  // Replaces one row's wrapped key; false when the row (or table) does not exist.
  virtual bool set_wrapped_key(const WrappedKeyRow& row) = 0;
  // Consultations per state (states without any are left out), for metrics.
  virtual std::vector<std::pair<ConsultationState, std::int64_t>>
  count_consultations_by_state() = 0;
  // (end of keys)

  // ---- auth ----
  virtual std::optional<TotpEnrollment> find_totp(std::string_view user_id) = 0;
  // Enrols the user, replacing an earlier enrolment (and its last used step).
  virtual void put_totp(const TotpEnrollment& enrollment) = 0;
  virtual bool delete_totp(std::string_view user_id) = 0;  // false when not enrolled
  // Marks step used when it is later than the last used one (single use); false otherwise.
  virtual bool use_totp_step(std::string_view user_id, std::int64_t step) = 0;
  // Records that these sessions were in use at `at` (for the idle timeout); unknown ignored.
  virtual void touch_sessions(const std::vector<std::string>& token_hashes, TimePoint at) = 0;
  // When the session was last in use (its creation if never touched); nullopt when unknown.
  virtual std::optional<TimePoint> find_session_last_seen(std::string_view token_hash) = 0;
  // The still-valid sessions among token_hashes (not revoked, not expired at now, used since
  // idle_before, their user not disabled), each once with its expiry; unknown hashes are left
  // out. One batched look-up (for the sweep of live sessions).
  virtual std::vector<SessionExpiry> list_valid_sessions(
      const std::vector<std::string>& token_hashes, TimePoint now, TimePoint idle_before) = 0;
  // A counter that every change able to end a session other than by time moves on: a session
  // revoked, deleted or given another expiry or user, a user disabled, enabled or deleted.
  // Kept by triggers, so changes made by any process or node, or by hand, count. Read before
  // list_valid_sessions, an unchanged value means the sessions it checked are as they were.
  virtual std::int64_t session_epoch() = 0;
  // (end of auth)

  // ---- case files ----
  virtual void insert_upload(const Upload& upload) = 0;
  virtual std::optional<Upload> find_upload(std::string_view id) = 0;
  // Records progress and activity; false when the upload is unknown.
  virtual bool set_upload_progress(std::string_view id, std::uint64_t committed_offset,
                                   TimePoint updated_at) = 0;
  virtual bool delete_upload(std::string_view id) = 0;
  // Uploads idle since before idle_before, oldest first, at most limit.
  virtual std::vector<Upload> list_idle_uploads(TimePoint idle_before, int limit) = 0;
  // Declared sizes of the organisation's files plus those of its unfinished uploads.
  virtual std::uint64_t organization_storage_bytes(std::string_view organization_id) = 0;
  // The user's unfinished uploads.
  virtual std::int64_t count_user_uploads(std::string_view user_id) = 0;
  // The oldest unfinished upload declared as `declared` is: the same user, consultation (or
  // none), file name, media type, size and SHA-256.
  virtual std::optional<Upload> find_open_upload_like(const Upload& declared) = 0;

  virtual void insert_case_file(const CaseFile& file) = 0;  // id and upload_id must be new
  virtual std::optional<CaseFile> find_case_file(std::string_view id) = 0;
  virtual std::optional<CaseFile> find_case_file_by_upload(std::string_view upload_id) = 0;
  // False when the file was already shared with the consultation.
  virtual bool share_case_file(std::string_view file_id, std::string_view consultation_id,
                               TimePoint shared_at) = 0;
  // Files shared with the consultation, oldest share first.
  virtual std::vector<CaseFile> list_consultation_case_files(
      std::string_view consultation_id) = 0;
  // Consultations the file is shared with, oldest share first.
  virtual std::vector<std::string> list_case_file_consultations(std::string_view file_id) = 0;
  // (end of case files)

  // ---- scheduling ----
  virtual std::vector<AvailabilityRuleRecord> list_availability_rules(
      std::string_view specialist_id) = 0;  // in publishing order
  // Replaces the specialist's rules and records that slots exist up to expanded_until.
  virtual void replace_availability_rules(std::string_view specialist_id,
                                          const std::vector<AvailabilityRuleRecord>& rules,
                                          TimePoint expanded_until) = 0;
  // Specialists with rules whose slots were expanded only up to before `until`.
  virtual std::vector<std::string> list_specialists_expanded_before(TimePoint until,
                                                                    int limit) = 0;
  virtual std::optional<TimePoint> find_rules_expanded_until(std::string_view specialist_id) = 0;
  virtual void set_rules_expanded_until(std::string_view specialist_id, TimePoint until) = 0;

  virtual std::optional<SlotRecord> find_slot(std::string_view id) = 0;
  // The specialist's slots ending after ends_after, sorted by start.
  virtual std::vector<SlotRecord> list_specialist_slots(std::string_view specialist_id,
                                                        TimePoint ends_after) = 0;
  virtual std::vector<SlotRecord> list_slots(const SlotQuery& query) = 0;  // sorted by start
  virtual bool insert_slot(const SlotRecord& slot) = 0;  // false when the id exists
  virtual bool delete_unbooked_slot(std::string_view id) = 0;  // false when booked or unknown
  // Sets the capacity unless it would fall below booked; false then (or unknown).
  virtual bool set_slot_capacity(std::string_view id, int capacity) = 0;
  // Takes one place atomically (booked < capacity); false when the slot is full or unknown.
  virtual bool take_slot_place(std::string_view id) = 0;
  virtual bool release_slot_place(std::string_view id) = 0;  // false when none was taken

  virtual std::optional<Appointment> find_appointment(std::string_view id) = 0;
  virtual void insert_appointment(const Appointment& appointment) = 0;
  virtual void update_appointment(const Appointment& appointment) = 0;  // by id, every column
  virtual std::vector<Appointment> list_appointments(const AppointmentQuery& query) = 0;
  // BOOKED appointments of the consultation in the slot.
  virtual bool has_booked_appointment(std::string_view slot_id,
                                      std::string_view consultation_id) = 0;
  // BOOKED appointments of the consultation, earliest first.
  virtual std::vector<Appointment> list_booked_appointments_of(
      std::string_view consultation_id) = 0;
  // Ids of consultations in a final state (closed, declined, cancelled, expired) that still have
  // a BOOKED appointment starting after now, in id order, at most limit.
  virtual std::vector<std::string> list_ended_consultations_with_booked_reviews(TimePoint now,
                                                                                int limit) = 0;
  // Ids of consultations with a BOOKED appointment starting after now whose specialist is
  // disabled, in id order, at most limit.
  virtual std::vector<std::string> list_consultations_with_reviews_of_disabled_specialists(
      TimePoint now, int limit) = 0;
  // BOOKED appointments of the specialist outside slot except_slot_id overlapping [from, to).
  virtual std::vector<Appointment> list_overlapping_appointments(std::string_view specialist_id,
                                                                 TimePoint from, TimePoint to,
                                                                 std::string_view except_slot_id) = 0;
  // BOOKED appointments whose next_reminder_at <= now, earliest first.
  virtual std::vector<Appointment> list_reminder_due_appointments(TimePoint now, int limit) = 0;

  virtual std::vector<int> list_sent_reminders(std::string_view appointment_id) = 0;  // minutes
  virtual void mark_reminders_sent(std::string_view appointment_id,
                                   const std::vector<int>& lead_minutes, TimePoint at) = 0;
  virtual void clear_sent_reminders(std::string_view appointment_id) = 0;
  virtual void queue_reminder(const PendingReminder& reminder) = 0;  // an existing one is kept
  virtual std::vector<PendingReminder> list_pending_reminders(std::string_view user_id) = 0;
  // Users with queued reminders whose id sorts after `after`, in id order (pages of limit).
  virtual std::vector<std::string> list_users_with_pending_reminders(std::string_view after,
                                                                      int limit) = 0;
  // False when it was not queued (already delivered by someone else).
  virtual bool delete_pending_reminder(const PendingReminder& reminder) = 0;
  virtual void delete_pending_reminders_of(std::string_view appointment_id) = 0;
  // Drops the queued reminders of appointments that started at or before now or are no longer
  // booked (their users never signed in to take them); returns how many.
  virtual int delete_stale_pending_reminders(TimePoint now) = 0;
  // (end of scheduling)

  // ---- cluster events ----
  // Appends an event (row.id is ignored) and returns its id. Ids grow in commit order: writes
  // are serialised cluster-wide, so a reader that saw id N has seen every committed id below
  // N. PostgreSQL also wakes every node's EventWaiter when the transaction commits.
  virtual std::int64_t append_event(const EventRow& row) = 0;
  // Events with id > after_id in id order, at most limit.
  virtual std::vector<EventRow> list_events_after(std::int64_t after_id, int limit) = 0;
  virtual std::int64_t last_event_id() = 0;  // 0 when there is none
  virtual int delete_events_before(TimePoint before) = 0;  // number deleted
  // (end of cluster events)
};

// Blocks until another node may have appended events (PostgreSQL LISTEN/NOTIFY). Used by one
// thread at a time.
class EventWaiter {
 public:
  virtual ~EventWaiter() = default;
  // Returns true when woken by a notification, or when the connection was (re)established and
  // notifications may have been missed; false when timeout passed without one. Throws
  // StoreError when the server cannot be reached (the next call tries to reconnect).
  virtual bool wait(std::chrono::milliseconds timeout) = 0;
};

// Write operation run inside a group-commit batch. Return true to keep its changes, false to
// roll back only its own changes (it runs inside a savepoint).
using WriteOp = std::function<bool(Tx&)>;

// Runs a task elsewhere (e.g. posts it to the io threads); must not run it inline.
using CompletionHandoff = std::function<void(std::function<void()> task)>;

// Work that joins the end of every write batch, inside its transaction: records that describe
// the batch's ops (the audit trail of what they did) are then stored by the same commit instead
// of a second one. All three methods run on the writer thread, once per batch.
class BatchTail {
 public:
  enum class Settled {
    committed,      // append ran and its changes are durable
    not_appended,   // the batch committed without the tail (not wanted, or append rolled back)
    batch_failed,   // the whole batch was rolled back: so were the ops the tail describes
  };
  virtual ~BatchTail() = default;
  virtual bool wanted() = 0;          // anything to append to this batch?
  virtual bool append(Tx& tx) = 0;    // in a savepoint of its own, after the batch's ops
  virtual void settled(Settled how) noexcept = 0;  // after the commit or the failure
};

// Counters of the group-commit writer, for metrics. All monotonic except last_batch_size.
struct WriterStats {
  std::uint64_t batches_committed = 0;
  std::uint64_t ops_committed = 0;  // ops in committed batches (kept or rolled back to savepoint)
  std::uint64_t batches_failed = 0;
  std::uint64_t last_batch_size = 0;
  double commit_seconds_total = 0;  // time spent in COMMIT (the fsync), summed
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs fn in a read-only snapshot on the calling thread. Thread-safe; blocks on I/O, so never
  // call it on an io thread.
  virtual void read(const std::function<void(Tx&)>& fn) = 0;

  // Queues op for the single writer and blocks until its batch is durable (committed and
  // fsynced). Returns what op returned. Throws StoreError if the batch could not be committed
  // (then nothing of op is stored). Thread-safe; never call it on an io thread.
  virtual bool write(WriteOp op) = 0;

  // Non-blocking form: done runs after the batch commit, with the value op returned, or with an
  // exception when the commit failed. It runs on the writer thread, or, once a completion
  // handoff is set, in the one task per batch given to the handoff (in commit order).
  virtual void write_async(WriteOp op, std::function<void(bool kept, std::exception_ptr)> done) = 0;

  // Where write_async completions run from now on (empty: the writer thread). A server hands
  // them to its io threads, so that a batch wakes them once rather than once per answer.
  virtual void set_completion_handoff(CompletionHandoff handoff) { (void)handoff; }

  // Sets (or, with nullptr, clears) the tail of every later batch. Clearing returns once no
  // batch uses the old tail any more. The tail must outlive its registration.
  virtual void set_batch_tail(BatchTail* tail) { (void)tail; }

  // Schema version after migrations.
  virtual int schema_version() = 0;

  // Group-commit counters; thread-safe. Backends without a group-commit writer report zeros.
  virtual WriterStats writer_stats() const { return {}; }

  // A waiter for events appended by other processes sharing this store, or nullptr when the
  // backend has no shared-store notifications (SQLite: one server per database).
  virtual std::unique_ptr<EventWaiter> open_event_waiter() { return nullptr; }

  // Writes a consistent copy of the whole database to a new file at path while the store stays
  // in use (readers and writers are not blocked). Throws StoreError when path exists or cannot
  // be written, or when the backend has no online backup.
  virtual void backup_to(const std::string& path) {
    (void)path;
    throw StoreError("this store backend has no online backup");
  }
};

}  // namespace tmc::store

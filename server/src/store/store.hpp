// Store: the storage port. Domain code talks to a Tx; backends (SQLite, later PostgreSQL) adapt it.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/model.hpp"

namespace tmc::store {

// Thrown for broken invariants of the storage itself (I/O error, corrupt file, lost connection).
// Expected outcomes (not found, duplicate) are return values, never exceptions.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
  virtual std::optional<Consultation> find_consultation(std::string_view id) = 0;
  virtual bool insert_consultation(const Consultation& consultation) = 0;
  virtual void update_consultation(const Consultation& consultation) = 0;  // by id, every column
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

  virtual void append_log(const LogRecord& record) = 0;  // (consultation_id, seq) must be new
  virtual std::optional<LogRecord> find_log_by_client_msg_id(std::string_view consultation_id,
                                                             std::string_view sender_id,
                                                             std::string_view client_msg_id) = 0;
  // Entries with seq > after_seq in seq order, at most limit.
  virtual std::vector<LogRecord> list_log(std::string_view consultation_id, std::int64_t after_seq,
                                          int limit) = 0;

  // ---- case files ----
  // (end of case files)

  // ---- scheduling ----
  // (end of scheduling)
};

// Write operation run inside a group-commit batch. Return true to keep its changes, false to
// roll back only its own changes (it runs inside a savepoint).
using WriteOp = std::function<bool(Tx&)>;

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

  // Non-blocking form: done runs on the writer thread after the batch commit, with the value op
  // returned, or with an exception when the commit failed.
  virtual void write_async(WriteOp op, std::function<void(bool kept, std::exception_ptr)> done) = 0;

  // Schema version after migrations.
  virtual int schema_version() = 0;

  // Group-commit counters; thread-safe. Backends without a group-commit writer report zeros.
  virtual WriterStats writer_stats() const { return {}; }
};

}  // namespace tmc::store

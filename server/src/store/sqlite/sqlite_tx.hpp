// Tx over one SQLite connection: the SQL for every store operation.
#pragma once

#include <string>

#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

namespace tmc::store::sqlite {

// The caller owns the transaction (BEGIN/COMMIT); SqliteTx only runs statements. A read-only
// SqliteTx throws StoreError("read-only transaction") from every write method.
class SqliteTx final : public Tx {
 public:
  SqliteTx(Connection& connection, bool writable) : db_(connection), writable_(writable) {}

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

  std::optional<Consultation> find_consultation(std::string_view id) override;
  bool insert_consultation(const Consultation& consultation) override;
  void update_consultation(const Consultation& consultation) override;
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

  void append_log(const LogRecord& record) override;
  std::optional<LogRecord> find_log_by_client_msg_id(std::string_view consultation_id,
                                                     std::string_view sender_id,
                                                     std::string_view client_msg_id) override;
  std::vector<LogRecord> list_log(std::string_view consultation_id, std::int64_t after_seq,
                                  int limit) override;

  // ---- case files (implemented in sqlite_tx_case_files.cpp) ----
  // (end of case files)

  // ---- scheduling (implemented in sqlite_tx_scheduling.cpp) ----
  // (end of scheduling)

 private:
  void require_writable() const;
  std::optional<User> find_user_where(const std::string& sql, std::string_view key);
  void load_specialties(User& user);
  std::vector<Consultation> collect_consultations(Query& query);

  Connection& db_;
  bool writable_;
};

}  // namespace tmc::store::sqlite

// SQL for the store operations on SQLite. Row <-> record mapping lives next to each table's SQL.
#include "store/sqlite/sqlite_tx.hpp"

#include <algorithm>
#include <string>

#include "store/record_rows.hpp"

namespace tmc::store::sqlite {
namespace {

template <class Enum>
int to_int(Enum value) {
  return static_cast<int>(value);
}

// ---- organisations ----

constexpr auto read_organization = &rows::read_organization<Query>;
constexpr auto read_user = &rows::read_user<Query>;
constexpr auto read_session = &rows::read_session<Query>;
constexpr auto read_consultation = &rows::read_consultation<Query>;
constexpr auto read_log = &rows::read_log<Query>;
using rows::user_columns;

const std::string organization_select =
    std::string("SELECT ") + rows::organization_columns + " FROM organizations ";

// ---- users ----

// Shared tail of both list_users forms: ?1 role or NULL, ?2 organisation or '', ?3 include
// disabled; the specialty (?4) is matched by the driving join when set.
constexpr const char* user_filter_tail =
    " (?1 IS NULL OR u.role = ?1) AND (?2 = '' OR u.organization_id = ?2)"
    " AND (?3 OR u.disabled = 0) ORDER BY u.username";

// ---- sessions ----

// ---- consultations ----

// Column order shared by SELECT (read_consultation), INSERT and UPDATE (bind_consultation).
const std::string& consultation_select() {
  static const std::string sql =
      std::string("SELECT ") + rows::consultation_columns + " FROM consultations c ";
  return sql;
}

void bind_consultation(Query& query, const Consultation& c) {
  query.bind_all(c.id, to_int(c.state), to_int(c.urgency), c.specialty, c.patient_reference,
                 c.patient_age_years, to_int(c.patient_sex), c.requesting_organization_id,
                 c.requester_id);
  query.bind_or_null(10, c.assigned_specialist_id)
      .bind_or_null(11, c.target_organization_id)
      .bind_or_null(12, c.preferred_specialist_id)
      .bind(13, Blob{c.wrapped_key})
      .bind(14, c.last_seq)
      .bind(15, c.candidate_count)
      .bind(16, c.respond_by)
      .bind(17, c.escalated)
      .bind(18, c.created_at)
      .bind(19, c.updated_at);
}

// ---- log ----

const std::string log_select =
    std::string("SELECT ") + rows::log_columns + " FROM consultation_log ";

template <class Record, class Reader>
std::vector<Record> collect(Query& query, Reader read) {
  std::vector<Record> rows;
  while (query.step()) rows.push_back(read(query));
  return rows;
}

template <class Record, class Reader>
std::optional<Record> first(Query& query, Reader read) {
  if (!query.step()) return std::nullopt;
  return read(query);
}

}  // namespace

void SqliteTx::require_writable(Remembered remembered) {
  if (!writable_) throw StoreError("read-only transaction");
  if (remembered == Remembered::forgotten) forget_consultations();
}

void SqliteTx::forget_consultations() noexcept {
  if (!memo_.empty()) memo_.clear();
}

SqliteTx::Memo& SqliteTx::remember(std::string_view consultation_id) {
  if (auto found = memo_.find(consultation_id); found != memo_.end()) return found->second;
  if (memo_.size() >= kMaxRemembered) memo_.clear();
  return memo_[std::string(consultation_id)];
}

// ---- directory ----

std::optional<Organization> SqliteTx::find_organization(std::string_view id) {
  static const std::string sql = std::string(organization_select) + "WHERE id = ?1";
  auto query = db_.query(sql);
  query.bind(1, id);
  return first<Organization>(query, read_organization);
}

std::vector<Organization> SqliteTx::list_organizations() {
  static const std::string sql = std::string(organization_select) + "ORDER BY id";
  auto query = db_.query(sql);
  return collect<Organization>(query, read_organization);
}

std::vector<Pairing> SqliteTx::list_pairings() {
  auto query = db_.query(
      "SELECT county_organization_id, partner_organization_id FROM pairings"
      " ORDER BY county_organization_id, partner_organization_id");
  return collect<Pairing>(query, [](const Query& row) {
    return Pairing{row.text(0), row.text(1)};
  });
}

void SqliteTx::load_specialties(User& user) {
  auto query =
      db_.query("SELECT specialty FROM user_specialties WHERE user_id = ?1 ORDER BY specialty");
  query.bind(1, user.id);
  user.specialties = collect<std::string>(query, [](const Query& row) { return row.text(0); });
}

std::optional<User> SqliteTx::find_user_where(const std::string& sql, std::string_view key) {
  std::optional<User> user;
  {
    auto query = db_.query(sql);
    query.bind(1, key);
    user = first<User>(query, read_user);
  }
  if (user) load_specialties(*user);  // after the first statement is reset
  return user;
}

std::optional<User> SqliteTx::find_user(std::string_view id) {
  static const std::string sql =
      std::string("SELECT ") + user_columns + " FROM users u WHERE u.id = ?1";
  return find_user_where(sql, id);
}

std::optional<User> SqliteTx::find_user_by_username(std::string_view username) {
  static const std::string sql =
      std::string("SELECT ") + user_columns + " FROM users u WHERE u.username = ?1";
  return find_user_where(sql, username);
}

std::vector<User> SqliteTx::list_users(const UserFilter& filter) {
  // With a specialty the (specialty, user_id) index drives the query; otherwise users does.
  static const std::string by_specialty =
      std::string("SELECT ") + user_columns +
      " FROM user_specialties s JOIN users u ON u.id = s.user_id WHERE s.specialty = ?4 AND" +
      user_filter_tail;
  static const std::string all =
      std::string("SELECT ") + user_columns + " FROM users u WHERE ?4 = '' AND" + user_filter_tail;
  std::vector<User> users;
  {
    auto query = db_.query(filter.specialty.empty() ? all : by_specialty);
    if (filter.role) {
      query.bind(1, to_int(*filter.role));
    } else {
      query.bind_null(1);
    }
    query.bind(2, filter.organization_id)
        .bind(3, filter.include_disabled)
        .bind(4, filter.specialty);
    users = collect<User>(query, read_user);
  }
  for (auto& user : users) load_specialties(user);
  return users;
}

std::optional<std::string> SqliteTx::find_password_hash(std::string_view user_id) {
  auto query = db_.query("SELECT password_hash FROM password_hashes WHERE user_id = ?1");
  query.bind(1, user_id);
  return first<std::string>(query, [](const Query& row) { return row.text(0); });
}

bool SqliteTx::insert_organization(const Organization& org) {
  require_writable();
  db_.query(
         "INSERT INTO organizations(id, name, kind, region, time_zone)"
         " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")
      .bind_all(org.id, org.name, to_int(org.kind), org.region, org.time_zone)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::insert_pairing(const Pairing& pairing) {
  require_writable();
  db_.query(
         "INSERT INTO pairings(county_organization_id, partner_organization_id)"
         " VALUES (?1, ?2) ON CONFLICT DO NOTHING")
      .bind_all(pairing.county_organization_id, pairing.partner_organization_id)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::insert_user(const User& user, std::string_view password_hash) {
  require_writable();
  db_.query(
         "INSERT INTO users(id, username, display_name, role, organization_id, disabled,"
         " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING")
      .bind_all(user.id, user.username, user.display_name, to_int(user.role), user.organization_id,
                user.disabled, user.created_at)
      .run();
  if (db_.changes() != 1) return false;
  for (const auto& specialty : user.specialties) {
    db_.query(
           "INSERT INTO user_specialties(user_id, specialty) VALUES (?1, ?2)"
           " ON CONFLICT DO NOTHING")
        .bind_all(user.id, specialty)
        .run();
  }
  return set_password_hash(user.id, password_hash);
}

bool SqliteTx::set_password_hash(std::string_view user_id, std::string_view password_hash) {
  require_writable();
  db_.query(
         "INSERT INTO password_hashes(user_id, password_hash)"
         " SELECT id, ?2 FROM users WHERE id = ?1"
         " ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash")
      .bind_all(user_id, password_hash)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::set_user_disabled(std::string_view user_id, bool disabled) {
  require_writable();
  db_.query("UPDATE users SET disabled = ?2 WHERE id = ?1").bind_all(user_id, disabled).run();
  return db_.changes() == 1;
}

// ---- sessions ----

std::optional<SessionRecord> SqliteTx::find_session(std::string_view token_hash) {
  static const std::string sql =
      std::string("SELECT ") + rows::session_columns + " FROM sessions WHERE token_hash = ?1";
  auto query = db_.query(sql);
  query.bind(1, Blob{token_hash});
  return first<SessionRecord>(query, read_session);
}

void SqliteTx::insert_session(const SessionRecord& session) {
  require_writable();
  db_.query(
         "INSERT INTO sessions(token_hash, user_id, created_at, expires_at, revoked)"
         " VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(Blob{session.token_hash}, session.user_id, session.created_at, session.expires_at,
                session.revoked)
      .run();
}

bool SqliteTx::revoke_session(std::string_view token_hash) {
  require_writable();
  db_.query("UPDATE sessions SET revoked = 1 WHERE token_hash = ?1")
      .bind(1, Blob{token_hash})
      .run();
  return db_.changes() == 1;
}

int SqliteTx::revoke_user_sessions(std::string_view user_id) {
  require_writable();
  db_.query("UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND revoked = 0")
      .bind(1, user_id)
      .run();
  return db_.changes();
}

int SqliteTx::delete_expired_sessions(TimePoint now) {
  require_writable();
  db_.query("DELETE FROM sessions WHERE expires_at <= ?1").bind(1, now).run();
  return db_.changes();
}

// ---- consultations ----

std::optional<Consultation> SqliteTx::find_consultation(std::string_view id,
                                                        SealedTexts texts) {
  if (texts == SealedTexts::skip) {
    if (writable_) {
      if (auto found = memo_.find(id); found != memo_.end() && found->second.consultation) {
        return found->second.consultation;
      }
    }
    static const std::string sql = consultation_select() + "WHERE c.id = ?1";
    auto query = db_.query(sql);
    query.bind(1, id);
    auto consultation = first<Consultation>(query, read_consultation);
    if (writable_ && consultation) remember(consultation->id).consultation = consultation;
    return consultation;
  }
  static const std::string sql = std::string("SELECT ") + rows::consultation_columns +
                                 rows::consultation_text_columns +
                                 " FROM consultations c"
                                 " JOIN consultation_texts t ON t.consultation_id = c.id"
                                 " WHERE c.id = ?1";
  auto query = db_.query(sql);
  query.bind(1, id);
  return first<Consultation>(query, rows::read_consultation_with_texts<Query>);
}

bool SqliteTx::insert_consultation(const Consultation& consultation) {
  require_writable();
  auto query = db_.query(
      "INSERT INTO consultations(id, state, urgency, specialty, patient_reference,"
      " patient_age_years, patient_sex, requesting_organization_id, requester_id,"
      " assigned_specialist_id, target_organization_id, preferred_specialist_id, wrapped_key,"
      " last_seq, candidate_count, respond_by, escalated, created_at, updated_at) VALUES (?1,"
      " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
      " ON CONFLICT DO NOTHING");
  bind_consultation(query, consultation);
  query.run();
  if (db_.changes() != 1) return false;
  db_.query(
         "INSERT INTO consultation_texts(consultation_id, sealed_question, sealed_summary,"
         " sealed_report) VALUES (?1, ?2, ?3, ?4)")
      .bind_all(std::string_view(consultation.id), Blob{consultation.sealed_question},
                Blob{consultation.sealed_summary}, Blob{consultation.sealed_report})
      .run();
  return true;
}

void SqliteTx::update_consultation(const Consultation& consultation) {
  require_writable();
  auto query = db_.query(
      "UPDATE consultations SET state = ?2, urgency = ?3, specialty = ?4,"
      " patient_reference = ?5, patient_age_years = ?6, patient_sex = ?7,"
      " requesting_organization_id = ?8, requester_id = ?9, assigned_specialist_id = ?10,"
      " target_organization_id = ?11, preferred_specialist_id = ?12, wrapped_key = ?13,"
      " last_seq = ?14, candidate_count = ?15, respond_by = ?16, escalated = ?17,"
      " created_at = ?18, updated_at = ?19 WHERE id = ?1");
  bind_consultation(query, consultation);
  query.run();
  if (db_.changes() != 1) throw StoreError("update_consultation: no such consultation");
}

void SqliteTx::set_consultation_report(std::string_view id, std::string_view sealed_report) {
  require_writable();
  db_.query("UPDATE consultation_texts SET sealed_report = ?2 WHERE consultation_id = ?1")
      .bind_all(id, Blob{sealed_report})
      .run();
  if (db_.changes() != 1) throw StoreError("set_consultation_report: no such consultation");
}

void SqliteTx::set_consultation_last_seq(std::string_view id, std::int64_t last_seq,
                                         TimePoint updated_at) {
  require_writable(Remembered::unchanged);
  db_.query("UPDATE consultations SET last_seq = ?2, updated_at = ?3 WHERE id = ?1")
      .bind_all(id, last_seq, updated_at)
      .run();
  if (db_.changes() != 1) throw StoreError("set_consultation_last_seq: no such consultation");
  if (auto found = memo_.find(id); found != memo_.end() && found->second.consultation) {
    found->second.consultation->last_seq = last_seq;
    found->second.consultation->updated_at = updated_at;
  }
}

std::vector<Consultation> SqliteTx::list_consultations(const ConsultationQuery& query) {
  if (query.limit <= 0) return {};
  // Visible: the user participates or is an open candidate; or a coordinator's organisation
  // requested it, or is the organisation of its assigned specialist or of any participant or
  // candidate (declined ones included: that organisation was involved).
  static const std::string sql =
      consultation_select() +
      "WHERE c.id > ?3 AND (?4 IS NULL OR c.state = ?4) AND ("
      " EXISTS (SELECT 1 FROM consultation_participants p"
      "   WHERE p.consultation_id = c.id AND p.user_id = ?1)"
      " OR EXISTS (SELECT 1 FROM consultation_candidates k"
      "   WHERE k.consultation_id = c.id AND k.user_id = ?1 AND k.declined = 0)"
      " OR (?2 <> '' AND ("
      "   c.requesting_organization_id = ?2"
      "   OR EXISTS (SELECT 1 FROM users u"
      "     WHERE u.id = c.assigned_specialist_id AND u.organization_id = ?2)"
      "   OR EXISTS (SELECT 1 FROM consultation_participants p JOIN users u ON u.id = p.user_id"
      "     WHERE p.consultation_id = c.id AND u.organization_id = ?2)"
      "   OR EXISTS (SELECT 1 FROM consultation_candidates k JOIN users u ON u.id = k.user_id"
      "     WHERE k.consultation_id = c.id AND u.organization_id = ?2))))"
      " ORDER BY c.id LIMIT ?5";
  auto rows = db_.query(sql);
  rows.bind(1, query.user_id).bind(2, query.coordinator_organization_id).bind(3, query.after_id);
  if (query.state) {
    rows.bind(4, to_int(*query.state));
  } else {
    rows.bind_null(4);
  }
  rows.bind(5, query.limit);
  return collect<Consultation>(rows, read_consultation);
}

std::vector<Consultation> SqliteTx::list_due_consultations(TimePoint now, int limit) {
  if (limit <= 0) return {};
  // The WHERE clause repeats the partial index's condition so the planner can use it.
  static const std::string sql =
      consultation_select() +
      "WHERE c.state IN (1, 2) AND c.respond_by IS NOT NULL AND c.respond_by <= ?1"
      " ORDER BY c.respond_by, c.id LIMIT ?2";
  static_assert(static_cast<int>(ConsultationState::requested) == 1 &&
                static_cast<int>(ConsultationState::offered) == 2);
  auto query = db_.query(sql);
  query.bind_all(now, limit);
  return collect<Consultation>(query, read_consultation);
}

std::vector<Participant> SqliteTx::list_participants(std::string_view consultation_id) {
  if (writable_) {
    if (auto found = memo_.find(consultation_id);
        found != memo_.end() && found->second.participants) {
      return *found->second.participants;
    }
  }
  auto query = db_.query(
      "SELECT user_id, kind, read_seq FROM consultation_participants"
      " WHERE consultation_id = ?1 ORDER BY user_id");
  query.bind(1, consultation_id);
  auto participants = collect<Participant>(query, [](const Query& row) {
    return Participant{row.text(0), static_cast<ParticipantKind>(row.int32(1)), row.int64(2)};
  });
  if (writable_) remember(consultation_id).participants = participants;
  return participants;
}

bool SqliteTx::add_participant(std::string_view consultation_id, const Participant& p) {
  require_writable();
  db_.query(
         "INSERT INTO consultation_participants(consultation_id, user_id, kind, read_seq)"
         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")
      .bind_all(consultation_id, p.user_id, to_int(p.kind), p.read_seq)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::advance_read_seq(std::string_view consultation_id, std::string_view user_id,
                                std::int64_t seq) {
  require_writable(Remembered::unchanged);
  db_.query(
         "UPDATE consultation_participants SET read_seq = max(read_seq, ?3)"
         " WHERE consultation_id = ?1 AND user_id = ?2")
      .bind_all(consultation_id, user_id, seq)
      .run();
  if (db_.changes() != 1) return false;
  if (auto found = memo_.find(consultation_id);
      found != memo_.end() && found->second.participants) {
    for (auto& participant : *found->second.participants) {
      if (participant.user_id == user_id) {
        participant.read_seq = std::max(participant.read_seq, seq);
      }
    }
  }
  return true;
}

std::vector<Candidate> SqliteTx::list_candidates(std::string_view consultation_id) {
  auto query = db_.query(
      "SELECT user_id, declined FROM consultation_candidates WHERE consultation_id = ?1"
      " ORDER BY user_id");
  query.bind(1, consultation_id);
  return collect<Candidate>(query, [](const Query& row) {
    return Candidate{row.text(0), row.boolean(1)};
  });
}

void SqliteTx::add_candidates(std::string_view consultation_id,
                              const std::vector<std::string>& user_ids) {
  require_writable();
  for (const auto& user_id : user_ids) {
    db_.query(
           "INSERT INTO consultation_candidates(consultation_id, user_id, declined)"
           " VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING")
        .bind_all(consultation_id, user_id)
        .run();
  }
}

bool SqliteTx::mark_candidate_declined(std::string_view consultation_id, std::string_view user_id) {
  require_writable();
  db_.query(
         "UPDATE consultation_candidates SET declined = 1"
         " WHERE consultation_id = ?1 AND user_id = ?2")
      .bind_all(consultation_id, user_id)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::append_log(const LogRecord& record) {
  require_writable(Remembered::unchanged);
  db_.query(
         "INSERT INTO consultation_log(consultation_id, seq, sender_id, client_msg_id,"
         " posted_at, sealed_body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
         " ON CONFLICT(consultation_id, sender_id, client_msg_id) WHERE client_msg_id <> ''"
         " DO NOTHING")
      .bind_all(record.consultation_id, record.seq, record.sender_id, record.client_msg_id,
                record.posted_at, Blob{record.sealed_body})
      .run();
  return db_.changes() == 1;
}

std::optional<LogRecord> SqliteTx::find_log_by_client_msg_id(std::string_view consultation_id,
                                                             std::string_view sender_id,
                                                             std::string_view client_msg_id) {
  if (client_msg_id.empty()) return std::nullopt;  // empty ids are not idempotency keys
  static const std::string sql = std::string(log_select) +
                                 "WHERE consultation_id = ?1 AND sender_id = ?2"
                                 " AND client_msg_id = ?3 AND client_msg_id <> ''";
  auto query = db_.query(sql);
  query.bind_all(consultation_id, sender_id, client_msg_id);
  return first<LogRecord>(query, read_log);
}

std::vector<LogRecord> SqliteTx::list_log(std::string_view consultation_id, std::int64_t after_seq,
                                          int limit) {
  if (limit <= 0) return {};
  static const std::string sql =
      std::string(log_select) + "WHERE consultation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
  auto query = db_.query(sql);
  query.bind_all(consultation_id, after_seq, limit);
  return collect<LogRecord>(query, read_log);
}

}  // namespace tmc::store::sqlite

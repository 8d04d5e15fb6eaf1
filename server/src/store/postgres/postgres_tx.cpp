// SQL for the store operations on PostgreSQL. Row <-> record mapping lives next to each table.
#include "store/postgres/postgres_tx.hpp"

#include <string>

#include "store/record_rows.hpp"

namespace tmc::store::postgres {
namespace {

template <class Enum>
int to_int(Enum value) {
  return static_cast<int>(value);
}

// ---- organisations ----

constexpr auto read_organization = &rows::read_organization<Row>;
constexpr auto read_user = &rows::read_user<Row>;
constexpr auto read_session = &rows::read_session<Row>;
constexpr auto read_consultation = &rows::read_consultation<Row>;
constexpr auto read_log = &rows::read_log<Row>;
using rows::user_columns;

const std::string organization_select =
    std::string("SELECT ") + rows::organization_columns + " FROM organizations ";

// ---- users ----

// Shared tail of both list_users forms: $1 role or NULL, $2 organisation or '', $3 include
// disabled; the specialty ($4) is matched by the driving join when set.
constexpr const char* user_filter_tail =
    " ($1::integer IS NULL OR u.role = $1::integer)"
    " AND ($2::text = '' OR u.organization_id = $2::text)"
    " AND ($3::boolean OR NOT u.disabled) ORDER BY u.username";

// ---- sessions ----

// ---- consultations ----

// Column order shared by SELECT (read_consultation), INSERT and UPDATE (consultation_params).
const std::string& consultation_select() {
  static const std::string sql =
      std::string("SELECT ") + rows::consultation_columns + " FROM consultations c ";
  return sql;
}

Params consultation_params(const Consultation& c) {
  auto params = Params::of(c.id, to_int(c.state), to_int(c.urgency), c.specialty,
                           c.patient_reference, c.patient_age_years, to_int(c.patient_sex),
                           c.requesting_organization_id, c.requester_id);
  params.add_or_null(c.assigned_specialist_id)
      .add_or_null(c.target_organization_id)
      .add_or_null(c.preferred_specialist_id)
      .add(Bytes{c.wrapped_key})
      .add(c.last_seq)
      .add(c.candidate_count)
      .add(c.respond_by)
      .add(c.escalated)
      .add(c.created_at)
      .add(c.updated_at);
  return params;
}

// ---- log ----

const std::string log_select =
    std::string("SELECT ") + rows::log_columns + " FROM consultation_log ";

}  // namespace

void PostgresTx::require_writable() const {
  if (!writable_) throw StoreError("read-only transaction");
}

// ---- directory ----

std::optional<Organization> PostgresTx::find_organization(std::string_view id) {
  static const std::string sql = std::string(organization_select) + "WHERE id = $1";
  return first_row<Organization>(db_.query(sql, Params::of(id)), read_organization);
}

std::vector<Organization> PostgresTx::list_organizations() {
  static const std::string sql = std::string(organization_select) + "ORDER BY id";
  return collect_rows<Organization>(db_.query(sql), read_organization);
}

std::vector<Pairing> PostgresTx::list_pairings() {
  const auto result = db_.query(
      "SELECT county_organization_id, partner_organization_id FROM pairings"
      " ORDER BY county_organization_id, partner_organization_id");
  return collect_rows<Pairing>(result, [](const Row& row) {
    return Pairing{row.text(0), row.text(1)};
  });
}

void PostgresTx::load_specialties(User& user) {
  const auto result =
      db_.query("SELECT specialty FROM user_specialties WHERE user_id = $1 ORDER BY specialty",
                Params::of(user.id));
  user.specialties = collect_rows<std::string>(result, [](const Row& row) { return row.text(0); });
}

std::optional<User> PostgresTx::find_user_where(const std::string& sql, std::string_view key) {
  auto user = first_row<User>(db_.query(sql, Params::of(key)), read_user);
  if (user) load_specialties(*user);
  return user;
}

std::optional<User> PostgresTx::find_user(std::string_view id) {
  static const std::string sql =
      std::string("SELECT ") + user_columns + " FROM users u WHERE u.id = $1";
  return find_user_where(sql, id);
}

std::optional<User> PostgresTx::find_user_by_username(std::string_view username) {
  static const std::string sql =
      std::string("SELECT ") + user_columns + " FROM users u WHERE u.username = $1";
  return find_user_where(sql, username);
}

std::vector<User> PostgresTx::list_users(const UserFilter& filter) {
  // With a specialty the (specialty, user_id) index drives the query; otherwise users does.
  static const std::string by_specialty =
      std::string("SELECT ") + user_columns +
      " FROM user_specialties s JOIN users u ON u.id = s.user_id WHERE s.specialty = $4::text AND" +
      user_filter_tail;
  static const std::string all = std::string("SELECT ") + user_columns +
                                 " FROM users u WHERE $4::text = '' AND" + user_filter_tail;
  Params params;
  if (filter.role) {
    params.add(to_int(*filter.role));
  } else {
    params.add_null();
  }
  params.add(filter.organization_id).add(filter.include_disabled).add(filter.specialty);
  auto users = collect_rows<User>(db_.query(filter.specialty.empty() ? all : by_specialty, params),
                                  read_user);
  for (auto& user : users) load_specialties(user);
  return users;
}

std::optional<std::string> PostgresTx::find_password_hash(std::string_view user_id) {
  return first_row<std::string>(
      db_.query("SELECT password_hash FROM password_hashes WHERE user_id = $1",
                Params::of(user_id)),
      [](const Row& row) { return row.text(0); });
}

bool PostgresTx::insert_organization(const Organization& org) {
  require_writable();
  return db_.query(
                "INSERT INTO organizations(id, name, kind, region, time_zone)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                Params::of(org.id, org.name, to_int(org.kind), org.region, org.time_zone))
             .affected() == 1;
}

bool PostgresTx::insert_pairing(const Pairing& pairing) {
  require_writable();
  return db_.query(
                "INSERT INTO pairings(county_organization_id, partner_organization_id)"
                " VALUES ($1, $2) ON CONFLICT DO NOTHING",
                Params::of(pairing.county_organization_id, pairing.partner_organization_id))
             .affected() == 1;
}

bool PostgresTx::insert_user(const User& user, std::string_view password_hash) {
  require_writable();
  const auto inserted = db_.query(
      "INSERT INTO users(id, username, display_name, role, organization_id, disabled,"
      " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
      Params::of(user.id, user.username, user.display_name, to_int(user.role), user.organization_id,
                 user.disabled, user.created_at));
  if (inserted.affected() != 1) return false;
  for (const auto& specialty : user.specialties) {
    db_.query(
        "INSERT INTO user_specialties(user_id, specialty) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        Params::of(user.id, specialty));
  }
  return set_password_hash(user.id, password_hash);
}

bool PostgresTx::set_password_hash(std::string_view user_id, std::string_view password_hash) {
  require_writable();
  return db_.query(
                "INSERT INTO password_hashes(user_id, password_hash)"
                " SELECT id, $2 FROM users WHERE id = $1"
                " ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash",
                Params::of(user_id, password_hash))
             .affected() == 1;
}

bool PostgresTx::set_user_disabled(std::string_view user_id, bool disabled) {
  require_writable();
  return db_.query("UPDATE users SET disabled = $2 WHERE id = $1", Params::of(user_id, disabled))
             .affected() == 1;
}

// ---- sessions ----

std::optional<SessionRecord> PostgresTx::find_session(std::string_view token_hash) {
  static const std::string sql =
      std::string("SELECT ") + rows::session_columns + " FROM sessions WHERE token_hash = $1";
  return first_row<SessionRecord>(db_.query(sql, Params::of(Bytes{token_hash})), read_session);
}

void PostgresTx::insert_session(const SessionRecord& session) {
  require_writable();
  db_.query(
      "INSERT INTO sessions(token_hash, user_id, created_at, expires_at, revoked)"
      " VALUES ($1, $2, $3, $4, $5)",
      Params::of(Bytes{session.token_hash}, session.user_id, session.created_at, session.expires_at,
                 session.revoked));
}

bool PostgresTx::revoke_session(std::string_view token_hash) {
  require_writable();
  return db_.query("UPDATE sessions SET revoked = true WHERE token_hash = $1",
                   Params::of(Bytes{token_hash}))
             .affected() == 1;
}

int PostgresTx::revoke_user_sessions(std::string_view user_id) {
  require_writable();
  return db_
      .query("UPDATE sessions SET revoked = true WHERE user_id = $1 AND NOT revoked",
             Params::of(user_id))
      .affected();
}

int PostgresTx::delete_expired_sessions(TimePoint now) {
  require_writable();
  return db_.query("DELETE FROM sessions WHERE expires_at <= $1", Params::of(now)).affected();
}

// ---- consultations ----

std::optional<Consultation> PostgresTx::find_consultation(std::string_view id,
                                                          SealedTexts texts) {
  if (texts == SealedTexts::skip) {
    static const std::string sql = consultation_select() + "WHERE c.id = $1";
    return first_row<Consultation>(db_.query(sql, Params::of(id)), read_consultation);
  }
  static const std::string sql = std::string("SELECT ") + rows::consultation_columns +
                                 rows::consultation_text_columns +
                                 " FROM consultations c"
                                 " JOIN consultation_texts t ON t.consultation_id = c.id"
                                 " WHERE c.id = $1";
  return first_row<Consultation>(db_.query(sql, Params::of(id)),
                                 rows::read_consultation_with_texts<Row>);
}

bool PostgresTx::insert_consultation(const Consultation& consultation) {
  require_writable();
  const bool inserted =
      db_.query(
             "INSERT INTO consultations(id, state, urgency, specialty, patient_reference,"
             " patient_age_years, patient_sex, requesting_organization_id, requester_id,"
             " assigned_specialist_id, target_organization_id, preferred_specialist_id,"
             " wrapped_key, last_seq, candidate_count, respond_by, escalated, created_at,"
             " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
             " $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING",
             consultation_params(consultation))
          .affected() == 1;
  if (!inserted) return false;
  db_.query(
      "INSERT INTO consultation_texts(consultation_id, sealed_question, sealed_summary,"
      " sealed_report) VALUES ($1, $2, $3, $4)",
      Params::of(consultation.id, Bytes{consultation.sealed_question},
                 Bytes{consultation.sealed_summary}, Bytes{consultation.sealed_report}));
  return true;
}

void PostgresTx::update_consultation(const Consultation& consultation) {
  require_writable();
  const auto result = db_.query(
      "UPDATE consultations SET state = $2, urgency = $3, specialty = $4,"
      " patient_reference = $5, patient_age_years = $6, patient_sex = $7,"
      " requesting_organization_id = $8, requester_id = $9, assigned_specialist_id = $10,"
      " target_organization_id = $11, preferred_specialist_id = $12, wrapped_key = $13,"
      " last_seq = $14, candidate_count = $15, respond_by = $16, escalated = $17,"
      " created_at = $18, updated_at = $19 WHERE id = $1",
      consultation_params(consultation));
  if (result.affected() != 1) throw StoreError("update_consultation: no such consultation");
}

void PostgresTx::set_consultation_report(std::string_view id, std::string_view sealed_report) {
  require_writable();
  const auto result =
      db_.query("UPDATE consultation_texts SET sealed_report = $2 WHERE consultation_id = $1",
                Params::of(id, Bytes{sealed_report}));
  if (result.affected() != 1) throw StoreError("set_consultation_report: no such consultation");
}

void PostgresTx::set_consultation_last_seq(std::string_view id, std::int64_t last_seq,
                                           TimePoint updated_at) {
  require_writable();
  const auto result =
      db_.query("UPDATE consultations SET last_seq = $2, updated_at = $3 WHERE id = $1",
                Params::of(id, last_seq, updated_at));
  if (result.affected() != 1) {
    throw StoreError("set_consultation_last_seq: no such consultation");
  }
}

std::vector<Consultation> PostgresTx::list_consultations(const ConsultationQuery& query) {
  if (query.limit <= 0) return {};
  // Visible: the user participates or is an open candidate; or a coordinator's organisation
  // requested it, or is the organisation of its assigned specialist or of any participant or
  // candidate (declined ones included: that organisation was involved).
  static const std::string sql =
      consultation_select() +
      "WHERE c.id > $3::text AND ($4::integer IS NULL OR c.state = $4::integer) AND ("
      " EXISTS (SELECT 1 FROM consultation_participants p"
      "   WHERE p.consultation_id = c.id AND p.user_id = $1::text)"
      " OR EXISTS (SELECT 1 FROM consultation_candidates k"
      "   WHERE k.consultation_id = c.id AND k.user_id = $1::text AND NOT k.declined)"
      " OR ($2::text <> '' AND ("
      "   c.requesting_organization_id = $2::text"
      "   OR EXISTS (SELECT 1 FROM users u"
      "     WHERE u.id = c.assigned_specialist_id AND u.organization_id = $2::text)"
      "   OR EXISTS (SELECT 1 FROM consultation_participants p JOIN users u ON u.id = p.user_id"
      "     WHERE p.consultation_id = c.id AND u.organization_id = $2::text)"
      "   OR EXISTS (SELECT 1 FROM consultation_candidates k JOIN users u ON u.id = k.user_id"
      "     WHERE k.consultation_id = c.id AND u.organization_id = $2::text))))"
      " ORDER BY c.id LIMIT $5";
  auto params = Params::of(query.user_id, query.coordinator_organization_id, query.after_id);
  if (query.state) {
    params.add(to_int(*query.state));
  } else {
    params.add_null();
  }
  params.add(query.limit);
  return collect_rows<Consultation>(db_.query(sql, params), read_consultation);
}

std::vector<Consultation> PostgresTx::list_due_consultations(TimePoint now, int limit) {
  if (limit <= 0) return {};
  // The WHERE clause repeats the partial index's condition so the planner can use it.
  static const std::string sql =
      consultation_select() +
      "WHERE c.state IN (1, 2) AND c.respond_by IS NOT NULL AND c.respond_by <= $1"
      " ORDER BY c.respond_by, c.id LIMIT $2";
  static_assert(static_cast<int>(ConsultationState::requested) == 1 &&
                static_cast<int>(ConsultationState::offered) == 2);
  return collect_rows<Consultation>(db_.query(sql, Params::of(now, limit)), read_consultation);
}

std::vector<Participant> PostgresTx::list_participants(std::string_view consultation_id) {
  const auto result = db_.query(
      "SELECT user_id, kind, read_seq FROM consultation_participants"
      " WHERE consultation_id = $1 ORDER BY user_id",
      Params::of(consultation_id));
  return collect_rows<Participant>(result, [](const Row& row) {
    return Participant{row.text(0), static_cast<ParticipantKind>(row.int32(1)), row.int64(2)};
  });
}

bool PostgresTx::add_participant(std::string_view consultation_id, const Participant& p) {
  require_writable();
  return db_.query(
                "INSERT INTO consultation_participants(consultation_id, user_id, kind, read_seq)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                Params::of(consultation_id, p.user_id, to_int(p.kind), p.read_seq))
             .affected() == 1;
}

bool PostgresTx::advance_read_seq(std::string_view consultation_id, std::string_view user_id,
                                  std::int64_t seq) {
  require_writable();
  return db_.query(
                "UPDATE consultation_participants SET read_seq = greatest(read_seq, $3::bigint)"
                " WHERE consultation_id = $1 AND user_id = $2",
                Params::of(consultation_id, user_id, seq))
             .affected() == 1;
}

std::vector<Candidate> PostgresTx::list_candidates(std::string_view consultation_id) {
  const auto result = db_.query(
      "SELECT user_id, declined FROM consultation_candidates WHERE consultation_id = $1"
      " ORDER BY user_id",
      Params::of(consultation_id));
  return collect_rows<Candidate>(result, [](const Row& row) {
    return Candidate{row.text(0), row.boolean(1)};
  });
}

void PostgresTx::add_candidates(std::string_view consultation_id,
                                const std::vector<std::string>& user_ids) {
  require_writable();
  for (const auto& user_id : user_ids) {
    db_.query(
        "INSERT INTO consultation_candidates(consultation_id, user_id, declined)"
        " VALUES ($1, $2, false) ON CONFLICT DO NOTHING",
        Params::of(consultation_id, user_id));
  }
}

bool PostgresTx::mark_candidate_declined(std::string_view consultation_id,
                                         std::string_view user_id) {
  require_writable();
  return db_.query(
                "UPDATE consultation_candidates SET declined = true"
                " WHERE consultation_id = $1 AND user_id = $2",
                Params::of(consultation_id, user_id))
             .affected() == 1;
}

bool PostgresTx::append_log(const LogRecord& record) {
  require_writable();
  return db_.query(
                "INSERT INTO consultation_log(consultation_id, seq, sender_id, client_msg_id,"
                " posted_at, sealed_body) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (consultation_id, sender_id, client_msg_id)"
                " WHERE client_msg_id <> '' DO NOTHING",
                Params::of(record.consultation_id, record.seq, record.sender_id,
                           record.client_msg_id, record.posted_at, Bytes{record.sealed_body}))
             .affected() == 1;
}

std::optional<LogRecord> PostgresTx::find_log_by_client_msg_id(std::string_view consultation_id,
                                                               std::string_view sender_id,
                                                               std::string_view client_msg_id) {
  if (client_msg_id.empty()) return std::nullopt;  // empty ids are not idempotency keys
  static const std::string sql = std::string(log_select) +
                                 "WHERE consultation_id = $1 AND sender_id = $2"
                                 " AND client_msg_id = $3 AND client_msg_id <> ''";
  return first_row<LogRecord>(db_.query(sql, Params::of(consultation_id, sender_id, client_msg_id)),
                              read_log);
}

std::vector<LogRecord> PostgresTx::list_log(std::string_view consultation_id,
                                            std::int64_t after_seq, int limit) {
  if (limit <= 0) return {};
  static const std::string sql =
      std::string(log_select) + "WHERE consultation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
  return collect_rows<LogRecord>(db_.query(sql, Params::of(consultation_id, after_seq, limit)),
                                 read_log);
}

}  // namespace tmc::store::postgres

// SQLite schema history. Never edit a released migration: append a new numbered one.
#include "store/sqlite/migrations.hpp"

#include <string>

#include "store/store.hpp"

namespace tmc::store::sqlite {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Times are INTEGER microseconds since the Unix epoch (UTC); enums are their numeric values;
// sealed (encrypted) fields and token hashes are BLOBs; empty optional references are NULL.
constexpr const char* migration_1 = R"sql(
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  region TEXT NOT NULL,
  time_zone TEXT NOT NULL
) STRICT;

CREATE TABLE pairings (
  county_organization_id TEXT NOT NULL REFERENCES organizations(id),
  partner_organization_id TEXT NOT NULL REFERENCES organizations(id),
  PRIMARY KEY (county_organization_id, partner_organization_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role INTEGER NOT NULL,
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX users_by_organization ON users(organization_id, username);

CREATE TABLE user_specialties (
  user_id TEXT NOT NULL REFERENCES users(id),
  specialty TEXT NOT NULL,
  PRIMARY KEY (user_id, specialty)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_specialties_by_specialty ON user_specialties(specialty, user_id);

CREATE TABLE password_hashes (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  password_hash TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

CREATE TABLE consultations (
  id TEXT PRIMARY KEY,
  state INTEGER NOT NULL,
  urgency INTEGER NOT NULL,
  specialty TEXT NOT NULL,
  patient_reference TEXT NOT NULL,
  patient_age_years INTEGER NOT NULL,
  patient_sex INTEGER NOT NULL,
  requesting_organization_id TEXT NOT NULL REFERENCES organizations(id),
  requester_id TEXT NOT NULL REFERENCES users(id),
  assigned_specialist_id TEXT REFERENCES users(id),
  target_organization_id TEXT REFERENCES organizations(id),
  preferred_specialist_id TEXT REFERENCES users(id),
  wrapped_key BLOB NOT NULL,
  sealed_question BLOB NOT NULL,
  sealed_summary BLOB NOT NULL,
  sealed_report BLOB NOT NULL,
  last_seq INTEGER NOT NULL,
  candidate_count INTEGER NOT NULL,
  respond_by INTEGER,
  escalated INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX consultations_by_requesting_organization
  ON consultations(requesting_organization_id, id);
CREATE INDEX consultations_by_assigned_specialist ON consultations(assigned_specialist_id);
CREATE INDEX consultations_due ON consultations(respond_by)
  WHERE state IN (1, 2) AND respond_by IS NOT NULL;

CREATE TABLE consultation_participants (
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  kind INTEGER NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (consultation_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX consultation_participants_by_user
  ON consultation_participants(user_id, consultation_id);

CREATE TABLE consultation_candidates (
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  declined INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (consultation_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX consultation_candidates_by_user ON consultation_candidates(user_id, consultation_id);

CREATE TABLE consultation_log (
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  seq INTEGER NOT NULL,
  sender_id TEXT NOT NULL,
  client_msg_id TEXT NOT NULL,
  posted_at INTEGER NOT NULL,
  sealed_body BLOB NOT NULL,
  PRIMARY KEY (consultation_id, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX consultation_log_by_client_msg_id
  ON consultation_log(consultation_id, sender_id, client_msg_id) WHERE client_msg_id <> '';
)sql";

constexpr Migration migrations[] = {
    {1, migration_1},
};

int applied_version(Connection& connection) {
  auto query = connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!query.step()) throw StoreError("sqlite: cannot read schema_migrations");
  return query.int32(0);
}

bool is_applied(Connection& connection, int version) {
  auto query = connection.query("SELECT 1 FROM schema_migrations WHERE version = ?1");
  query.bind(1, version);
  return query.step();
}

void apply(Connection& connection, const Migration& migration) {
  connection.exec("BEGIN IMMEDIATE");
  try {
    // Checked under the write lock: another process may have applied it meanwhile.
    if (!is_applied(connection, migration.version)) {
      connection.exec(migration.sql);
      connection
          .query(
              "INSERT INTO schema_migrations(version, applied_at) "
              "VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
          .bind(1, migration.version)
          .run();
    }
    connection.exec("COMMIT");
  } catch (const StoreError& e) {
    if (connection.in_transaction()) connection.exec("ROLLBACK");
    throw StoreError("schema migration " + std::to_string(migration.version) +
                     " failed: " + e.what());
  }
}

}  // namespace

int latest_schema_version() { return migrations[std::size(migrations) - 1].version; }

int apply_migrations(Connection& connection) {
  connection.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  const int found = applied_version(connection);
  if (found > latest_schema_version()) {
    throw StoreError("database schema version " + std::to_string(found) +
                     " is newer than this server supports (" +
                     std::to_string(latest_schema_version()) + "); upgrade the server");
  }
  for (const auto& migration : migrations) {
    if (!is_applied(connection, migration.version)) apply(connection, migration);
  }
  return applied_version(connection);
}

}  // namespace tmc::store::sqlite

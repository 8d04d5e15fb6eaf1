// SQLite schema history. Never edit a released migration: append a new numbered one.
#include "store/sqlite/migrations.hpp"

#include <algorithm>
#include <iterator>
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

// Case files: unfinished uploads, finished files and their shares with consultations. The
// contents live in the blob store (encrypted); rows hold the wrapped key and the blob header.
constexpr const char* migration_2 = R"sql(
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  consultation_id TEXT REFERENCES consultations(id),
  file_name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  wrapped_key BLOB NOT NULL,
  header BLOB NOT NULL,
  committed_offset INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX uploads_by_organization ON uploads(organization_id);
CREATE INDEX uploads_by_activity ON uploads(updated_at);

CREATE TABLE case_files (
  id TEXT PRIMARY KEY,
  file_name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  uploaded_by TEXT NOT NULL REFERENCES users(id),
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  created_at INTEGER NOT NULL,
  upload_id TEXT NOT NULL UNIQUE,
  blob_id TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  header BLOB NOT NULL
) STRICT;
CREATE INDEX case_files_by_organization ON case_files(organization_id);

CREATE TABLE consultation_case_files (
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  file_id TEXT NOT NULL REFERENCES case_files(id),
  shared_at INTEGER NOT NULL,
  PRIMARY KEY (consultation_id, file_id)
) STRICT;
CREATE INDEX consultation_case_files_by_file ON consultation_case_files(file_id);
)sql";

// Scheduling: availability rules, slots (rows, so booking is a conditional UPDATE), appointments
// and the reminder bookkeeping (what was sent; what waits for an offline user).
constexpr const char* migration_3 = R"sql(
CREATE TABLE availability_rules (
  specialist_id TEXT NOT NULL REFERENCES users(id),
  position INTEGER NOT NULL,
  weekdays TEXT NOT NULL,
  local_start TEXT NOT NULL,
  local_end TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  slot_minutes INTEGER NOT NULL,
  capacity INTEGER NOT NULL,
  valid_from TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  PRIMARY KEY (specialist_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE availability_horizons (
  specialist_id TEXT PRIMARY KEY REFERENCES users(id),
  expanded_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX availability_horizons_by_time ON availability_horizons(expanded_until);

CREATE TABLE slots (
  id TEXT PRIMARY KEY,
  specialist_id TEXT NOT NULL REFERENCES users(id),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  capacity INTEGER NOT NULL,
  booked INTEGER NOT NULL DEFAULT 0,
  from_rule INTEGER NOT NULL,
  CHECK (ends_at > starts_at),
  CHECK (booked >= 0 AND booked <= capacity)
) STRICT;
CREATE INDEX slots_by_specialist ON slots(specialist_id, starts_at);
CREATE INDEX slots_by_start ON slots(starts_at);

CREATE TABLE appointments (
  id TEXT PRIMARY KEY,
  slot_id TEXT NOT NULL,
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  specialist_id TEXT NOT NULL REFERENCES users(id),
  booked_by TEXT NOT NULL REFERENCES users(id),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  state INTEGER NOT NULL,
  next_reminder_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX appointments_booked_once_per_slot
  ON appointments(slot_id, consultation_id) WHERE state = 1;
CREATE INDEX appointments_by_consultation ON appointments(consultation_id, starts_at);
CREATE INDEX appointments_by_specialist ON appointments(specialist_id, starts_at);
CREATE INDEX appointments_by_booker ON appointments(booked_by, starts_at);
CREATE INDEX appointments_by_start ON appointments(starts_at);
CREATE INDEX appointments_reminder_due ON appointments(next_reminder_at)
  WHERE state = 1 AND next_reminder_at IS NOT NULL;

CREATE TABLE appointment_reminders_sent (
  appointment_id TEXT NOT NULL REFERENCES appointments(id),
  lead_minutes INTEGER NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (appointment_id, lead_minutes)
) STRICT, WITHOUT ROWID;

CREATE TABLE pending_reminders (
  user_id TEXT NOT NULL REFERENCES users(id),
  appointment_id TEXT NOT NULL REFERENCES appointments(id),
  lead_minutes INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, appointment_id, lead_minutes)
) STRICT, WITHOUT ROWID;
CREATE INDEX pending_reminders_by_appointment ON pending_reminders(appointment_id);
)sql";

// Audit log: records are the leaves of a Merkle tree (idx = leaf index, from 0, no gaps);
// record is the hashed canonical encoding, the other columns copy its fields for searching.
// Signed tree heads are kept beside it.
constexpr const char* migration_4 = R"sql(
CREATE TABLE audit_records (
  idx INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  patient_reference TEXT NOT NULL,
  record TEXT NOT NULL,
  leaf_hash BLOB NOT NULL
) STRICT;
CREATE INDEX audit_records_by_time ON audit_records(time);
CREATE INDEX audit_records_by_actor ON audit_records(actor_id, time);
CREATE INDEX audit_records_by_patient ON audit_records(patient_reference, time)
  WHERE patient_reference <> '';

CREATE TABLE audit_heads (
  id INTEGER PRIMARY KEY,
  tree_size INTEGER NOT NULL,
  signed_at INTEGER NOT NULL,
  root_hash BLOB NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL
) STRICT;
CREATE INDEX audit_heads_by_size ON audit_heads(tree_size, signed_at);
)sql";

// Auth: TOTP second factors (secret wrapped under the key ring; the last accepted time step
// makes codes single-use) and when each session was last in use (idle timeout; NULL means
// never touched since creation).
constexpr const char* migration_5 = R"sql(
CREATE TABLE user_totp (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  wrapped_secret TEXT NOT NULL,
  last_used_step INTEGER NOT NULL,
  enrolled_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
)sql";

// Cluster events (see the PostgreSQL schema). A SQLite store serves one server, so the table
// only ever holds what that server wrote.
constexpr const char* migration_6 = R"sql(
CREATE TABLE event_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  origin TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  recipients TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  sealed_event BLOB NOT NULL
) STRICT;
CREATE INDEX event_outbox_created ON event_outbox (created_at);
)sql";

// PostgreSQL keeps case-file segments in a table (migration 7 there); SQLite deployments keep
// them in the data directory, so this number changes nothing here.
constexpr const char* migration_7 = "SELECT 1;";

// Audit search tables filled in bulk instead of two indexes written on every commit (see
// audit_index.hpp). time is in each key so a search by actor or patient within a time window
// reads only that window; the existing records are indexed here.
constexpr const char* migration_8 = R"sql(
DROP INDEX audit_records_by_actor;
DROP INDEX audit_records_by_patient;

CREATE TABLE audit_by_actor (
  actor_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (actor_id, time, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_by_patient (
  patient_reference TEXT NOT NULL,
  time INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (patient_reference, time, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_indexed (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  next_idx INTEGER NOT NULL
) STRICT;

INSERT INTO audit_by_actor SELECT actor_id, time, idx FROM audit_records;
INSERT INTO audit_by_patient SELECT patient_reference, time, idx FROM audit_records
  WHERE patient_reference <> '';
INSERT INTO audit_indexed VALUES (1, (SELECT coalesce(max(idx) + 1, 0) FROM audit_records));
)sql";

// The audit log's Merkle frontier as of the latest signed head (store::AuditFrontierRow), so a
// restarted writer reads only the records after it. Absent until the next head is signed.
constexpr const char* migration_9 = R"sql(
CREATE TABLE audit_frontier (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tree_size INTEGER NOT NULL,
  subtrees BLOB NOT NULL
) STRICT;
)sql";

// The consultation log as a rowid table. As a WITHOUT ROWID table its B-tree kept whole rows
// (each with its sealed body, 400 bytes and up) in the interior pages as well, eight to a page,
// and each consultation appends in the middle of it: a leaf split every few messages rewrote
// siblings and parents, 2.5 WAL pages per message for the log alone (measured at 2,500 and
// 10,000 messages a second). Now rows go to the end of the table, where SQLite splits by adding
// a page, and (consultation_id, seq) is an index of small entries with the same uniqueness.
constexpr const char* migration_10 = R"sql(
CREATE TABLE consultation_log_rows (
  consultation_id TEXT NOT NULL REFERENCES consultations(id),
  seq INTEGER NOT NULL,
  sender_id TEXT NOT NULL,
  client_msg_id TEXT NOT NULL,
  posted_at INTEGER NOT NULL,
  sealed_body BLOB NOT NULL,
  PRIMARY KEY (consultation_id, seq)
) STRICT;
INSERT INTO consultation_log_rows(consultation_id, seq, sender_id, client_msg_id, posted_at,
                                  sealed_body)
  SELECT consultation_id, seq, sender_id, client_msg_id, posted_at, sealed_body
  FROM consultation_log;
DROP TABLE consultation_log;
ALTER TABLE consultation_log_rows RENAME TO consultation_log;
CREATE UNIQUE INDEX consultation_log_by_client_msg_id
  ON consultation_log(consultation_id, sender_id, client_msg_id) WHERE client_msg_id <> '';
)sql";

// The sealed question, summary and report in a table of their own. In the consultation's row
// they made every post dearer the longer they were: a post reads the row and rewrites it with
// its new last_seq, and a 16 KiB summary is four overflow pages read, copied and compared each
// time (about 8% fewer messages per server CPU-second; 16% with 64 KiB). Only a view of the
// consultation reads them now, and only a report writes one of them again. Each DROP COLUMN
// rewrites the table, so the largest text goes first.
constexpr const char* migration_11 = R"sql(
CREATE TABLE consultation_texts (
  consultation_id TEXT PRIMARY KEY REFERENCES consultations(id),
  sealed_question BLOB NOT NULL,
  sealed_summary BLOB NOT NULL,
  sealed_report BLOB NOT NULL
) STRICT;
INSERT INTO consultation_texts(consultation_id, sealed_question, sealed_summary, sealed_report)
  SELECT id, sealed_question, sealed_summary, sealed_report FROM consultations;
ALTER TABLE consultations DROP COLUMN sealed_summary;
ALTER TABLE consultations DROP COLUMN sealed_report;
ALTER TABLE consultations DROP COLUMN sealed_question;
)sql";

// A counter that moves on with every change able to end a session other than by time
// (Tx::session_epoch): the sweep of live sessions reads it, and looks at each live session's row
// only when it moved, instead of every live token's row twice a second (10% of a core with
// 12,000 signed-in connections). Triggers keep it, so `tmc-admin` in another process, or an
// edit by hand, counts as well. Creating a session does not move it: the sweep looks up the
// tokens it has not seen before anyway.
constexpr const char* migration_12 = R"sql(
CREATE TABLE session_epoch (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  value INTEGER NOT NULL
) STRICT;
INSERT INTO session_epoch VALUES (1, 0);
CREATE TRIGGER sessions_epoch_on_update AFTER UPDATE ON sessions
  WHEN OLD.revoked IS NOT NEW.revoked OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.user_id IS NOT NEW.user_id OR OLD.token_hash IS NOT NEW.token_hash
BEGIN
  UPDATE session_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_epoch_on_delete AFTER DELETE ON sessions
BEGIN
  UPDATE session_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_epoch_on_update AFTER UPDATE ON users
  WHEN OLD.disabled IS NOT NEW.disabled OR OLD.id IS NOT NEW.id
BEGIN
  UPDATE session_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_epoch_on_delete AFTER DELETE ON users
BEGIN
  UPDATE session_epoch SET value = value + 1 WHERE id = 1;
END;
)sql";

constexpr Migration migrations[] = {
    {1, migration_1},   {2, migration_2},   {3, migration_3}, {4, migration_4},
    {5, migration_5},   {6, migration_6},   {7, migration_7}, {8, migration_8},
    {9, migration_9},   {10, migration_10}, {11, migration_11}, {12, migration_12},
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

int temp_store_setting(Connection& connection) {
  auto query = connection.query("PRAGMA temp_store");
  return query.step() ? query.int32(0) : 0;
}

void restore_temp_store(Connection& connection, int setting) {
  connection.exec(("PRAGMA temp_store = " + std::to_string(setting)).c_str());
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
  const bool pending =
      std::any_of(std::begin(migrations), std::end(migrations),
                  [&](const Migration& m) { return !is_applied(connection, m.version); });
  if (!pending) return found;
  // A migration may rewrite a whole table, and the statement journal of that can be as large as
  // the table (dropping the old consultation log of 945,000 messages in migration 10 held
  // 566 MB of it): in a temporary file while migrations run, in memory again after.
  const int temp_store = temp_store_setting(connection);
  connection.exec("PRAGMA temp_store = FILE");
  try {
    for (const auto& migration : migrations) {
      if (!is_applied(connection, migration.version)) apply(connection, migration);
    }
  } catch (...) {
    restore_temp_store(connection, temp_store);
    throw;
  }
  restore_temp_store(connection, temp_store);
  // What they wrote goes to the database file now, not in the first checkpoint under load.
  connection.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return applied_version(connection);
}

}  // namespace tmc::store::sqlite

// PostgreSQL schema history. Never edit a released migration: append a new numbered one.
#include "store/postgres/migrations.hpp"

#include <string>

#include "store/store.hpp"

namespace tmc::store::postgres {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// The same tables as the SQLite migrations of the same number. Times are BIGINT microseconds
// since the Unix epoch (UTC), as in SQLite, so both backends compare and round-trip alike; enums
// are their numeric values; sealed fields, wrapped keys and token hashes are BYTEA. Text that
// is compared or sorted is COLLATE "C" so ordering is by bytes, as in SQLite, whatever locale
// the cluster was created with.
constexpr const char* migration_1 = R"sql(
CREATE TABLE organizations (
  id text COLLATE "C" PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  kind integer NOT NULL,
  region text COLLATE "C" NOT NULL,
  time_zone text COLLATE "C" NOT NULL
);

CREATE TABLE pairings (
  county_organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  partner_organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  PRIMARY KEY (county_organization_id, partner_organization_id)
);

CREATE TABLE users (
  id text COLLATE "C" PRIMARY KEY,
  username text COLLATE "C" NOT NULL UNIQUE,
  display_name text COLLATE "C" NOT NULL,
  role integer NOT NULL,
  organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  disabled boolean NOT NULL DEFAULT false,
  created_at bigint NOT NULL
);
CREATE INDEX users_by_organization ON users(organization_id, username);

CREATE TABLE user_specialties (
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  specialty text COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, specialty)
);
CREATE INDEX user_specialties_by_specialty ON user_specialties(specialty, user_id);

CREATE TABLE password_hashes (
  user_id text COLLATE "C" PRIMARY KEY REFERENCES users(id),
  password_hash text COLLATE "C" NOT NULL
);

CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked boolean NOT NULL DEFAULT false
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

CREATE TABLE consultations (
  id text COLLATE "C" PRIMARY KEY,
  state integer NOT NULL,
  urgency integer NOT NULL,
  specialty text COLLATE "C" NOT NULL,
  patient_reference text COLLATE "C" NOT NULL,
  patient_age_years integer NOT NULL,
  patient_sex integer NOT NULL,
  requesting_organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  requester_id text COLLATE "C" NOT NULL REFERENCES users(id),
  assigned_specialist_id text COLLATE "C" REFERENCES users(id),
  target_organization_id text COLLATE "C" REFERENCES organizations(id),
  preferred_specialist_id text COLLATE "C" REFERENCES users(id),
  wrapped_key bytea NOT NULL,
  sealed_question bytea NOT NULL,
  sealed_summary bytea NOT NULL,
  sealed_report bytea NOT NULL,
  last_seq bigint NOT NULL,
  candidate_count integer NOT NULL,
  respond_by bigint,
  escalated boolean NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX consultations_by_requesting_organization
  ON consultations(requesting_organization_id, id);
CREATE INDEX consultations_by_assigned_specialist ON consultations(assigned_specialist_id);
CREATE INDEX consultations_due ON consultations(respond_by)
  WHERE state IN (1, 2) AND respond_by IS NOT NULL;

CREATE TABLE consultation_participants (
  consultation_id text COLLATE "C" NOT NULL REFERENCES consultations(id),
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  kind integer NOT NULL,
  read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (consultation_id, user_id)
);
CREATE INDEX consultation_participants_by_user
  ON consultation_participants(user_id, consultation_id);

CREATE TABLE consultation_candidates (
  consultation_id text COLLATE "C" NOT NULL REFERENCES consultations(id),
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  declined boolean NOT NULL DEFAULT false,
  PRIMARY KEY (consultation_id, user_id)
);
CREATE INDEX consultation_candidates_by_user ON consultation_candidates(user_id, consultation_id);

CREATE TABLE consultation_log (
  consultation_id text COLLATE "C" NOT NULL REFERENCES consultations(id),
  seq bigint NOT NULL,
  sender_id text COLLATE "C" NOT NULL,
  client_msg_id text COLLATE "C" NOT NULL,
  posted_at bigint NOT NULL,
  sealed_body bytea NOT NULL,
  PRIMARY KEY (consultation_id, seq)
);
CREATE UNIQUE INDEX consultation_log_by_client_msg_id
  ON consultation_log(consultation_id, sender_id, client_msg_id) WHERE client_msg_id <> '';
)sql";

// Case files: unfinished uploads, finished files and their shares with consultations.
// share_order replaces SQLite's rowid as the tie-breaker between shares of the same instant.
constexpr const char* migration_2 = R"sql(
CREATE TABLE uploads (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  consultation_id text COLLATE "C" REFERENCES consultations(id),
  file_name text COLLATE "C" NOT NULL,
  media_type text COLLATE "C" NOT NULL,
  size bigint NOT NULL,
  sha256 bytea NOT NULL,
  wrapped_key bytea NOT NULL,
  header bytea NOT NULL,
  committed_offset bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX uploads_by_organization ON uploads(organization_id);
CREATE INDEX uploads_by_activity ON uploads(updated_at);

CREATE TABLE case_files (
  id text COLLATE "C" PRIMARY KEY,
  file_name text COLLATE "C" NOT NULL,
  media_type text COLLATE "C" NOT NULL,
  size bigint NOT NULL,
  sha256 bytea NOT NULL,
  uploaded_by text COLLATE "C" NOT NULL REFERENCES users(id),
  organization_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
  created_at bigint NOT NULL,
  upload_id text COLLATE "C" NOT NULL UNIQUE,
  blob_id text COLLATE "C" NOT NULL,
  wrapped_key bytea NOT NULL,
  header bytea NOT NULL
);
CREATE INDEX case_files_by_organization ON case_files(organization_id);

CREATE TABLE consultation_case_files (
  consultation_id text COLLATE "C" NOT NULL REFERENCES consultations(id),
  file_id text COLLATE "C" NOT NULL REFERENCES case_files(id),
  shared_at bigint NOT NULL,
  share_order bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (consultation_id, file_id)
);
CREATE INDEX consultation_case_files_by_file ON consultation_case_files(file_id);
)sql";

// Scheduling: availability rules, slots (rows, so booking is a conditional UPDATE), appointments
// and the reminder bookkeeping (what was sent; what waits for an offline user).
constexpr const char* migration_3 = R"sql(
CREATE TABLE availability_rules (
  specialist_id text COLLATE "C" NOT NULL REFERENCES users(id),
  position integer NOT NULL,
  weekdays text COLLATE "C" NOT NULL,
  local_start text COLLATE "C" NOT NULL,
  local_end text COLLATE "C" NOT NULL,
  time_zone text COLLATE "C" NOT NULL,
  slot_minutes integer NOT NULL,
  capacity integer NOT NULL,
  valid_from text COLLATE "C" NOT NULL,
  valid_until text COLLATE "C" NOT NULL,
  PRIMARY KEY (specialist_id, position)
);

CREATE TABLE availability_horizons (
  specialist_id text COLLATE "C" PRIMARY KEY REFERENCES users(id),
  expanded_until bigint NOT NULL
);
CREATE INDEX availability_horizons_by_time ON availability_horizons(expanded_until);

CREATE TABLE slots (
  id text COLLATE "C" PRIMARY KEY,
  specialist_id text COLLATE "C" NOT NULL REFERENCES users(id),
  starts_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  capacity integer NOT NULL,
  booked integer NOT NULL DEFAULT 0,
  from_rule boolean NOT NULL,
  CHECK (ends_at > starts_at),
  CHECK (booked >= 0 AND booked <= capacity)
);
CREATE INDEX slots_by_specialist ON slots(specialist_id, starts_at);
CREATE INDEX slots_by_start ON slots(starts_at);

CREATE TABLE appointments (
  id text COLLATE "C" PRIMARY KEY,
  slot_id text COLLATE "C" NOT NULL,
  consultation_id text COLLATE "C" NOT NULL REFERENCES consultations(id),
  specialist_id text COLLATE "C" NOT NULL REFERENCES users(id),
  booked_by text COLLATE "C" NOT NULL REFERENCES users(id),
  starts_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  state integer NOT NULL,
  next_reminder_at bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE UNIQUE INDEX appointments_booked_once_per_slot
  ON appointments(slot_id, consultation_id) WHERE state = 1;
CREATE INDEX appointments_by_consultation ON appointments(consultation_id, starts_at);
CREATE INDEX appointments_by_specialist ON appointments(specialist_id, starts_at);
CREATE INDEX appointments_by_booker ON appointments(booked_by, starts_at);
CREATE INDEX appointments_by_start ON appointments(starts_at);
CREATE INDEX appointments_reminder_due ON appointments(next_reminder_at)
  WHERE state = 1 AND next_reminder_at IS NOT NULL;

CREATE TABLE appointment_reminders_sent (
  appointment_id text COLLATE "C" NOT NULL REFERENCES appointments(id),
  lead_minutes integer NOT NULL,
  sent_at bigint NOT NULL,
  PRIMARY KEY (appointment_id, lead_minutes)
);

CREATE TABLE pending_reminders (
  user_id text COLLATE "C" NOT NULL REFERENCES users(id),
  appointment_id text COLLATE "C" NOT NULL REFERENCES appointments(id),
  lead_minutes integer NOT NULL,
  queued_at bigint NOT NULL,
  PRIMARY KEY (user_id, appointment_id, lead_minutes)
);
CREATE INDEX pending_reminders_by_appointment ON pending_reminders(appointment_id);
)sql";

// Audit log: records are the leaves of a Merkle tree (idx = leaf index, from 0, no gaps);
// record is the hashed canonical encoding (one line of JSON). Signed tree heads beside it.
constexpr const char* migration_4 = R"sql(
CREATE TABLE audit_records (
  idx bigint PRIMARY KEY,
  time bigint NOT NULL,
  actor_id text COLLATE "C" NOT NULL,
  action text COLLATE "C" NOT NULL,
  patient_reference text COLLATE "C" NOT NULL,
  record text COLLATE "C" NOT NULL,
  leaf_hash bytea NOT NULL
);
CREATE INDEX audit_records_by_time ON audit_records(time);
CREATE INDEX audit_records_by_actor ON audit_records(actor_id, time);
CREATE INDEX audit_records_by_patient ON audit_records(patient_reference, time)
  WHERE patient_reference <> '';

CREATE TABLE audit_heads (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tree_size bigint NOT NULL,
  signed_at bigint NOT NULL,
  root_hash bytea NOT NULL,
  public_key bytea NOT NULL,
  signature bytea NOT NULL
);
CREATE INDEX audit_heads_by_size ON audit_heads(tree_size, signed_at);
)sql";

// Auth: TOTP second factors (the wrapped secret is binary, so BYTEA) and when each session was
// last in use (idle timeout; NULL means never touched since creation).
constexpr const char* migration_5 = R"sql(
CREATE TABLE user_totp (
  user_id text COLLATE "C" PRIMARY KEY REFERENCES users(id),
  wrapped_secret bytea NOT NULL,
  last_used_step bigint NOT NULL,
  enrolled_at bigint NOT NULL
);

ALTER TABLE sessions ADD COLUMN last_seen_at bigint;
)sql";

// Cluster events: what one node delivered to its own live sessions, for the other nodes to
// deliver to theirs (sealed; kept for a short while only).
constexpr const char* migration_6 = R"sql(
CREATE TABLE event_outbox (
  id bigserial PRIMARY KEY,
  origin text NOT NULL,
  created_at bigint NOT NULL,
  recipients text NOT NULL,
  wrapped_key bytea NOT NULL,
  sealed_event bytea NOT NULL
);
CREATE INDEX event_outbox_created ON event_outbox (created_at);
)sql";

// Case-file segments when blobs live in PostgreSQL (the sealed bytes of each segment).
constexpr const char* migration_7 = R"sql(
CREATE TABLE blob_segments (
  blob_id text COLLATE "C" NOT NULL,
  idx integer NOT NULL,
  sealed bytea NOT NULL,
  PRIMARY KEY (blob_id, idx)
);
ALTER TABLE blob_segments ALTER COLUMN sealed SET STORAGE EXTERNAL;
)sql";

// SQLite replaced two indexes of audit_records by search tables filled in bulk (migration 8
// there); PostgreSQL keeps its indexes, so this number changes nothing here.
constexpr const char* migration_8 = "SELECT 1;";

// The audit log's Merkle frontier as of the latest signed head (store::AuditFrontierRow), so a
// restarted writer reads only the records after it. Absent until the next head is signed.
constexpr const char* migration_9 = R"sql(
CREATE TABLE audit_frontier (
  id integer PRIMARY KEY CHECK (id = 1),
  tree_size bigint NOT NULL,
  subtrees bytea NOT NULL
);
)sql";

// SQLite rebuilt its consultation log as a rowid table (migration 10 there); a PostgreSQL heap
// already appends rows, so this number changes nothing here.
constexpr const char* migration_10 = "SELECT 1;";

// The sealed question, summary and report in a table of their own (see SQLite's migration 11):
// a post reads and rewrites the consultation's row, and only a view of the consultation needs
// them. Dropped columns keep their space until the table is next rewritten.
constexpr const char* migration_11 = R"sql(
CREATE TABLE consultation_texts (
  consultation_id text COLLATE "C" PRIMARY KEY REFERENCES consultations(id),
  sealed_question bytea NOT NULL,
  sealed_summary bytea NOT NULL,
  sealed_report bytea NOT NULL
);
INSERT INTO consultation_texts(consultation_id, sealed_question, sealed_summary, sealed_report)
  SELECT id, sealed_question, sealed_summary, sealed_report FROM consultations;
ALTER TABLE consultations DROP COLUMN sealed_question, DROP COLUMN sealed_summary,
  DROP COLUMN sealed_report;
)sql";

// The counter of changes able to end a session (see SQLite's migration 12). Its triggers are
// deferred to the commit and bump it once per transaction: the counter's row is then locked
// only by a transaction that takes no other lock after it, so two transactions (a logout and a
// user disabled with all their sessions, say) cannot deadlock on it, and deleting ten thousand
// expired sessions leaves one new row version, not ten thousand.
constexpr const char* migration_12 = R"sql(
CREATE TABLE session_epoch (
  id integer PRIMARY KEY CHECK (id = 1),
  value bigint NOT NULL,
  last_transaction bigint
);
INSERT INTO session_epoch(id, value) VALUES (1, 0);
CREATE FUNCTION bump_session_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE session_epoch SET value = value + 1, last_transaction = txid_current()
    WHERE id = 1 AND last_transaction IS DISTINCT FROM txid_current();
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER sessions_epoch_on_update AFTER UPDATE ON sessions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.revoked IS DISTINCT FROM NEW.revoked OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
  EXECUTE FUNCTION bump_session_epoch();
CREATE CONSTRAINT TRIGGER sessions_epoch_on_delete AFTER DELETE ON sessions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_session_epoch();
CREATE CONSTRAINT TRIGGER users_epoch_on_update AFTER UPDATE ON users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION bump_session_epoch();
CREATE CONSTRAINT TRIGGER users_epoch_on_delete AFTER DELETE ON users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_session_epoch();
)sql";

constexpr Migration migrations[] = {
    {1, migration_1}, {2, migration_2}, {3, migration_3}, {4, migration_4},
    {5, migration_5}, {6, migration_6}, {7, migration_7}, {8, migration_8},
    {9, migration_9}, {10, migration_10}, {11, migration_11}, {12, migration_12},
};

// Serialises migrations between nodes starting at once (released at COMMIT or ROLLBACK).
constexpr const char* take_migration_lock =
    "SELECT pg_advisory_xact_lock(hashtext('tmc schema migrations'))";

int applied_version(Connection& connection) {
  const auto result =
      connection.query("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations");
  if (result.empty()) throw StoreError("postgres: cannot read schema_migrations");
  return static_cast<int>(result.int64(0, 0));
}

bool is_applied(Connection& connection, int version) {
  return !connection
              .query("SELECT 1 FROM schema_migrations WHERE version = $1::integer",
                     Params::of(version))
              .empty();
}

// Runs body in a transaction holding the migration lock; rolls back when it throws.
template <class Body>
void locked_transaction(Connection& connection, Body body) {
  connection.exec("BEGIN");
  try {
    // A migration may rewrite a large table, and waits for another node's migration: neither
    // is the stuck statement the session's timeout guards against.
    connection.exec("SET LOCAL statement_timeout = 0");
    connection.query(take_migration_lock);
    body();
    if (connection.exec("COMMIT") != "COMMIT") throw StoreError("postgres: commit rolled back");
  } catch (const StoreError&) {
    if (connection.in_transaction()) {
      try {
        connection.exec("ROLLBACK");
      } catch (const StoreError&) {
        // The original failure is what the caller needs to see.
      }
    }
    throw;
  }
}

void apply(Connection& connection, const Migration& migration) {
  try {
    locked_transaction(connection, [&] {
      // Checked under the lock: another node may have applied it meanwhile.
      if (is_applied(connection, migration.version)) return;
      connection.exec(migration.sql);
      connection.query("INSERT INTO schema_migrations(version) VALUES ($1::integer)",
                       Params::of(migration.version));
    });
  } catch (const StoreError& e) {
    throw StoreError("schema migration " + std::to_string(migration.version) +
                     " failed: " + e.what());
  }
}

}  // namespace

int latest_schema_version() { return migrations[std::size(migrations) - 1].version; }

int apply_migrations(Connection& connection, const std::string& schema) {
  locked_transaction(connection, [&] {
    if (!schema.empty()) {
      connection.exec(("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(schema)).c_str());
    }
    connection.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
  });
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

}  // namespace tmc::store::postgres

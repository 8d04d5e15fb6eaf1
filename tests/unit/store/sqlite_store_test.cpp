// SQLite backend: runs the store contract suite, plus migration and file-format checks.
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/migrations.hpp"
#include "store_contract.hpp"
#include "wal_counting_vfs.hpp"

namespace tmc::store::testing {
namespace {

std::string database_path(const std::string& dir) { return dir + "/tmc.db"; }

std::unique_ptr<Store> open_in(const std::string& dir) {
  SqliteOptions options;
  options.path = database_path(dir);
  return open_sqlite_store(options);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Values(StoreBackend{"Sqlite", open_in}),
                         backend_name);

// Direct access to the file, bypassing the store, to inspect and tamper with it.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << "cannot open " << path;
  }
  ~RawDatabase() { sqlite3_close(db_); }

  void exec(const std::string& sql) {
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
  }

  // First column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_);
      return values;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      values.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    return values;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteMigrations, MigratesAnEmptyFile) {
  TempDir dir;
  {
    auto store = open_in(dir.path());
    EXPECT_EQ(store->schema_version(), sqlite::latest_schema_version());
  }
  RawDatabase raw(database_path(dir.path()));
  EXPECT_EQ(raw.column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  const auto versions = raw.column("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(sqlite::latest_schema_version()));
  EXPECT_EQ(versions.front(), "1");
  EXPECT_FALSE(
      raw.column("SELECT applied_at FROM schema_migrations WHERE version = 1").front().empty());
  const auto tables = raw.column("SELECT name FROM sqlite_schema WHERE type = 'table'");
  for (const char* table :
       {"organizations", "pairings", "users", "user_specialties", "password_hashes", "sessions",
        "consultations", "consultation_participants", "consultation_candidates",
        "consultation_log"}) {
    EXPECT_NE(std::find(tables.begin(), tables.end(), table), tables.end()) << table;
  }
  EXPECT_EQ(raw.column("PRAGMA foreign_key_check"), std::vector<std::string>{});
}

TEST(SqliteMigrations, ReopeningAppliesNothingAndKeepsData) {
  TempDir dir;
  {
    auto store = open_in(dir.path());
    ASSERT_TRUE(store->write([](Tx& tx) {
      return tx.insert_organization(
          {"county", "County", OrganizationKind::county_hospital, "r", "Asia/Urumqi"});
    }));
  }
  const std::string history = "SELECT version || '@' || applied_at FROM schema_migrations";
  const auto before = RawDatabase(database_path(dir.path())).column(history);
  {
    auto store = open_in(dir.path());
    EXPECT_EQ(store->schema_version(), sqlite::latest_schema_version());
    bool found = false;
    store->read([&](Tx& tx) { found = tx.find_organization("county").has_value(); });
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(RawDatabase(database_path(dir.path())).column(history), before);
}

TEST(SqliteMigrations, RefusesADatabaseFromANewerServer) {
  TempDir dir;
  open_in(dir.path()).reset();
  const int future = sqlite::latest_schema_version() + 1;
  RawDatabase(database_path(dir.path()))
      .exec("INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(future) +
            ", 'later')");
  try {
    open_in(dir.path());
    FAIL() << "opened a database with an unknown schema version";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// Migration 10 rebuilds the consultation log as a rowid table (migrations.cpp says why): a
// database at schema 9 keeps every entry and both of the log's uniqueness rules.
class SqliteLogMigration : public StoreContract {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteLogMigration,
                         ::testing::Values(StoreBackend{"Sqlite", open_in}), backend_name);

auto fields(const LogRecord& r) {
  return std::tie(r.consultation_id, r.seq, r.sender_id, r.client_msg_id, r.posted_at,
                  r.sealed_body);
}

TEST_P(SqliteLogMigration, SchemaNineLogBecomesARowidTableWithEveryEntry) {
  seed_directory();
  std::vector<LogRecord> records;
  for (int seq = 1; seq <= 5; ++seq) {
    for (const char* id : {"c-2", "c-1"}) {  // interleaved, as consultations post
      const std::string client_id = seq < 5 ? std::string(id) + "-m" + std::to_string(seq) : "";
      records.push_back(LogRecord{id, seq, seq % 2 == 0 ? "spec1" : "clin", client_id,
                                  TimePoint(std::chrono::seconds(1'700'000'100 + seq)),
                                  std::string("sealed\x00", 7) + id + std::to_string(seq)});
    }
  }
  ASSERT_TRUE(write([&](Tx& tx) {
    tx.insert_consultation(make_consultation("c-1", ConsultationState::in_session));
    tx.insert_consultation(make_consultation("c-2", ConsultationState::in_session));
    for (const auto& record : records) EXPECT_TRUE(tx.append_log(record));
    return true;
  }));
  store_.reset();
  const auto path = database_path(dir_->path());
  const std::string without_rowid =
      "SELECT wr FROM pragma_table_list WHERE name = 'consultation_log'";
  {
    // Back to schema 9: the log as a WITHOUT ROWID table, as migration 1 made it.
    RawDatabase raw(path);
    raw.exec(
        "CREATE TABLE old_log (consultation_id TEXT NOT NULL REFERENCES consultations(id),"
        " seq INTEGER NOT NULL, sender_id TEXT NOT NULL, client_msg_id TEXT NOT NULL,"
        " posted_at INTEGER NOT NULL, sealed_body BLOB NOT NULL,"
        " PRIMARY KEY (consultation_id, seq)) STRICT, WITHOUT ROWID;"
        " INSERT INTO old_log SELECT consultation_id, seq, sender_id, client_msg_id, posted_at,"
        " sealed_body FROM consultation_log;"
        " DROP TABLE consultation_log; ALTER TABLE old_log RENAME TO consultation_log;"
        " CREATE UNIQUE INDEX consultation_log_by_client_msg_id ON consultation_log"
        "(consultation_id, sender_id, client_msg_id) WHERE client_msg_id <> '';"
        " DELETE FROM schema_migrations WHERE version = 10");
    ASSERT_EQ(raw.column(without_rowid), std::vector<std::string>{"1"});
  }
  {
    // Migrating on a writer's connection leaves it as it was (its savepoints' journals in
    // memory) and the write-ahead log copied back.
    sqlite::Connection writer(path, sqlite::Connection::Mode::read_write, std::chrono::seconds(5));
    EXPECT_EQ(sqlite::apply_migrations(writer), sqlite::latest_schema_version());
    auto setting = writer.query("PRAGMA temp_store");
    ASSERT_TRUE(setting.step());
    EXPECT_EQ(setting.int32(0), 2);  // MEMORY
    EXPECT_EQ(std::filesystem::file_size(path + "-wal"), 0u);
  }
  reopen();
  EXPECT_EQ(store_->schema_version(), sqlite::latest_schema_version());
  EXPECT_EQ(RawDatabase(path).column(without_rowid), std::vector<std::string>{"0"});
  EXPECT_EQ(RawDatabase(path).column("PRAGMA foreign_key_check"), std::vector<std::string>{});
  for (const char* id : {"c-1", "c-2"}) {
    const auto log = read([&](Tx& tx) { return tx.list_log(id, 0, 100); });
    std::vector<LogRecord> expected;
    for (const auto& record : records) {
      if (record.consultation_id == id) expected.push_back(record);
    }
    ASSERT_EQ(log.size(), expected.size()) << id;
    for (std::size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(fields(log[i]), fields(expected[i])) << id << " entry " << i;
    }
  }
  // A taken seq is still refused, a repeated client id is still a retry, the next seq fits.
  auto taken = records[0];
  taken.client_msg_id = "new";
  EXPECT_THROW(write([&](Tx& tx) {
                 tx.append_log(taken);
                 return true;
               }),
               StoreError);
  auto retry = records[0];
  retry.seq = 6;
  EXPECT_TRUE(write([&](Tx& tx) {
    EXPECT_FALSE(tx.append_log(retry));
    retry.client_msg_id = "c-2-m6";
    EXPECT_TRUE(tx.append_log(retry));
    return true;
  }));
  EXPECT_EQ(read([](Tx& tx) { return tx.list_log("c-2", 5, 10); }).size(), 1u);
}

// Migration 11 moves the sealed texts out of the consultation's row (migrations.cpp says why):
// a database at schema 10 keeps every consultation's texts, and they are read and kept as ever.
class SqliteTextsMigration : public StoreContract {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteTextsMigration,
                         ::testing::Values(StoreBackend{"Sqlite", open_in}), backend_name);

TEST_P(SqliteTextsMigration, SchemaTenConsultationsKeepTheirTexts) {
  const auto originals = store_consultations_with_long_texts();
  const auto path = database_path(dir_->path());
  const std::string text_columns =
      "SELECT name FROM pragma_table_info('consultations') WHERE name LIKE 'sealed_%'";
  {
    // Back to schema 10: the texts in the consultation's row, as migration 1 made it.
    RawDatabase raw(path);
    raw.exec(
        "CREATE TABLE old_consultations (id TEXT PRIMARY KEY, state INTEGER NOT NULL,"
        " urgency INTEGER NOT NULL, specialty TEXT NOT NULL, patient_reference TEXT NOT NULL,"
        " patient_age_years INTEGER NOT NULL, patient_sex INTEGER NOT NULL,"
        " requesting_organization_id TEXT NOT NULL REFERENCES organizations(id),"
        " requester_id TEXT NOT NULL REFERENCES users(id),"
        " assigned_specialist_id TEXT REFERENCES users(id),"
        " target_organization_id TEXT REFERENCES organizations(id),"
        " preferred_specialist_id TEXT REFERENCES users(id), wrapped_key BLOB NOT NULL,"
        " sealed_question BLOB NOT NULL, sealed_summary BLOB NOT NULL,"
        " sealed_report BLOB NOT NULL, last_seq INTEGER NOT NULL,"
        " candidate_count INTEGER NOT NULL, respond_by INTEGER, escalated INTEGER NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;"
        " INSERT INTO old_consultations SELECT c.id, c.state, c.urgency, c.specialty,"
        " c.patient_reference, c.patient_age_years, c.patient_sex,"
        " c.requesting_organization_id, c.requester_id, c.assigned_specialist_id,"
        " c.target_organization_id, c.preferred_specialist_id, c.wrapped_key,"
        " t.sealed_question, t.sealed_summary, t.sealed_report, c.last_seq, c.candidate_count,"
        " c.respond_by, c.escalated, c.created_at, c.updated_at"
        " FROM consultations c JOIN consultation_texts t ON t.consultation_id = c.id;"
        " DROP TABLE consultation_texts; DROP TABLE consultations;"
        " ALTER TABLE old_consultations RENAME TO consultations;"
        " CREATE INDEX consultations_by_requesting_organization"
        " ON consultations(requesting_organization_id, id);"
        " CREATE INDEX consultations_by_assigned_specialist"
        " ON consultations(assigned_specialist_id);"
        " CREATE INDEX consultations_due ON consultations(respond_by)"
        " WHERE state IN (1, 2) AND respond_by IS NOT NULL;"
        " DELETE FROM schema_migrations WHERE version = 11");
    ASSERT_EQ(raw.column(text_columns).size(), 3u);
  }
  expect_texts_whole_after_reopening(originals);
  EXPECT_EQ(store_->schema_version(), sqlite::latest_schema_version());
  EXPECT_EQ(RawDatabase(path).column(text_columns), std::vector<std::string>{});
  EXPECT_EQ(RawDatabase(path).column("PRAGMA foreign_key_check"), std::vector<std::string>{});
  EXPECT_EQ(RawDatabase(path).column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST(SqliteStore, IdleCheckpointsKeepTheWriteAheadLogSmall) {
  TempDir dir;
  auto store = open_in(dir.path());
  // One write at a time: the writer is idle between them. SQLite's automatic checkpoint would
  // let the log grow to 4,000 pages (16 MiB) before copying it back.
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(store->write([i](Tx& tx) {
      const auto id = "org-" + std::to_string(i);
      return tx.insert_organization(Organization{
          id, "Hospital " + id, OrganizationKind::county_hospital, "Region", "Asia/Urumqi"});
    }));
  }
  // Idle moments come whenever the next write is queued after the writer looked (usually, not
  // always: under load the log grew to 4.5 MiB once), far below the automatic 16 MiB.
  const auto wal = std::filesystem::file_size(database_path(dir.path()) + "-wal");
  EXPECT_LT(wal, 10u << 20) << "WAL of " << wal << " bytes";
  store.reset();
  auto reopened = open_in(dir.path());
  reopened->read([](Tx& tx) { EXPECT_TRUE(tx.find_organization("org-2999").has_value()); });
}

// The writer remembers consultations across batches until another connection commits: a
// change made between batches by another process (tmc-admin, an edit by hand) is what the next
// batch reads.
class SqliteWriterTest : public StoreContract {
 protected:
  // The directory, and c-0001 in session with its requester as its one participant.
  void store_consultation_in_session() {
    seed_directory();
    ASSERT_TRUE(write([](Tx& tx) {
      return tx.insert_consultation(make_consultation("c-0001", ConsultationState::in_session)) &&
             tx.add_participant("c-0001", {"clin", ParticipantKind::requester, 0});
    }));
  }
};

class SqliteWriter : public SqliteWriterTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteWriter, ::testing::Values(StoreBackend{"Sqlite", open_in}),
                         backend_name);

TEST_P(SqliteWriter, ABatchReadsWhatAnotherProcessChangedSinceTheLastOne) {
  store_consultation_in_session();
  const auto look = [this] {
    std::optional<Consultation> consultation;
    std::size_t participants = 0;
    write([&](Tx& tx) {
      consultation = tx.find_consultation("c-0001", SealedTexts::skip);
      participants = tx.list_participants("c-0001").size();
      return true;
    });
    EXPECT_TRUE(consultation.has_value());
    return std::make_pair(consultation ? consultation->state : ConsultationState::unspecified,
                          participants);
  };
  EXPECT_EQ(look(), std::make_pair(ConsultationState::in_session, std::size_t{1}));
  RawDatabase raw(database_path(dir_->path()));
  raw.exec("UPDATE consultations SET state = 6 WHERE id = 'c-0001'");
  raw.exec(
      "INSERT INTO consultation_participants(consultation_id, user_id, kind, read_seq)"
      " VALUES ('c-0001', 'spec1', 2, 0)");
  EXPECT_EQ(look(), std::make_pair(ConsultationState::closed, std::size_t{2}));
}

// The same writer over a disk whose log writes can be made to fail.
std::unique_ptr<Store> open_over_counting_vfs(const std::string& dir) {
  SqliteOptions options;
  options.path = database_path(dir);
  options.vfs = counting_vfs();
  return open_sqlite_store(options);
}

class SqliteWriterOnAFailingDisk : public SqliteWriterTest {
 protected:
  void TearDown() override {
    wal_counts().fail_writes = false;
    StoreContract::TearDown();
  }
};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteWriterOnAFailingDisk,
                         ::testing::Values(StoreBackend{"Sqlite", open_over_counting_vfs}),
                         backend_name);

// What the writer remembers of a consultation outlives its batch, but nothing of a batch whose
// commit failed: the next batch reads the consultation as the database still has it.
TEST_P(SqliteWriterOnAFailingDisk, ABatchWhoseCommitFailedLeavesNothingOfItRemembered) {
  store_consultation_in_session();
  const auto look = [](Tx& tx) {
    const auto consultation = tx.find_consultation("c-0001", SealedTexts::skip);
    return std::make_pair(consultation ? consultation->state : ConsultationState::unspecified,
                          tx.list_participants("c-0001").size());
  };
  std::pair<ConsultationState, std::size_t> seen;
  ASSERT_TRUE(write([&](Tx& tx) {
    seen = look(tx);
    return true;
  }));
  EXPECT_EQ(seen, std::make_pair(ConsultationState::in_session, std::size_t{1}));

  wal_counts().fail_writes = true;
  EXPECT_THROW(write([&](Tx& tx) {
                 auto changed = *tx.find_consultation("c-0001", SealedTexts::skip);
                 changed.state = ConsultationState::closed;
                 tx.update_consultation(changed);
                 tx.add_participant("c-0001", {"spec1", ParticipantKind::specialist, 0});
                 seen = look(tx);
                 return true;
               }),
               StoreError);
  wal_counts().fail_writes = false;
  EXPECT_EQ(seen, std::make_pair(ConsultationState::closed, std::size_t{2}));  // inside it

  ASSERT_TRUE(write([&](Tx& tx) {
    seen = look(tx);
    return true;
  }));
  EXPECT_EQ(seen, std::make_pair(ConsultationState::in_session, std::size_t{1}));
}

TEST(SqliteStore, UnopenablePathIsAStoreError) {
  TempDir dir;
  SqliteOptions options;
  options.path = dir.path() + "/missing-directory/tmc.db";
  EXPECT_THROW(open_sqlite_store(options), StoreError);
}

}  // namespace
}  // namespace tmc::store::testing

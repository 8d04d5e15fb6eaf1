// SQLite backend: runs the store contract suite, plus migration and file-format checks.
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/migrations.hpp"
#include "store_contract.hpp"

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

TEST(SqliteStore, UnopenablePathIsAStoreError) {
  TempDir dir;
  SqliteOptions options;
  options.path = dir.path() + "/missing-directory/tmc.db";
  EXPECT_THROW(open_sqlite_store(options), StoreError);
}

}  // namespace
}  // namespace tmc::store::testing

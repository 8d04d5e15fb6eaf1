// SQLite's audit search tables, filled in bulk (store/sqlite/audit_index.hpp): searches find
// every record whether it is indexed yet or not, the writer indexes in chunks, and migration 8
// indexes the records a database already holds.
#include "store/sqlite/audit_index.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit_search_cases.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_contract.hpp"

namespace tmc::store::testing {
namespace {

using namespace std::chrono_literals;
using namespace audit_search;

class SqliteAuditIndex : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/tmc.db"; }

  std::unique_ptr<Store> open() {
    SqliteOptions options;
    options.path = path();
    return open_sqlite_store(options);
  }

  // The write connection a store would use, for setting the index state by hand.
  sqlite::Connection raw() const {
    return sqlite::Connection(path(), sqlite::Connection::Mode::read_write, 5s);
  }

  std::int64_t next_idx() {
    auto db = raw();
    auto query = db.query("SELECT next_idx FROM audit_indexed");
    return query.step() ? query.int64(0) : -1;
  }

  std::int64_t count(const char* table) {
    auto db = raw();
    auto query = db.query(std::string("SELECT count(*) FROM ") + table);
    return query.step() ? query.int64(0) : -1;
  }

  // Everything the search tables and next_idx say, forgotten: nothing is indexed.
  void forget_index() {
    raw().exec("DELETE FROM audit_by_actor; DELETE FROM audit_by_patient;"
               " UPDATE audit_indexed SET next_idx = 0");
  }

  std::int64_t index(std::int64_t limit) {
    auto db = raw();
    db.exec("BEGIN IMMEDIATE");
    const auto indexed = sqlite::index_audit_records(db, limit);
    db.exec("COMMIT");
    return indexed;
  }

  TempDir dir_;
};

TEST_F(SqliteAuditIndex, SearchesFindEveryRecordWhereverTheIndexHasReached) {
  constexpr std::int64_t records = 40;
  {
    auto store = open();
    append(*store, 0, records);
  }
  for (const std::int64_t indexed : {0, 1, 13, 39, 40}) {
    SCOPED_TRACE("indexed: " + std::to_string(indexed));
    forget_index();
    EXPECT_EQ(index(indexed), indexed);
    EXPECT_EQ(next_idx(), indexed);
    {
      auto db = raw();
      EXPECT_EQ(sqlite::unindexed_audit_records(db), records - indexed);
    }
    auto store = open();  // 40 waiting records are too few for the writer to index them
    for (const auto& filter : filters()) {
      SCOPED_TRACE("actor '" + filter.actor_id + "' patient '" + filter.patient_reference + "'");
      EXPECT_EQ(search(*store, filter), expected(records, filter));
    }
  }
  EXPECT_EQ(count("audit_by_actor"), records);
  EXPECT_EQ(count("audit_by_patient"), with_patient(records));
}

// What `audit verify` asks of the store: records a filtered search would miss because the
// search tables lost them, whatever edit did it.
TEST_F(SqliteAuditIndex, SearchGapsAreTheRecordsTheTablesLost) {
  constexpr std::int64_t records = 30;
  using Gap = std::pair<std::int64_t, std::int64_t>;  // how many, the first
  auto store = open();
  append(*store, 0, records);
  forget_index();
  index(records);
  const auto gaps = [&] {
    AuditSearchGaps found;
    store->read([&](Tx& tx) { found = tx.find_audit_search_gaps(); });
    return Gap(found.count, found.first_index);
  };
  EXPECT_EQ(gaps(), Gap(0, -1));

  raw().exec("DELETE FROM audit_by_actor WHERE idx = 17");
  EXPECT_EQ(gaps(), Gap(1, 17));
  ASSERT_EQ(record(9).patient_reference, "P-2");
  raw().exec("UPDATE audit_by_patient SET time = time + 1 WHERE idx = 9");
  EXPECT_EQ(gaps(), Gap(2, 9));

  // Records past the indexed part are scanned, not looked up: no gap until next_idx claims them.
  forget_index();
  index(10);
  EXPECT_EQ(gaps(), Gap(0, -1));
  raw().exec("UPDATE audit_indexed SET next_idx = 25");
  EXPECT_EQ(gaps(), Gap(15, 10));
}

TEST_F(SqliteAuditIndex, TheWriterIndexesInChunksAfterABusyCommitAndWhenIdle) {
  constexpr std::int64_t records = 9000;  // above the busy bound of 8,192
  auto store = open();
  append(*store, 0, records);
  // The busy bound is checked right after the commit, before the write returns.
  const auto right_after = next_idx();
  EXPECT_GT(right_after, 0);
  EXPECT_LT(right_after, records);  // one chunk, not everything at once
  // The rest follows in chunks while the writer is idle, with no write to drive it, until
  // fewer than the idle threshold (512) wait.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (records - next_idx() >= 512 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  const auto settled = next_idx();
  EXPECT_GT(settled, records - 512);
  EXPECT_EQ(count("audit_by_actor"), settled);
  {
    auto db = raw();
    EXPECT_EQ(sqlite::unindexed_audit_records(db), records - settled);
  }
  AuditQuery filter;
  filter.from = base_time;
  filter.to = base_time + 24h;
  filter.actor_id = "usr_2";
  filter.limit = 1000;
  EXPECT_EQ(search(*store, filter), expected(records, filter));
}

TEST_F(SqliteAuditIndex, MigrationEightIndexesTheRecordsADatabaseHolds) {
  constexpr std::int64_t records = 25;
  {
    auto store = open();
    append(*store, 0, records);
  }
  // Back to schema 7: the two indexes on audit_records, no search tables (and no frontier).
  raw().exec(
      "DROP TABLE audit_frontier;"
      " DROP TABLE audit_by_actor; DROP TABLE audit_by_patient; DROP TABLE audit_indexed;"
      " CREATE INDEX audit_records_by_actor ON audit_records(actor_id, time);"
      " CREATE INDEX audit_records_by_patient ON audit_records(patient_reference, time)"
      " WHERE patient_reference <> '';"
      " DELETE FROM schema_migrations WHERE version IN (8, 9)");
  auto store = open();
  EXPECT_EQ(store->schema_version(), sqlite::latest_schema_version());
  EXPECT_EQ(next_idx(), records);
  EXPECT_EQ(count("audit_by_actor"), records);
  EXPECT_EQ(count("audit_by_patient"), with_patient(records));
  for (const auto& filter : filters()) {
    EXPECT_EQ(search(*store, filter), expected(records, filter));
  }
}

}  // namespace
}  // namespace tmc::store::testing

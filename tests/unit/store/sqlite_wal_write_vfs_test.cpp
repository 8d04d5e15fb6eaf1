// The WAL-write VFS (store/sqlite/wal_write_vfs.hpp): a commit's frames reach the file as one
// write, before readers can see the commit, whatever the synchronous setting; transactions that
// spill pages to the log and read them back stay intact; a failed write fails the commit and
// leaves the database as it was.
#include "store/sqlite/wal_write_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "audit_search_cases.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_contract.hpp"
#include "wal_counting_vfs.hpp"

namespace tmc::store::testing {
namespace {

using namespace std::chrono_literals;
using sqlite::Connection;

WalCounts& counts = wal_counts();

class SqliteWalWriteVfs : public ::testing::Test {
 protected:
  void SetUp() override { counts.reset(); }
  void TearDown() override { counts.fail_writes = false; }

  std::string path() const { return dir_.path() + "/tmc.db"; }

  // A writer through the WAL-write VFS over the counting one, in WAL mode, with its own table.
  std::unique_ptr<Connection> writer() {
    auto db = std::make_unique<Connection>(path(), Connection::Mode::read_write, 5s,
                                           sqlite::wal_write_vfs(counting_vfs()));
    db->exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    return db;
  }

  // A reader through the default VFS, as another process would open the file.
  std::int64_t count_rows() {
    Connection reader(path(), Connection::Mode::read_only, 5s);
    auto query = reader.query("SELECT count(*) FROM t");
    return query.step() ? query.int64(0) : -1;
  }

  std::string integrity() {
    Connection reader(path(), Connection::Mode::read_only, 5s);
    auto query = reader.query("PRAGMA integrity_check");
    return query.step() ? query.text(0) : "no answer";
  }

  static void insert(Connection& db, int rows, int body_bytes) {
    auto statement = std::string("INSERT INTO t (body) VALUES (zeroblob(") +
                     std::to_string(body_bytes) + "))";
    for (int i = 0; i < rows; ++i) db.query(statement).run();
  }

  TempDir dir_;
};

TEST_F(SqliteWalWriteVfs, ACommitReachesTheLogAsOneWrite) {
  auto owner = writer();
  auto& db = *owner;
  db.exec("BEGIN IMMEDIATE");
  insert(db, 12, 1500);  // about five pages of rows, plus the table's interior page
  counts.reset();
  db.exec("COMMIT");
  EXPECT_EQ(counts.writes, 1);
  EXPECT_EQ(counts.syncs, 1);
  EXPECT_EQ(count_rows(), 12);
}

TEST_F(SqliteWalWriteVfs, ReadersSeeACommitWithoutASync) {
  for (const char* synchronous : {"OFF", "NORMAL"}) {
    SCOPED_TRACE(synchronous);
    auto owner = writer();
  auto& db = *owner;
    db.exec((std::string("PRAGMA synchronous = ") + synchronous).c_str());
    db.exec("BEGIN IMMEDIATE");
    insert(db, 1, 10);  // the log exists and holds frames before the commit measured
    db.exec("COMMIT");
    const auto before = count_rows();
    counts.reset();
    db.exec("BEGIN IMMEDIATE");
    insert(db, 5, 1500);
    db.exec("COMMIT");
    EXPECT_EQ(counts.syncs, 0);   // nothing forced the frames down but the commit itself
    EXPECT_EQ(counts.writes, 1);  // the commit's frames, at its last frame
    EXPECT_EQ(count_rows(), before + 5);
  }
}

TEST_F(SqliteWalWriteVfs, TransactionsThatSpillToTheLogAndReadBackStayIntact) {
  auto owner = writer();
  auto& db = *owner;
  db.exec("PRAGMA cache_size = 10");  // pages spill to the log mid-transaction, and are read back
  db.exec("BEGIN IMMEDIATE");
  insert(db, 600, 900);
  db.exec("UPDATE t SET body = zeroblob(700) WHERE id % 3 = 0");
  db.exec("DELETE FROM t WHERE id % 7 = 0");
  db.exec("COMMIT");
  EXPECT_EQ(count_rows(), 600 - 600 / 7);
  EXPECT_EQ(integrity(), "ok");
  // A commit of more frames than one write takes (128 KiB): several writes, one sync.
  counts.reset();
  db.exec("BEGIN IMMEDIATE");
  insert(db, 300, 3000);
  db.exec("COMMIT");
  EXPECT_GT(counts.writes, 1);
  EXPECT_EQ(counts.syncs, 1);
  EXPECT_EQ(count_rows(), 600 - 600 / 7 + 300);
  EXPECT_EQ(integrity(), "ok");
}

// Below SQLite: a frame written and not yet passed down is what a read or a size query sees.
TEST_F(SqliteWalWriteVfs, ReadsAndSizesSeeWhatWasWritten) {
  writer();  // the database file, whose mode the log's file takes
  sqlite3_vfs* vfs = sqlite3_vfs_find(sqlite::wal_write_vfs(counting_vfs()));
  ASSERT_NE(vfs, nullptr);
  std::vector<unsigned char> storage(static_cast<std::size_t>(vfs->szOsFile));
  auto* file = reinterpret_cast<sqlite3_file*>(storage.data());
  std::string name = path() + "-wal";
  name.append(2, '\0');
  int out_flags = 0;
  ASSERT_EQ(vfs->xOpen(vfs, name.c_str(), file,
                       SQLITE_OPEN_WAL | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &out_flags),
            SQLITE_OK);
  std::vector<unsigned char> frame(24 + 4096);
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<unsigned char>(i * 7);
  frame[4] = frame[5] = frame[6] = frame[7] = 0;  // not a commit frame: nothing forces it down
  counts.reset();
  ASSERT_EQ(file->pMethods->xWrite(file, frame.data(), 24, 32), SQLITE_OK);
  ASSERT_EQ(file->pMethods->xWrite(file, frame.data() + 24, 4096, 56), SQLITE_OK);
  EXPECT_EQ(counts.writes, 0);  // held
  std::vector<unsigned char> back(frame.size());
  ASSERT_EQ(file->pMethods->xRead(file, back.data(), static_cast<int>(back.size()), 32),
            SQLITE_OK);
  EXPECT_EQ(back, frame);
  EXPECT_EQ(counts.writes, 1);
  ASSERT_EQ(file->pMethods->xWrite(file, frame.data(), 24, 32 + 4120), SQLITE_OK);
  sqlite3_int64 size = 0;
  ASSERT_EQ(file->pMethods->xFileSize(file, &size), SQLITE_OK);
  EXPECT_EQ(size, 32 + 4120 + 24);
  EXPECT_EQ(counts.writes, 2);
  EXPECT_EQ(file->pMethods->xClose(file), SQLITE_OK);
}

TEST_F(SqliteWalWriteVfs, AFailedWriteFailsTheCommitAndLeavesTheDatabaseAsItWas) {
  auto owner = writer();
  auto& db = *owner;
  db.exec("BEGIN IMMEDIATE");
  insert(db, 10, 1500);
  db.exec("COMMIT");

  db.exec("BEGIN IMMEDIATE");
  insert(db, 10, 1500);
  counts.fail_writes = true;
  EXPECT_THROW(db.exec("COMMIT"), StoreError);
  counts.fail_writes = false;
  if (db.in_transaction()) db.exec("ROLLBACK");
  EXPECT_EQ(count_rows(), 10);
  EXPECT_EQ(integrity(), "ok");

  db.exec("BEGIN IMMEDIATE");
  insert(db, 3, 1500);
  db.exec("COMMIT");
  EXPECT_EQ(count_rows(), 13);
  EXPECT_EQ(integrity(), "ok");
}

TEST_F(SqliteWalWriteVfs, TheStoresWriterCommitsEachBatchWithOneWrite) {
  SqliteOptions options;
  options.path = path();
  options.vfs = counting_vfs();
  auto store = open_sqlite_store(options);
  counts.reset();
  audit_search::append(*store, 0, 200);  // one op, one batch: many pages of records
  EXPECT_GE(counts.syncs, 1);
  EXPECT_EQ(counts.most_writes_between_syncs, 1);
  auto everything = audit_search::filters().front();
  everything.limit = 1000;
  EXPECT_EQ(audit_search::search(*store, everything).size(), 200u);
}

}  // namespace
}  // namespace tmc::store::testing

// The SQLite store's idle checkpoint gives way to a write queued while it copies: the write
// does not wait for the rest of the copy, and nothing is lost. (That the log is still copied
// back when writes keep coming is SqliteStore.IdleCheckpointsKeepTheWriteAheadLogSmall.)
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_contract.hpp"
#include "vfs_over_default.hpp"

namespace tmc::store::testing {
namespace {

using namespace std::chrono_literals;

// A VFS over the default one that counts writes to main database files (what a checkpoint
// copies into) and, once armed, holds the first such write until released.
struct DatabaseWriteGate {
  std::mutex mutex;
  std::condition_variable changed;
  bool armed = false;
  bool holding = false;  // a write is waiting at the gate
  std::atomic<int> writes{0};

  void arm() {
    std::lock_guard lock(mutex);
    armed = true;
    writes = 0;
  }
  bool wait_until_holding(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [this] { return holding; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      armed = false;
    }
    changed.notify_all();
  }
  void pass() {
    std::unique_lock lock(mutex);
    if (armed) {
      holding = true;
      changed.notify_all();
      changed.wait(lock, [this] { return !armed; });
      holding = false;
    }
    ++writes;
  }
};

DatabaseWriteGate gate;
VfsOverDefault gated;

int gated_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  gate.pass();
  return gated.base_methods->xWrite(file, data, amount, offset);
}

// The main database file gets the default file with its writes gated.
int gated_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
               int* out_flags) {
  return gated.open_file(name, file, flags, out_flags, SQLITE_OPEN_MAIN_DB,
                         [](sqlite3_io_methods& methods) { methods.xWrite = gated_write; });
}

const char* gated_vfs() {
  static const char* const name = gated.install("tmc-test-database-write-gate", gated_open);
  return name;
}

Organization organization(const std::string& id, std::size_t name_bytes) {
  return Organization{id, std::string(name_bytes, 'n'), OrganizationKind::county_hospital,
                      "Region", "Asia/Urumqi"};
}

TEST(SqliteIdleCheckpoint, GivesWayToAWriteQueuedWhileItCopies) {
  TempDir dir;
  SqliteOptions options;
  options.path = dir.path() + "/tmc.db";
  options.vfs = gated_vfs();
  auto store = open_sqlite_store(options);

  // One commit of about 300 pages: the writer, idle after it, starts copying them back.
  gate.arm();
  ASSERT_TRUE(store->write([](Tx& tx) {
    for (int i = 0; i < 300; ++i) {
      if (!tx.insert_organization(organization("bulk-" + std::to_string(i), 3000))) return false;
    }
    return true;
  }));
  ASSERT_TRUE(gate.wait_until_holding(30s)) << "no idle checkpoint began";

  // A write queued while the checkpoint's first page waits at the gate.
  std::promise<int> copied_before_commit;
  auto answered = copied_before_commit.get_future();
  store->write_async(
      [](Tx& tx) { return tx.insert_organization(organization("queued", 20)); },
      [&](bool kept, std::exception_ptr error) {
        copied_before_commit.set_value(kept && error == nullptr ? gate.writes.load() : -1);
      });
  gate.release();
  ASSERT_EQ(answered.wait_for(30s), std::future_status::ready);
  const int copied = answered.get();
  ASSERT_GE(copied, 0) << "the queued write failed";
  // The checkpoint stopped at the next page instead of copying the other ~300 first.
  EXPECT_LE(copied, 2);

  // Nothing is lost: what the interrupted checkpoint had not copied is still in the log.
  ASSERT_TRUE(store->write([](Tx& tx) {
    return tx.insert_organization(organization("after", 20));
  }));
  store.reset();
  SqliteOptions reopen;
  reopen.path = options.path;
  auto reopened = open_sqlite_store(reopen);
  reopened->read([](Tx& tx) {
    EXPECT_TRUE(tx.find_organization("bulk-299").has_value());
    EXPECT_TRUE(tx.find_organization("queued").has_value());
    EXPECT_TRUE(tx.find_organization("after").has_value());
  });
}

// What makes an interrupt that lands just after the checkpoint harmless: SQLite resets it when
// a statement starts while no other one is active, as the writer's statements are between
// batches. Only a statement left active would let it stop the next one.
TEST(SqliteIdleCheckpoint, AnInterruptThatArrivesLateStopsNothing) {
  TempDir dir;
  sqlite::Connection db(dir.path() + "/tmc.db", sqlite::Connection::Mode::read_write, 5s);
  db.interrupt();
  EXPECT_NO_THROW(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"));
  db.interrupt();
  EXPECT_NO_THROW(db.run("INSERT INTO t (id) VALUES (1)"));
  {
    auto active = db.query("SELECT id FROM t");
    ASSERT_TRUE(active.step());
    db.interrupt();
    EXPECT_THROW(db.exec("CREATE TABLE u (id INTEGER PRIMARY KEY)"), StoreError);
  }
}

}  // namespace
}  // namespace tmc::store::testing

// SQLite Store: read pool (snapshot per read), write connection driven by the group-commit writer.
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "store/connection_pool.hpp"
#include "store/group_commit.hpp"
#include "store/sqlite/audit_index.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/online_backup.hpp"
#include "store/sqlite/sqlite_tx.hpp"
#include "store/sqlite/wal_write_vfs.hpp"

namespace tmc::store {
namespace {

using sqlite::Connection;
using sqlite::SqliteTx;

// The batch transaction primitives on the single write connection, and its WAL checkpoints.
//
// SQLite's automatic checkpoint runs right after the commit that crosses its threshold, between
// that batch's commit and its answers: a copy of thousands of pages and an fsync of the
// database file that the batch's callers (and everyone queued behind them) wait for. It was
// the chat's p99 at moderate load. Here the writer checkpoints when it is idle instead, as soon
// as kIdleCheckpointFrames new frames are in the WAL, so each checkpoint is short and nobody's
// answer waits for it; only a writer that is never idle falls back to checkpointing after the
// commit that reaches kBusyCheckpointFrames (the bound on the WAL's growth).
//
// An idle checkpoint still took 2-5 ms, and an op queued meanwhile waited for all of it: the
// chat's p99 at moderate load. Now queueing an op interrupts it (sqlite3_interrupt, which
// SQLite's copy loop checks before each page): the op runs at once, SQLite records nothing of
// that checkpoint as done, and the next idle moment copies those frames again. Neither the busy
// fallback nor an idle checkpoint of a WAL at half that bound is interrupted, so the WAL stays
// bounded and is still copied back mostly when the writer is idle.
class SqliteBatchBackend final : public BatchBackend {
 public:
  // tx is the batches' SqliteTx on connection. What it remembers of consultations outlives a
  // batch while no other connection commits: this connection's own writes keep it right
  // (SqliteTx), and SQLite's data_version, read once the batch holds the write lock, moves on
  // whenever another connection (another process, or another node on the same file) has
  // committed. It forgets when that happened, and when an op's changes or a batch are rolled
  // back.
  SqliteBatchBackend(Connection& connection, SqliteTx& tx) : db_(connection), tx_(tx) {
    db_.on_wal_commit([this](int frames) noexcept {
      if (frames < copied_) copied_ = 0;  // the WAL restarted from its beginning
      frames_ = frames;
      if (frames_ - copied_ >= kBusyCheckpointFrames) checkpoint();
    });
  }
  ~SqliteBatchBackend() override { db_.on_wal_commit(nullptr); }
  SqliteBatchBackend(const SqliteBatchBackend&) = delete;
  SqliteBatchBackend& operator=(const SqliteBatchBackend&) = delete;

  bool idle() noexcept override {
    const bool indexed = index_audit(kIdleIndexRecords);
    if (frames_ - copied_ >= kIdleCheckpointFrames) idle_checkpoint();
    return indexed;  // more may be waiting
  }

  // On the thread that queues an op, with the writer's queue locked. The writer runs no
  // statement until idle_checkpoint() has cleared the flag under the same lock, so an interrupt
  // that lands after the checkpoint ended stops nothing (see Connection::interrupt).
  void op_queued() noexcept override {
    std::lock_guard lock(interrupt_mutex_);
    if (idle_checkpoint_running_) db_.interrupt();
  }

  void begin() override {
    full_sync();
    db_.run("BEGIN IMMEDIATE");
    auto version = db_.query("PRAGMA data_version");
    const std::int64_t now = version.step() ? version.int64(0) : -1;
    if (now != data_version_ || now < 0) tx_.forget_consultations();
    data_version_ = now;
  }
  void commit() override {
    db_.run("COMMIT");  // a failed commit is rolled back, which forgets
    index_audit(kBusyIndexRecords);
  }
  void rollback() noexcept override {
    tx_.forget_consultations();
    if (!db_.in_transaction()) return;  // SQLite may already have rolled it back
    try {
      db_.exec("ROLLBACK");
    } catch (const StoreError&) {
      // Nothing more to do: the connection reports the failure again on the next BEGIN.
    }
  }
  void savepoint() override { db_.run("SAVEPOINT op"); }
  void release_savepoint() override { db_.run("RELEASE op"); }
  // From the statement cache, like the savepoint itself: ops that keep nothing are common
  // enough under load that parsing these again each time showed in a profile.
  void rollback_to_savepoint() override {
    tx_.forget_consultations();
    db_.run("ROLLBACK TO op");
    db_.run("RELEASE op");
  }

 private:
  static constexpr int kIdleCheckpointFrames = 256;
  static constexpr int kBusyCheckpointFrames = 4000;
  static constexpr int kUninterruptedCheckpointFrames = kBusyCheckpointFrames / 2;
  // The audit search tables (audit_index.hpp) take new records in chunks: when the writer is
  // idle and a chunk's worth waits, one chunk per step (queued ops go between steps), or after a
  // commit once the busy bound is reached. A chunk takes the writer a few milliseconds.
  static constexpr std::int64_t kIdleIndexRecords = 512;
  static constexpr std::int64_t kBusyIndexRecords = 8192;
  static constexpr std::int64_t kIndexChunkRecords = 512;

  // Indexes one chunk when at least threshold records wait; returns whether it did. The chunk
  // commits without its own fsync (synchronous = NORMAL): it stays atomic, and the next batch's
  // fsync covers it. Lost in a crash, it is only redone, since next_idx is in the same commit.
  bool index_audit(std::int64_t threshold) noexcept {
    try {
      if (sqlite::unindexed_audit_records(db_) < threshold) return false;
      relaxed_sync_ = true;
      db_.exec("PRAGMA synchronous = NORMAL");
      db_.run("BEGIN IMMEDIATE");
      sqlite::index_audit_records(db_, kIndexChunkRecords);
      db_.run("COMMIT");
      full_sync();
      return true;
    } catch (const StoreError&) {
      rollback();  // the records stay searchable in the unindexed tail; a later call retries
      return false;
    }
  }

  // Every batch commits with an fsync: begin() calls this, and fails the batch if it throws.
  void full_sync() {
    if (!relaxed_sync_) return;
    db_.exec("PRAGMA synchronous = FULL");
    relaxed_sync_ = false;
  }

  // A checkpoint that op_queued() may interrupt, unless the WAL has grown to half its bound:
  // interrupted again and again, idle checkpoints would leave the copying to the busy fallback,
  // which every op queued behind the commit that triggers it waits for.
  void idle_checkpoint() noexcept {
    if (frames_ - copied_ >= kUninterruptedCheckpointFrames) {
      checkpoint();
      return;
    }
    {
      std::lock_guard lock(interrupt_mutex_);
      idle_checkpoint_running_ = true;
    }
    checkpoint();
    std::lock_guard lock(interrupt_mutex_);
    idle_checkpoint_running_ = false;
  }

  void checkpoint() noexcept {
    try {
      const auto done = db_.checkpoint_passive();
      if (!done) return;  // interrupted: nothing recorded as copied, nothing wrong
      frames_ = done->first;
      copied_ = done->second;
      if (checkpoint_failing_) spdlog::info("store: WAL checkpoints work again");
      checkpoint_failing_ = false;
    } catch (const StoreError& error) {
      // A later idle moment or commit tries again; the WAL stays valid meanwhile, but grows
      // until one succeeds: said once, not at every attempt.
      if (!checkpoint_failing_) {
        spdlog::warn("store: WAL checkpoint failed, the log grows until one succeeds: {}",
                     error.what());
      }
      checkpoint_failing_ = true;
    }
  }

  Connection& db_;
  SqliteTx& tx_;
  std::mutex interrupt_mutex_;
  bool idle_checkpoint_running_ = false;  // op_queued() interrupts it (interrupt_mutex_)
  int frames_ = 0;  // frames in the WAL after the last commit
  int copied_ = 0;  // of those, copied back by the last checkpoint
  bool relaxed_sync_ = false;  // synchronous = NORMAL may still be set (index_audit)
  bool checkpoint_failing_ = false;  // the last checkpoint failed (and was logged)
  std::int64_t data_version_ = -1;  // PRAGMA data_version when the last batch began
};

const char* vfs_or_default(const std::string& vfs) { return vfs.empty() ? nullptr : vfs.c_str(); }

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const SqliteOptions& options)
      : options_(options),
        write_connection_(options.path, Connection::Mode::read_write, options.busy_timeout,
                          sqlite::wal_write_vfs(vfs_or_default(options.vfs))),
        schema_version_(sqlite::apply_migrations(write_connection_)),
        readers_(options.read_connections,
                 [options] {
                   return std::make_unique<Connection>(options.path, Connection::Mode::read_only,
                                                       options.busy_timeout,
                                                       vfs_or_default(options.vfs));
                 }),
        write_tx_(write_connection_, true),
        backend_(write_connection_, write_tx_),
        writer_(backend_, options.max_batch > 0 ? static_cast<std::size_t>(options.max_batch) : 1) {
  }

  ~SqliteStore() override { writer_.stop(); }

  void read(const std::function<void(Tx&)>& fn) override {
    auto lease = readers_.checkout();
    auto& db = lease.connection();
    db.run("BEGIN");
    try {
      SqliteTx tx(db, false);
      fn(tx);
      db.run("COMMIT");
    } catch (...) {
      if (db.in_transaction()) {
        try {
          db.exec("ROLLBACK");
        } catch (const StoreError&) {
          // The original exception matters more; the connection stays usable or reports again.
        }
      }
      throw;
    }
  }

  bool write(WriteOp op) override { return writer_.write(bind_op(std::move(op))); }

  void write_async(WriteOp op, std::function<void(bool, std::exception_ptr)> done) override {
    writer_.write_async(bind_op(std::move(op)), std::move(done));
  }

  void set_completion_handoff(CompletionHandoff handoff) override {
    writer_.set_completion_handoff(std::move(handoff));
  }

  void set_batch_tail(BatchTail* tail) override {
    writer_.set_tail(writer_tail(tail, [this](WriteOp op) { return bind_op(std::move(op)); }));
  }

  int schema_version() override { return schema_version_; }

  WriterStats writer_stats() const override { return writer_.stats(); }

  void backup_to(const std::string& path) override {
    sqlite::online_backup(options_.path, path, options_.busy_timeout);
  }

 private:
  GroupCommitWriter::BatchOp bind_op(WriteOp op) {
    return [this, op = std::move(op)] { return op(write_tx_); };
  }

  SqliteOptions options_;
  Connection write_connection_;  // used only by the writer thread once construction is done
  int schema_version_;
  ConnectionPool<Connection> readers_;
  SqliteTx write_tx_;
  SqliteBatchBackend backend_;
  GroupCommitWriter writer_;  // last: its thread starts once everything above exists
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const SqliteOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

}  // namespace tmc::store

// SQLite connection: open with the server's pragmas, statement cache, script execution.
#include "store/sqlite/connection.hpp"

#include "store/store.hpp"

namespace tmc::store::sqlite {

void configure_library() {
  // Without statistics of its own memory use, SQLite's allocation wrappers stop taking a
  // process-wide mutex around every malloc and free. The server never asks for those figures
  // (sqlite3_memory_used, a soft heap limit). A process whose SQLite was already initialised
  // by someone else keeps the default: sqlite3_config then refuses, which changes nothing.
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  static_cast<void>(configured);
}

Connection::Connection(const std::string& path, Mode mode, std::chrono::milliseconds busy_timeout,
                       const char* vfs) {
  configure_library();
  const int flags =
      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
      (mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw_sqlite_error(rc, "sqlite open");
  }
  try {
    const int timeout_rc = sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    if (timeout_rc != SQLITE_OK) throw_sqlite_error(timeout_rc, "sqlite busy_timeout");
    sqlite3_extended_result_codes(db_, 1);
    exec("PRAGMA foreign_keys = ON");
    if (mode == Mode::read_write) {
      auto journal = query("PRAGMA journal_mode = WAL");
      if (!journal.step() || journal.text(0) != "wal") {
        throw StoreError("sqlite: cannot switch the database to WAL mode");
      }
      exec("PRAGMA synchronous = FULL");
      // The single writer touches the same hot pages batch after batch (the log's and the
      // audit log's index leaves, consultation rows): a larger cache spares re-reading them,
      // and checkpointing every 4,000 WAL pages instead of 1,000 copies each hot page back to
      // the database file a quarter as often. (The store's writer connection replaces this
      // automatic checkpoint with its own: when idle, and at 4,000 pages otherwise.)
      exec("PRAGMA cache_size = -16384");
      exec("PRAGMA wal_autocheckpoint = 4000");
      // Every op of a group-commit batch runs in its own savepoint, whose statement journal
      // keeps the original of each page the op touches. On disk (SQLite spills it to a temp
      // file past 64 KiB) that was a 4 KiB write per page per op, more than the WAL itself;
      // in memory it is a copy. Only the op in progress is held.
      exec("PRAGMA temp_store = MEMORY");
    } else {
      exec("PRAGMA query_only = ON");
    }
  } catch (...) {
    cache_.clear();
    sqlite3_close_v2(db_);
    throw;
  }
}

Connection::~Connection() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

void Connection::on_wal_commit(std::function<void(int frames)> observer) {
  wal_observer_ = std::move(observer);
  sqlite3_wal_hook(db_, wal_observer_ ? &Connection::wal_hook : nullptr, this);
}

int Connection::wal_hook(void* self, sqlite3*, const char*, int frames) {
  static_cast<Connection*>(self)->wal_observer_(frames);
  return SQLITE_OK;
}

std::optional<std::pair<int, int>> Connection::checkpoint_passive() {
  int frames = 0;
  int copied = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
  if (rc == SQLITE_INTERRUPT) return std::nullopt;
  if (rc != SQLITE_OK) throw_sqlite_error(rc, "sqlite checkpoint");
  return std::pair{frames, copied};
}

Query Connection::query(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    auto statement = std::make_unique<Statement>(db_, sql, true);
    found = cache_.emplace(std::string(sql), std::move(statement)).first;
  }
  sqlite3_stmt* stmt = found->second->handle();
  if (sqlite3_stmt_busy(stmt) != 0) throw StoreError("sqlite: statement already in use");
  return Query(stmt);
}

void Connection::exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(sqlite3_extended_errcode(db_), "sqlite exec");
}

}  // namespace tmc::store::sqlite

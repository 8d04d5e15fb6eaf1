// One SQLite connection with its per-connection cache of persistent prepared statements.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/text_hash.hpp"
#include "store/sqlite/statement.hpp"

namespace tmc::store::sqlite {

// Library-wide settings, applied once before the first connection of the process is opened
// (SQLite accepts them only before it initialises itself). Every open calls this.
void configure_library();

// Not thread-safe: used by one thread at a time (the writer, or whoever checked it out of the
// read pool). Throws StoreError when the database cannot be opened or configured.
class Connection {
 public:
  enum class Mode { read_write, read_only };

  // vfs: the SQLite VFS to open the database through (nullptr: the default one).
  Connection(const std::string& path, Mode mode, std::chrono::milliseconds busy_timeout,
             const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A scoped execution of the cached statement for sql (prepared on first use). sql must be one
  // statement; the same text must not be in use twice at once on this connection.
  Query query(std::string_view sql);

  // Runs a statement (or a script of several) that returns no rows and takes no parameters.
  void exec(const char* sql);

  // Runs one statement that returns no rows and takes no parameters, from the statement cache:
  // for the ones run every transaction (BEGIN, COMMIT, SAVEPOINT), which exec() would parse
  // again each time.
  void run(std::string_view sql) { query(sql).run(); }

  // Calls observer after every commit with the number of frames in the write-ahead log. This
  // replaces SQLite's automatic checkpoint on this connection: the observer decides when to
  // call checkpoint_passive(). One observer at a time; it must not throw.
  void on_wal_commit(std::function<void(int frames)> observer);

  // Copies what it can of the WAL back into the database file without waiting for readers
  // (SQLITE_CHECKPOINT_PASSIVE). Returns the frames in the WAL and how many of them are now
  // copied, or nullopt when interrupt() stopped it: SQLite then records nothing as copied, and a
  // later checkpoint copies those frames again. Throws StoreError on failure.
  std::optional<std::pair<int, int>> checkpoint_passive();

  // Makes what runs on this connection stop at its next check with SQLITE_INTERRUPT. The one
  // member that may be called from another thread, while the connection is open. An interrupt
  // that arrives when nothing runs stops nothing: SQLite resets it when a statement starts
  // while no other one is active.
  void interrupt() noexcept { sqlite3_interrupt(db_); }

  // Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const { return sqlite3_changes(db_); }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  static int wal_hook(void* self, sqlite3* db, const char* schema, int frames);

  sqlite3* db_ = nullptr;
  std::function<void(int)> wal_observer_;
  std::unordered_map<std::string, std::unique_ptr<Statement>, TextHash, std::equal_to<>> cache_;
};

}  // namespace tmc::store::sqlite

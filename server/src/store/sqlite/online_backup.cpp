// SQLite online backup: a consistent copy of a live database into a new file.
#include "store/sqlite/online_backup.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/statement.hpp"
#include "store/store.hpp"

namespace tmc::store::sqlite {
namespace {

struct CloseDatabase {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Database = std::unique_ptr<sqlite3, CloseDatabase>;

Database open_database(const std::string& path, int flags, const char* what) {
  configure_library();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) throw_sqlite_error(rc, what);
  return db;
}

void exec(sqlite3* db, const char* sql, const char* what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(rc, what);
}

void copy(const std::string& source, const std::string& destination,
          std::chrono::milliseconds busy_timeout) {
  auto from = open_database(source, SQLITE_OPEN_READONLY, "backup: open source");
  sqlite3_busy_timeout(from.get(), static_cast<int>(busy_timeout.count()));
  auto to = open_database(destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          "backup: create destination");
  {
    std::unique_ptr<sqlite3_backup, int (*)(sqlite3_backup*)> backup(
        sqlite3_backup_init(to.get(), "main", from.get(), "main"), sqlite3_backup_finish);
    if (!backup) throw_sqlite_error(sqlite3_errcode(to.get()), "backup: init");
    const int rc = sqlite3_backup_step(backup.get(), -1);  // every page, one read transaction
    if (rc != SQLITE_DONE) throw_sqlite_error(rc, "backup: copy");
    const int finish_rc = sqlite3_backup_finish(backup.release());
    if (finish_rc != SQLITE_OK) throw_sqlite_error(finish_rc, "backup: finish");
  }
  // The copy keeps the WAL journal mode of the source; fold everything into the main file so the
  // backup is one self-contained file, durably on disk.
  exec(to.get(), "PRAGMA synchronous = FULL", "backup: synchronous");
  exec(to.get(), "PRAGMA wal_checkpoint(TRUNCATE)", "backup: checkpoint");
  exec(to.get(), "PRAGMA journal_mode = DELETE", "backup: journal mode");
}

}  // namespace

void online_backup(const std::string& source, const std::string& destination,
                   std::chrono::milliseconds busy_timeout) {
  std::error_code ec;
  if (std::filesystem::exists(destination, ec)) {
    throw StoreError("backup: destination '" + destination + "' already exists");
  }
  try {
    copy(source, destination, busy_timeout);
  } catch (...) {
    std::filesystem::remove(destination, ec);
    std::filesystem::remove(destination + "-wal", ec);
    std::filesystem::remove(destination + "-shm", ec);
    throw;
  }
}

}  // namespace tmc::store::sqlite

// SQLite online backup: a consistent copy of a live database into a new file.
#pragma once

#include <chrono>
#include <string>

namespace tmc::store::sqlite {

// Copies the database at source into a new file at destination through sqlite3_backup_* on a
// connection of its own, in one step inside one read transaction: the copy is a consistent
// snapshot of the last commit, and the WAL lets writers go on meanwhile. The copy is fsynced
// and is a self-contained database (no -wal file). Throws StoreError if destination exists or
// on any SQLite failure (a partial destination file is removed).
void online_backup(const std::string& source, const std::string& destination,
                   std::chrono::milliseconds busy_timeout);

}  // namespace tmc::store::sqlite

// The embedded SQLite backend of the Store: WAL, one group-commit writer, a pool of readers.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/store.hpp"

namespace tmc::store {

struct SqliteOptions {
  std::string path;  // database file; created when missing
  int read_connections = 4;
  int max_batch = 256;  // most write ops per transaction
  std::chrono::milliseconds busy_timeout{5000};
  // The SQLite VFS the store's files go through (empty: the platform's default). The writer's
  // connection goes through the WAL-write VFS over it (sqlite/wal_write_vfs.hpp).
  std::string vfs;
};

// Opens (creating if needed) the database in WAL mode with synchronous=FULL and foreign keys on,
// and applies missing migrations. Throws StoreError when the file cannot be opened, a migration
// fails, or the database was written by a newer server (unknown schema version).
// Destroying the store runs every write already queued, then closes the connections.
std::unique_ptr<Store> open_sqlite_store(const SqliteOptions& options);

}  // namespace tmc::store

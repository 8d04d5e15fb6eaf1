// A SQLite VFS for tests: the default VFS, with the writes and syncs of WAL files counted and
// WAL writes failing on request (a full or failing disk under the log).
#pragma once

#include <atomic>

namespace tmc::store::testing {

struct WalCounts {
  std::atomic<int> writes{0};
  std::atomic<int> syncs{0};
  std::atomic<int> writes_since_sync{0};
  std::atomic<int> most_writes_between_syncs{0};
  std::atomic<bool> fail_writes{false};  // every WAL write fails with SQLITE_IOERR_WRITE

  void reset() {
    writes = 0;
    syncs = 0;
    writes_since_sync = 0;
    most_writes_between_syncs = 0;
  }
};

// The process's one set of counts, shared by every file the VFS opens.
WalCounts& wal_counts();

// The VFS's name (registered on first use, not as the default).
const char* counting_vfs();

}  // namespace tmc::store::testing

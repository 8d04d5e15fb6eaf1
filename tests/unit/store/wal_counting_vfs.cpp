// The WAL-counting test VFS (wal_counting_vfs.hpp).
#include "wal_counting_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace tmc::store::testing {
namespace {

sqlite3_vfs* default_vfs = nullptr;
sqlite3_io_methods counting_methods;
const sqlite3_io_methods* default_methods = nullptr;

int counting_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto& counts = wal_counts();
  if (counts.fail_writes) return SQLITE_IOERR_WRITE;
  ++counts.writes;
  const int since = ++counts.writes_since_sync;
  if (since > counts.most_writes_between_syncs) counts.most_writes_between_syncs = since;
  return default_methods->xWrite(file, data, amount, offset);
}

int counting_sync(sqlite3_file* file, int flags) {
  auto& counts = wal_counts();
  ++counts.syncs;
  counts.writes_since_sync = 0;
  return default_methods->xSync(file, flags);
}

// WAL files get the default file with two methods replaced; everything else is the default's.
int counting_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
  const int rc = default_vfs->xOpen(default_vfs, name, file, flags, out_flags);
  if (rc != SQLITE_OK || (flags & SQLITE_OPEN_WAL) == 0) return rc;
  if (default_methods == nullptr) {
    default_methods = file->pMethods;
    counting_methods = *file->pMethods;
    counting_methods.xWrite = counting_write;
    counting_methods.xSync = counting_sync;
  }
  file->pMethods = &counting_methods;
  return rc;
}

}  // namespace

WalCounts& wal_counts() {
  static WalCounts counts;
  return counts;
}

const char* counting_vfs() {
  static sqlite3_vfs vfs = [] {
    default_vfs = sqlite3_vfs_find(nullptr);
    sqlite3_vfs copy = *default_vfs;
    copy.zName = "tmc-test-wal-counting";
    copy.xOpen = counting_open;
    copy.pNext = nullptr;
    return copy;
  }();
  static const bool registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
  EXPECT_TRUE(registered);
  return vfs.zName;
}

}  // namespace tmc::store::testing

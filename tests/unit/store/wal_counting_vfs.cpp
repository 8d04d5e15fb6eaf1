// The WAL-counting test VFS (wal_counting_vfs.hpp).
#include "wal_counting_vfs.hpp"

#include <sqlite3.h>

#include "vfs_over_default.hpp"

namespace tmc::store::testing {
namespace {

VfsOverDefault counting;

int counting_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto& counts = wal_counts();
  if (counts.fail_writes) return SQLITE_IOERR_WRITE;
  ++counts.writes;
  const int since = ++counts.writes_since_sync;
  if (since > counts.most_writes_between_syncs) counts.most_writes_between_syncs = since;
  return counting.base_methods->xWrite(file, data, amount, offset);
}

int counting_sync(sqlite3_file* file, int flags) {
  auto& counts = wal_counts();
  ++counts.syncs;
  counts.writes_since_sync = 0;
  return counting.base_methods->xSync(file, flags);
}

// WAL files get the default file with two methods replaced; everything else is the default's.
int counting_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
  return counting.open_file(name, file, flags, out_flags, SQLITE_OPEN_WAL,
                            [](sqlite3_io_methods& methods) {
                              methods.xWrite = counting_write;
                              methods.xSync = counting_sync;
                            });
}

}  // namespace

WalCounts& wal_counts() {
  static WalCounts counts;
  return counts;
}

const char* counting_vfs() {
  static const char* const name = counting.install("tmc-test-wal-counting", counting_open);
  return name;
}

}  // namespace tmc::store::testing

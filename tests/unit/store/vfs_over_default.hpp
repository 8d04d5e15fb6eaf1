// Test VFSes over SQLite's default one: a copy of it with xOpen replaced, whose files of one
// kind (WAL files, the main database) get the default file's methods with some replaced.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace tmc::store::testing {

using VfsOpen = int (*)(sqlite3_vfs*, sqlite3_filename, sqlite3_file*, int, int*);

// A VFS over the default one, for one kind of file (SQLITE_OPEN_WAL, SQLITE_OPEN_MAIN_DB, ...).
struct VfsOverDefault {
  sqlite3_vfs vfs{};
  sqlite3_vfs* base = nullptr;                       // the default VFS
  const sqlite3_io_methods* base_methods = nullptr;  // its files' methods, once one was opened
  sqlite3_io_methods methods{};                      // those, with the replacements made

  // Registers this VFS (not as the default) under name, with open as its xOpen; returns name.
  const char* install(const char* name, VfsOpen open) {
    base = sqlite3_vfs_find(nullptr);
    vfs = *base;
    vfs.zName = name;
    vfs.xOpen = open;
    vfs.pNext = nullptr;
    EXPECT_EQ(sqlite3_vfs_register(&vfs, 0), SQLITE_OK);
    return vfs.zName;
  }

  // For open: opens with the default VFS, and gives a file of the kind the methods that
  // replace() made of the default file's (made once, from the first such file).
  template <class Replace>
  int open_file(sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags, int kind,
                Replace replace) {
    const int rc = base->xOpen(base, name, file, flags, out_flags);
    if (rc != SQLITE_OK || (flags & kind) == 0) return rc;
    if (base_methods == nullptr) {
      base_methods = file->pMethods;
      methods = *file->pMethods;
      replace(methods);
    }
    file->pMethods = &methods;
    return rc;
  }
};

}  // namespace tmc::store::testing

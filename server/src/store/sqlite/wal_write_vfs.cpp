// The WAL-write VFS (wal_write_vfs.hpp): a wrapper of WAL files that passes consecutive writes
// down as one.
#include "store/sqlite/wal_write_vfs.hpp"

#include "store/sqlite/connection.hpp"

#include <sqlite3.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "store/sqlite/statement.hpp"
#include "store/store.hpp"

namespace tmc::store::sqlite {
namespace {

// The WAL file format: each frame starts with a 24-byte header whose bytes 4–7 hold, for the
// last frame of a commit, the database's size in pages after it (zero in every other frame).
constexpr int kFrameHeaderBytes = 24;
constexpr int kCommitSizeOffset = 4;
// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks larger counts), so that is
// the most held at once: 31 frames of a 4 KiB page.
constexpr std::size_t kMaxHeldBytes = 0x1ffff;

struct WalFile {
  sqlite3_file base;                // pMethods: this VFS's methods
  std::vector<unsigned char>* held;  // written by SQLite, not yet passed down
  sqlite3_int64 held_at;            // the file offset of held's first byte
  bool commit_frame;                // the last header written was a commit frame's
};

// The base VFS's file follows the wrapper, aligned for anything it holds.
constexpr std::size_t kInnerOffset =
    (sizeof(WalFile) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
    alignof(std::max_align_t);

WalFile* wal(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }
sqlite3_file* inner(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kInnerOffset);
}
const sqlite3_io_methods& methods(sqlite3_file* file) { return *inner(file)->pMethods; }

// Passes the held bytes down in one write. They are dropped whether it succeeds or not: after a
// failure SQLite rolls the transaction back, and the WAL index never points at them.
int pass_down(sqlite3_file* file) {
  auto* self = wal(file);
  if (self->held->empty()) return SQLITE_OK;
  const int rc = methods(file).xWrite(inner(file), self->held->data(),
                                      static_cast<int>(self->held->size()), self->held_at);
  self->held->clear();
  return rc;
}

bool is_commit_header(const void* data) {
  const auto* bytes = static_cast<const unsigned char*>(data) + kCommitSizeOffset;
  return (bytes[0] | bytes[1] | bytes[2] | bytes[3]) != 0;
}

int file_close(sqlite3_file* file) {
  const int passed = pass_down(file);
  delete wal(file)->held;
  const int closed = methods(file).xClose(inner(file));
  return passed != SQLITE_OK ? passed : closed;
}

int file_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  return methods(file).xRead(inner(file), buffer, amount, offset);
}

int file_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  auto* self = wal(file);
  auto& held = *self->held;
  if (!held.empty() && (offset != self->held_at + static_cast<sqlite3_int64>(held.size()) ||
                        held.size() + static_cast<std::size_t>(amount) > kMaxHeldBytes)) {
    if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  }
  if (amount < 0 || static_cast<std::size_t>(amount) > kMaxHeldBytes) {
    return methods(file).xWrite(inner(file), buffer, amount, offset);  // nothing held now
  }
  if (held.empty()) self->held_at = offset;
  const auto* bytes = static_cast<const unsigned char*>(buffer);
  try {
    held.insert(held.end(), bytes, bytes + amount);
  } catch (const std::bad_alloc&) {
    held.clear();
    return SQLITE_IOERR_NOMEM;
  }
  if (amount == kFrameHeaderBytes) {
    self->commit_frame = is_commit_header(buffer);
    return SQLITE_OK;
  }
  if (self->commit_frame) {
    self->commit_frame = false;
    return pass_down(file);  // a commit ends here
  }
  return SQLITE_OK;
}

int file_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  return methods(file).xTruncate(inner(file), size);
}
int file_sync(sqlite3_file* file, int flags) {
  if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  return methods(file).xSync(inner(file), flags);
}
int file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  return methods(file).xFileSize(inner(file), size);
}
int file_lock(sqlite3_file* file, int level) { return methods(file).xLock(inner(file), level); }
int file_unlock(sqlite3_file* file, int level) {
  return methods(file).xUnlock(inner(file), level);
}
int file_check_reserved(sqlite3_file* file, int* reserved) {
  return methods(file).xCheckReservedLock(inner(file), reserved);
}
// Not a point to pass held bytes down: SQLite ignores the result of some file controls (hints),
// and a failure there would go unreported.
int file_control(sqlite3_file* file, int op, void* arg) {
  return methods(file).xFileControl(inner(file), op, arg);
}
int file_sector_size(sqlite3_file* file) { return methods(file).xSectorSize(inner(file)); }
int file_characteristics(sqlite3_file* file) {
  return methods(file).xDeviceCharacteristics(inner(file));
}
int file_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return methods(file).xShmMap(inner(file), region, size, extend, out);
}
int file_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return methods(file).xShmLock(inner(file), offset, n, flags);
}
void file_shm_barrier(sqlite3_file* file) { methods(file).xShmBarrier(inner(file)); }
int file_shm_unmap(sqlite3_file* file, int remove) {
  return methods(file).xShmUnmap(inner(file), remove);
}
int file_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (const int rc = pass_down(file); rc != SQLITE_OK) return rc;
  return methods(file).xFetch(inner(file), offset, amount, out);
}
int file_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return methods(file).xUnfetch(inner(file), offset, page);
}

// One table per version of the base file's methods, so SQLite sees the same capabilities.
const sqlite3_io_methods* methods_for(int version) {
  static const auto tables = [] {
    std::array<sqlite3_io_methods, 3> all{};
    for (int v = 1; v <= 3; ++v) {
      all[static_cast<std::size_t>(v - 1)] =
          sqlite3_io_methods{v,
                             file_close,
                             file_read,
                             file_write,
                             file_truncate,
                             file_sync,
                             file_size,
                             file_lock,
                             file_unlock,
                             file_check_reserved,
                             file_control,
                             file_sector_size,
                             file_characteristics,
                             v >= 2 ? file_shm_map : nullptr,
                             v >= 2 ? file_shm_lock : nullptr,
                             v >= 2 ? file_shm_barrier : nullptr,
                             v >= 2 ? file_shm_unmap : nullptr,
                             v >= 3 ? file_fetch : nullptr,
                             v >= 3 ? file_unfetch : nullptr};
    }
    return all;
  }();
  const int clamped = version < 1 ? 1 : (version > 3 ? 3 : version);
  return &tables[static_cast<std::size_t>(clamped - 1)];
}

sqlite3_vfs* base_of(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int vfs_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
             int* out_flags) {
  sqlite3_vfs* base = base_of(vfs);
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    return base->xOpen(base, name, file, flags, out_flags);  // the base's own file, unwrapped
  }
  auto* self = wal(file);
  self->base.pMethods = nullptr;
  sqlite3_file* base_file = inner(file);
  base_file->pMethods = nullptr;
  const int rc = base->xOpen(base, name, base_file, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (base_file->pMethods != nullptr) base_file->pMethods->xClose(base_file);
    return rc;
  }
  self->held = new (std::nothrow) std::vector<unsigned char>();
  if (self->held == nullptr) {
    base_file->pMethods->xClose(base_file);
    return SQLITE_NOMEM;
  }
  self->held_at = 0;
  self->commit_frame = false;
  self->base.pMethods = methods_for(base_file->pMethods->iVersion);
  return SQLITE_OK;
}

// The rest of the VFS forwards to the base with the base as its first argument: a base VFS may
// use its own fields (pAppData, mxPathname), so copying its method pointers would not do.
int vfs_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return base_of(vfs)->xDelete(base_of(vfs), name, sync_dir);
}
int vfs_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return base_of(vfs)->xAccess(base_of(vfs), name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return base_of(vfs)->xFullPathname(base_of(vfs), name, size, out);
}
void* vfs_dl_open(sqlite3_vfs* vfs, const char* name) {
  return base_of(vfs)->xDlOpen(base_of(vfs), name);
}
void vfs_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  base_of(vfs)->xDlError(base_of(vfs), size, out);
}
void (*vfs_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return base_of(vfs)->xDlSym(base_of(vfs), handle, symbol);
}
void vfs_dl_close(sqlite3_vfs* vfs, void* handle) { base_of(vfs)->xDlClose(base_of(vfs), handle); }
int vfs_randomness(sqlite3_vfs* vfs, int size, char* out) {
  return base_of(vfs)->xRandomness(base_of(vfs), size, out);
}
int vfs_sleep(sqlite3_vfs* vfs, int microseconds) {
  return base_of(vfs)->xSleep(base_of(vfs), microseconds);
}
int vfs_current_time(sqlite3_vfs* vfs, double* out) {
  return base_of(vfs)->xCurrentTime(base_of(vfs), out);
}
int vfs_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return base_of(vfs)->xGetLastError(base_of(vfs), size, out);
}
int vfs_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return base_of(vfs)->xCurrentTimeInt64(base_of(vfs), out);
}

struct Registered {
  std::string name;
  sqlite3_vfs vfs{};
};

}  // namespace

const char* wal_write_vfs(const char* base_name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Registered>, std::less<>> registered;
  std::lock_guard lock(mutex);
  configure_library();  // before sqlite3_vfs_find, which initialises SQLite
  sqlite3_vfs* base = sqlite3_vfs_find(base_name);
  if (base == nullptr) {
    throw StoreError("sqlite: no VFS named " + std::string(base_name ? base_name : "(default)"));
  }
  if (auto found = registered.find(base->zName); found != registered.end()) {
    return found->second->name.c_str();
  }
  auto entry = std::make_unique<Registered>();
  entry->name = std::string("tmc-wal-write-") + base->zName;
  sqlite3_vfs& vfs = entry->vfs;
  vfs.iVersion = base->iVersion < 2 ? base->iVersion : 2;
  vfs.szOsFile = static_cast<int>(kInnerOffset) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = entry->name.c_str();
  vfs.pAppData = base;
  vfs.xOpen = vfs_open;
  vfs.xDelete = vfs_delete;
  vfs.xAccess = vfs_access;
  vfs.xFullPathname = vfs_full_pathname;
  vfs.xDlOpen = vfs_dl_open;
  vfs.xDlError = vfs_dl_error;
  vfs.xDlSym = vfs_dl_sym;
  vfs.xDlClose = vfs_dl_close;
  vfs.xRandomness = vfs_randomness;
  vfs.xSleep = vfs_sleep;
  vfs.xCurrentTime = vfs_current_time;
  vfs.xGetLastError = vfs_last_error;
  if (vfs.iVersion >= 2) vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  const int rc = sqlite3_vfs_register(&vfs, 0);
  if (rc != SQLITE_OK) throw_sqlite_error(rc, "sqlite: register the WAL-write VFS");
  return registered.emplace(base->zName, std::move(entry)).first->second->name.c_str();
}

}  // namespace tmc::store::sqlite

// Online backup of a live deployment (database snapshot + encrypted blobs) and its restore.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/data_dir.hpp"
#include "store/store.hpp"

namespace tmc::admin {

// A backup is a directory (mode 0700):
//   MANIFEST   "tmc-backup 1" and facts about the copy (schema version, key ids it needs)
//   tmc.db     consistent snapshot of the database (SQLite online backup API)
//   blobs/     the encrypted case-file blobs, copied after the snapshot
// Blob files only grow by appended segments, so every segment the snapshot refers to is in the
// copy. The key-encryption keys (kek.keys) and the audit signing key (audit.key) are never in a
// backup: they are kept apart (key custody) and supplied to restore.
struct BackupSummary {
  int schema_version = 0;
  std::uint64_t database_bytes = 0;
  std::size_t blob_files = 0;
  std::uint64_t blob_bytes = 0;
  std::size_t wrapped_keys = 0;
  std::vector<std::string> key_ids;  // key-encryption keys the wrapped data keys name
};

// Backs up the deployment in data_dir, whose store is open as store (the server may be running
// and writing meanwhile), into out_dir, which must not exist. Throws std::runtime_error (one
// line) on failure, after removing the partial out_dir.
BackupSummary backup(const app::DataDir& data_dir, store::Store& store,
                     const std::filesystem::path& out_dir);

struct RestoreOptions {
  std::filesystem::path from;            // a backup directory
  std::filesystem::path data_dir;        // new data directory: must not exist or be empty
  std::filesystem::path key_file;        // key ring holding every key id the backup needs
  std::filesystem::path audit_key_file;  // optional: the deployment's audit signing key
};

struct RestoreSummary {
  int schema_version = 0;  // after migrations (a backup of an older release is upgraded)
  std::size_t wrapped_keys = 0;
  std::size_t blob_files = 0;
  bool audit_key_restored = false;
};

// Builds a data directory from a backup and a key file. Every wrapped data key in the restored
// database is unwrapped with the supplied keys before restore reports success. Throws
// std::runtime_error (one line) on failure, after removing what it created.
RestoreSummary restore(const RestoreOptions& options);

}  // namespace tmc::admin

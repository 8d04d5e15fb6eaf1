// Online backup of a live deployment (database snapshot + encrypted blobs) and its restore.
#include "backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "audit/signing_key.hpp"
#include "crypto/keyring.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::admin {
namespace fs = std::filesystem;
namespace {

constexpr const char* manifest_magic = "tmc-backup 1";
constexpr const char* manifest_name = "MANIFEST";
constexpr const char* database_name = "tmc.db";
constexpr const char* blobs_name = "blobs";

[[noreturn]] void fail_errno(const std::string& what, const fs::path& path) {
  const int error = errno;
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void fsync_path(const fs::path& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) fail_errno("cannot fsync", path);
}

// Copies from into a new file to (mode 0600) and fsyncs it; false when from has vanished.
bool copy_file_durably(const fs::path& from, const fs::path& to) {
  const Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) return false;
    fail_errno("cannot read", from);
  }
  const Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) fail_errno("cannot create", to);
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(in.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read", from);
    }
    if (got == 0) break;
    for (ssize_t done = 0; done < got;) {
      const ssize_t put = ::write(out.get(), buffer + done, static_cast<std::size_t>(got - done));
      if (put < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot write", to);
      }
      done += put;
    }
  }
  if (::fsync(out.get()) != 0) fail_errno("cannot fsync", to);
  return true;
}

void make_private_directory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0) fail_errno("cannot create directory", path);
}

struct BlobCopy {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
};

// Copies every "<id>.blob" file of from into the new directory to.
BlobCopy copy_blobs(const fs::path& from, const fs::path& to) {
  make_private_directory(to);
  BlobCopy copied;
  if (fs::is_directory(from)) {
    for (const auto& entry : fs::directory_iterator(from)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".blob") continue;
      const auto target = to / entry.path().filename();
      if (!copy_file_durably(entry.path(), target)) continue;  // removed meanwhile (expired)
      copied.files++;
      copied.bytes += fs::file_size(target);
    }
  }
  fsync_path(to);
  return copied;
}

std::vector<store::WrappedKeyRow> wrapped_keys_of(store::Store& store) {
  std::vector<store::WrappedKeyRow> rows;
  store.read([&](store::Tx& tx) { rows = tx.list_wrapped_keys(); });
  return rows;
}

std::unique_ptr<store::Store> open_database(const fs::path& path) {
  store::SqliteOptions options;
  options.path = path.string();
  options.read_connections = 1;
  return store::open_sqlite_store(options);
}

struct Manifest {
  int schema_version = 0;
  std::vector<std::string> key_ids;
};

void write_manifest(const fs::path& path, const BackupSummary& summary) {
  std::ostringstream text;
  text << manifest_magic << '\n'
       << "schema_version " << summary.schema_version << '\n'
       << "database_bytes " << summary.database_bytes << '\n'
       << "blob_files " << summary.blob_files << '\n'
       << "blob_bytes " << summary.blob_bytes << '\n'
       << "wrapped_keys " << summary.wrapped_keys << '\n';
  for (const auto& id : summary.key_ids) text << "key_id " << id << '\n';
  const auto body = text.str();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << body;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  fsync_path(path);
}

Manifest read_manifest(const fs::path& backup_dir) {
  const auto path = backup_dir / manifest_name;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line != manifest_magic) {
    throw std::runtime_error(backup_dir.string() + " is not a tmc backup (no " + manifest_name +
                             " starting '" + manifest_magic + "')");
  }
  Manifest manifest;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    fields >> key >> value;
    if (key == "schema_version") manifest.schema_version = std::atoi(value.c_str());
    if (key == "key_id") manifest.key_ids.push_back(value);
  }
  return manifest;
}

BackupSummary write_backup(const app::DataDir& data_dir, store::Store& store,
                           const fs::path& out_dir) {
  BackupSummary summary;
  const auto database = out_dir / database_name;
  store.backup_to(database.string());  // first the snapshot, then the blobs it refers to
  const auto blobs = copy_blobs(data_dir.blob_dir(), out_dir / blobs_name);
  summary.blob_files = blobs.files;
  summary.blob_bytes = blobs.bytes;
  {
    auto copy = open_database(database);  // proves the copy opens; reads what it needs
    summary.schema_version = copy->schema_version();
    const auto rows = wrapped_keys_of(*copy);
    summary.wrapped_keys = rows.size();
    std::set<std::string> ids;
    for (const auto& row : rows) ids.insert(crypto::KeyRing::key_id_of(row.wrapped_key));
    summary.key_ids.assign(ids.begin(), ids.end());
  }
  summary.database_bytes = fs::file_size(database);
  write_manifest(out_dir / manifest_name, summary);
  fsync_path(out_dir);
  return summary;
}

// Removes a directory this operation created when the operation fails.
class Cleanup {
 public:
  explicit Cleanup(fs::path path) : path_(std::move(path)) {}
  ~Cleanup() {
    if (path_.empty()) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  void keep() { path_.clear(); }

 private:
  fs::path path_;
};

RestoreSummary write_restore(const RestoreOptions& options, const crypto::KeyRing& ring) {
  const app::DataDir target(options.data_dir);
  RestoreSummary summary;
  if (!copy_file_durably(options.from / database_name, target.database())) {
    throw std::runtime_error("backup " + options.from.string() + " has no " + database_name);
  }
  summary.blob_files = copy_blobs(options.from / blobs_name, target.blob_dir()).files;
  ring.save(target.key_file());
  if (!options.audit_key_file.empty()) {
    audit::SigningKey::load(options.audit_key_file);  // refuses a malformed or too open file
    copy_file_durably(options.audit_key_file, target.audit_key_file());
    summary.audit_key_restored = true;
  } else {  // a new key signs from here on; the heads before verify with the old one's public part
    audit::SigningKey::create(target.audit_key_file());
  }
  fsync_path(target.root());

  auto store = target.open_store();  // applies the migrations of this release
  summary.schema_version = store->schema_version();
  const auto rows = wrapped_keys_of(*store);
  std::set<std::string> failing;
  for (const auto& row : rows) {
    if (!ring.unwrap(row.wrapped_key)) failing.insert(crypto::KeyRing::key_id_of(row.wrapped_key));
  }
  if (!failing.empty()) {
    std::string ids;
    for (const auto& id : failing) ids += (ids.empty() ? "" : ", ") + id;
    throw std::runtime_error("the key file cannot unwrap data keys of key id(s) " + ids +
                             "; supply the key file that was in use when the backup was made");
  }
  summary.wrapped_keys = rows.size();
  return summary;
}

}  // namespace

BackupSummary backup(const app::DataDir& data_dir, store::Store& store, const fs::path& out_dir) {
  if (fs::exists(out_dir)) {
    throw std::runtime_error("backup target " + out_dir.string() + " already exists");
  }
  make_private_directory(out_dir);
  Cleanup cleanup(out_dir);
  try {
    auto summary = write_backup(data_dir, store, out_dir);
    cleanup.keep();
    return summary;
  } catch (const store::StoreError& error) {
    throw std::runtime_error(std::string("backup failed: ") + error.what());
  }
}

RestoreSummary restore(const RestoreOptions& options) {
  const auto manifest = read_manifest(options.from);
  if (options.key_file.empty()) {
    throw std::runtime_error("restore needs --key-file (backups never contain the keys)");
  }
  auto ring = crypto::KeyRing::load(options.key_file);
  std::vector<std::string> missing;
  for (const auto& id : manifest.key_ids) {
    if (!ring.has_key(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    std::string ids;
    for (const auto& id : missing) ids += (ids.empty() ? "" : ", ") + id;
    throw std::runtime_error("key file " + options.key_file.string() +
                             " lacks key id(s) the backup needs: " + ids);
  }
  const auto& root = options.data_dir;
  const bool existed = fs::exists(root);
  if (existed && !(fs::is_directory(root) && fs::is_empty(root))) {
    throw std::runtime_error("restore target " + root.string() + " exists and is not empty");
  }
  if (existed) {
    ::chmod(root.c_str(), 0700);
  } else {
    make_private_directory(root);
  }
  // On failure remove what restore made: the whole directory, or the contents of an empty one.
  Cleanup cleanup(existed ? fs::path() : root);
  try {
    auto summary = write_restore(options, ring);
    cleanup.keep();
    return summary;
  } catch (const std::exception& error) {
    if (existed) {
      std::error_code ignored;
      for (const auto& entry : fs::directory_iterator(root, ignored)) {
        fs::remove_all(entry.path(), ignored);
      }
    }
    throw std::runtime_error(std::string("restore failed: ") + error.what());
  }
}

}  // namespace tmc::admin

// Layout of a tmc data directory and its initialisation (database, key file, blob directory).
#include "app/data_dir.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include "audit/signing_key.hpp"
#include "store/postgres/postgres_blob_store.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::app {
namespace {

store::PostgresOptions postgres_options(const std::string& uri) {
  store::PostgresOptions options;
  options.conninfo = uri;
  return options;
}

}  // namespace

void DataDir::initialize(const std::string& store) const {
  std::filesystem::create_directories(root_);
  ::chmod(root_.c_str(), 0700);
  if (std::filesystem::exists(key_file())) {
    throw std::runtime_error("data directory " + root_.string() +
                             " is already initialised (key file exists)");
  }
  if (!store::is_postgres_uri(store)) std::filesystem::create_directories(blob_dir());
  // Creates the database (or the tables) and applies migrations. A database that already holds
  // a deployment's records (another node's, on PostgreSQL) needs that deployment's keys: new
  // ones could unwrap none of its data and would sign heads no verification trusts.
  bool in_use = false;
  open_store(store)->read([&](store::Tx& tx) {
    in_use = !tx.list_audit_records(0, 1).empty() || !tx.list_wrapped_keys().empty();
  });
  if (in_use) {
    throw std::runtime_error(
        "the database already holds a deployment's data: copy kek.keys and audit.key from a node"
        " that uses it into " + root_.string() + " instead of running init");
  }
  crypto::KeyRing::create(key_file());
  audit::SigningKey::create(audit_key_file());
}

audit::SigningKey DataDir::load_audit_key(store::Store& store) const {
  if (std::filesystem::exists(audit_key_file())) return audit::SigningKey::load(audit_key_file());
  bool signed_before = false;
  store.read([&](store::Tx& tx) { signed_before = tx.latest_audit_head().has_value(); });
  if (signed_before) {
    throw std::runtime_error(
        "no audit key at " + audit_key_file().string() +
        ", but the audit log has heads signed by one: copy the deployment's audit.key there"
        " (mode 0600; see the operations guide, key custody)");
  }
  return audit::SigningKey::create(audit_key_file());
}

crypto::KeyRing DataDir::load_key_ring() const {
  if (!std::filesystem::exists(key_file())) {
    throw std::runtime_error("no key file at " + key_file().string() +
                             "; run 'tmc-admin --data-dir " + root_.string() + " init'");
  }
  return crypto::KeyRing::load(key_file());
}

std::unique_ptr<store::Store> DataDir::open_store(const std::string& store) const {
  if (!std::filesystem::is_directory(root_)) {
    throw std::runtime_error("data directory " + root_.string() +
                             " does not exist; run 'tmc-admin --data-dir " + root_.string() +
                             " init'");
  }
  if (store::is_postgres_uri(store)) return store::open_postgres_store(postgres_options(store));
  store::SqliteOptions options;
  options.path = database().string();
  return store::open_sqlite_store(options);
}

std::unique_ptr<blob::BlobStore> DataDir::open_blob_store(const std::string& store) const {
  if (store::is_postgres_uri(store)) {
    return store::open_postgres_blob_store(postgres_options(store));
  }
  return blob::open_directory_blob_store(blob_dir());
}

}  // namespace tmc::app

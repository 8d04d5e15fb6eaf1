// Layout of a tmc data directory and its initialisation (database, key file, blob directory).
#include "app/data_dir.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include "audit/signing_key.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::app {

void DataDir::initialize() const {
  std::filesystem::create_directories(root_);
  ::chmod(root_.c_str(), 0700);
  if (std::filesystem::exists(key_file())) {
    throw std::runtime_error("data directory " + root_.string() +
                             " is already initialised (key file exists)");
  }
  std::filesystem::create_directories(blob_dir());
  crypto::KeyRing::create(key_file());
  audit::SigningKey::create(audit_key_file());
  open_store();  // creates the database and applies migrations
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
  if (store::is_postgres_uri(store)) {
    store::PostgresOptions options;
    options.conninfo = store;
    return store::open_postgres_store(options);
  }
  store::SqliteOptions options;
  options.path = database().string();
  return store::open_sqlite_store(options);
}

}  // namespace tmc::app

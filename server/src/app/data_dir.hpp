// Layout of a tmc data directory and its initialisation (database, key file, blob directory).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "audit/signing_key.hpp"
#include "blob/blob_store.hpp"
#include "crypto/keyring.hpp"
#include "store/store.hpp"

namespace tmc::app {

class DataDir {
 public:
  explicit DataDir(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path database() const { return root_ / "tmc.db"; }
  std::filesystem::path key_file() const { return root_ / "kek.keys"; }
  std::filesystem::path blob_dir() const { return root_ / "blobs"; }
  // Ed25519 key signing audit tree heads (mode 0600); made by initialize(), or by the first
  // start of a deployment initialised before the audit log existed.
  std::filesystem::path audit_key_file() const { return root_ / "audit.key"; }
  // The audit signing key, made if it is missing and store's audit log has no signed head yet.
  // Missing while heads exist (a node or a restore without the deployment's key), it throws
  // std::runtime_error instead: a new key would sign heads no verification trusts.
  audit::SigningKey load_audit_key(store::Store& store) const;

  // Creates the directory (mode 0700), a new key-encryption key file (0600) and the database
  // with every migration applied: tmc.db and the blob directory for "sqlite", the tables in
  // the PostgreSQL database for a postgresql:// store. Refuses (std::runtime_error) if a key
  // file already exists, so an existing deployment's keys are never overwritten, or if the
  // database already holds records or wrapped keys (another node's deployment: copy its keys).
  void initialize(const std::string& store = "sqlite") const;

  // Opens the existing deployment: the key ring (mode checked) and the store (migrations
  // applied). Throws std::runtime_error with one line naming the problem.
  // store is "sqlite" (tmc.db in this directory) or a postgresql:// URI (see Config::store);
  // the key ring and blobs stay in this directory either way.
  crypto::KeyRing load_key_ring() const;
  std::unique_ptr<store::Store> open_store(const std::string& store = "sqlite") const;

  // Where case-file segments live: the PostgreSQL database when store is a postgresql:// URI
  // (every node of a cluster reads what any node wrote), else blob_dir(). Throws
  // blob::BlobStoreError when the storage cannot be opened.
  std::unique_ptr<blob::BlobStore> open_blob_store(const std::string& store = "sqlite") const;

 private:
  std::filesystem::path root_;
};

}  // namespace tmc::app

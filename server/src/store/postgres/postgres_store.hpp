// The PostgreSQL backend of the Store: one group-commit writer connection, a pool of readers.
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace tmc::store {

struct PostgresOptions {
  std::string conninfo;  // libpq connection string or URI, e.g. postgresql://host/db
  std::string schema;    // tables live in this schema (created when missing); empty = default
  int read_connections = 4;
  int max_batch = 256;  // most write ops per transaction
};

// Connects, applies missing migrations (the same numbering as SQLite) and returns the store.
// Every connection runs with synchronous_commit = on, so a write's caller learns of success
// only after the commit is durable on the server. Throws StoreError when the server cannot be
// reached, a migration fails, or the schema was written by a newer server.
//
// Threading: as for every Store, read() and write() block on network I/O and must never run on
// an io thread; writes run on the store's writer thread, reads on the calling thread with a
// pooled connection. A connection lost while idle is re-established when the next transaction
// begins; one lost mid-transaction fails it with StoreError. Serialization failures and deadlocks
// with other nodes fail the batch with StoreError, as SQLite's busy does.
// Destroying the store runs every write already queued, then closes the connections.
std::unique_ptr<Store> open_postgres_store(const PostgresOptions& options);

// True for a --store value naming PostgreSQL (postgresql:// or postgres:// URI).
bool is_postgres_uri(const std::string& value);

}  // namespace tmc::store

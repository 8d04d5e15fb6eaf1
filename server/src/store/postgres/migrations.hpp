// Numbered schema migrations for the PostgreSQL backend, applied at start-up.
#pragma once

#include <string>

#include "store/postgres/connection.hpp"

namespace tmc::store::postgres {

// Highest schema version this code knows (the same numbering as the SQLite backend).
int latest_schema_version();

// Creates schema (when not empty) and schema_migrations if missing, then applies every missing
// migration, each in its own transaction under an advisory lock (several nodes may start at
// once), recording it in schema_migrations; returns the resulting version. Throws StoreError
// when the database already has a version this code does not know (written by a newer server)
// or when a migration fails (that migration is rolled back).
int apply_migrations(Connection& connection, const std::string& schema);

}  // namespace tmc::store::postgres

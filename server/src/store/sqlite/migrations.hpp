// Numbered schema migrations for the SQLite backend, applied at start-up.
#pragma once

#include "store/sqlite/connection.hpp"

namespace tmc::store::sqlite {

// Highest schema version this code knows.
int latest_schema_version();

// Applies every missing migration, each in its own transaction, recording it in
// schema_migrations, and returns the resulting version. Throws StoreError when the database
// already has a version this code does not know (it was written by a newer server) or when a
// migration fails (that migration is rolled back).
int apply_migrations(Connection& connection);

}  // namespace tmc::store::sqlite

// The audit log's search tables on SQLite, filled in bulk rather than on every commit.
#pragma once

#include <cstdint>

#include "store/sqlite/connection.hpp"

namespace tmc::store::sqlite {

// Why not plain indexes: an index on audit_records(actor_id, ...) and one on
// (patient_reference, ...) put one hot B-tree leaf per actor and per patient in every commit, so
// each chat message's commit rewrote about two more WAL pages than it needed. Instead
// audit_by_actor and audit_by_patient (migration 8) are filled in chunks of records by the
// writer (see SqliteBatchBackend); audit_indexed.next_idx says where the indexed part ends. A search reads the search table for
// the indexed part and scans the records from next_idx on, so every record is always found.

// Records appended but not yet in the search tables.
std::int64_t unindexed_audit_records(Connection& db);

// Adds the next records (at most limit) to the search tables and moves next_idx past them.
// Call inside a write transaction. Returns how many records it indexed.
std::int64_t index_audit_records(Connection& db, std::int64_t limit);

}  // namespace tmc::store::sqlite

// Case-file segments in PostgreSQL (table blob_segments): the BlobStore of multi-node deployments.
#pragma once

#include <memory>

#include "blob/blob_store.hpp"
#include "store/postgres/postgres_store.hpp"

namespace tmc::store {

// Connects (options.conninfo and options.schema, up to options.read_connections connections
// opened on demand), applies missing migrations and returns the store. Throws
// blob::BlobStoreError when the server cannot be reached or the schema cannot be migrated.
//
// Each segment is one row committed with synchronous_commit = on, so put_segment, truncate and
// remove are durable on the server when they return. The primary key (blob_id, idx) decides
// races between nodes: of two puts of the same index exactly one stores its bytes, the other
// throws BlobStoreError. A connection lost while idle (server restart, terminated backend) is
// re-established and the statement sent once more; a put whose first attempt may have
// committed counts as done only if the stored bytes are its own. Error messages name blob ids
// and segment indexes, never segment bytes.
//
// Thread-safe: every call checks a connection out of the store's own pool.
std::unique_ptr<blob::BlobStore> open_postgres_blob_store(const PostgresOptions& options);

}  // namespace tmc::store

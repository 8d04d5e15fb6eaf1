// PostgreSQL BlobStore: one row per sealed segment, autocommitted statements on pooled connections.
#include "store/postgres/postgres_blob_store.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "store/connection_pool.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/migrations.hpp"

namespace tmc::store {
namespace {

using blob::BlobStoreError;
using postgres::Bytes;
using postgres::Connection;
using postgres::ConnectionSettings;
using postgres::Params;

// Segments are gapless (puts append, truncate drops a suffix), so the next index is max + 1.
// The count is checked in the same statement as the insert; the primary key settles two nodes
// appending the same index at once: the later insert waits for the earlier one's commit and
// then inserts nothing.
constexpr std::string_view append_sql = R"sql(
INSERT INTO blob_segments (blob_id, idx, sealed)
SELECT $1::text, $2::integer, $3::bytea
WHERE (SELECT coalesce(max(idx) + 1, 0) FROM blob_segments WHERE blob_id = $1::text) = $2::integer
ON CONFLICT (blob_id, idx) DO NOTHING)sql";

constexpr std::string_view holds_sql =
    "SELECT sealed = $3::bytea FROM blob_segments WHERE blob_id = $1::text AND idx = $2::integer";

constexpr std::string_view get_sql =
    "SELECT sealed FROM blob_segments WHERE blob_id = $1::text AND idx = $2::integer";

constexpr std::string_view count_sql =
    "SELECT coalesce(max(idx) + 1, 0)::bigint FROM blob_segments WHERE blob_id = $1::text";

constexpr std::string_view truncate_sql =
    "DELETE FROM blob_segments WHERE blob_id = $1::text AND idx >= $2::bigint";

constexpr std::string_view remove_sql = "DELETE FROM blob_segments WHERE blob_id = $1::text";

// octet_length of an uncompressed (STORAGE EXTERNAL) value is read from the TOAST pointer,
// without fetching the segment.
constexpr std::string_view bytes_sql =
    "SELECT coalesce(sum(octet_length(sealed)), 0)::bigint FROM blob_segments "
    "WHERE blob_id = $1::text";

// Segment indexes the integer column can hold.
constexpr std::uint32_t max_index = std::numeric_limits<std::int32_t>::max();

void check_id(const std::string& blob_id) {
  if (!blob::valid_blob_id(blob_id)) throw std::invalid_argument("invalid blob id");
}

class PostgresBlobStore final : public blob::BlobStore {
 public:
  explicit PostgresBlobStore(const PostgresOptions& options)
      : settings_{options.conninfo, options.schema},
        pool_(options.read_connections,
              [settings = settings_] { return std::make_unique<Connection>(settings); }) {
    try {
      Connection connection(settings_);
      postgres::apply_migrations(connection, options.schema);
    } catch (const StoreError& e) {
      throw BlobStoreError(std::string("postgres blob store: ") + e.what());
    }
  }

  void put_segment(const std::string& blob_id, std::uint32_t index,
                   std::string_view sealed) override {
    check_id(blob_id);
    if (sealed.size() > blob::max_stored_segment_size) {
      throw BlobStoreError("segment too large for blob " + blob_id);
    }
    if (index > max_index) {
      throw BlobStoreError("segment index " + std::to_string(index) + " too large for blob " +
                           blob_id);
    }
    const auto params = Params::of(blob_id, static_cast<std::int64_t>(index), Bytes{sealed});
    const bool appended = run("put segment", blob_id, [&](Connection& db, bool retried) {
      if (db.query(append_sql, params).affected() == 1) return true;
      // The first attempt may have committed before its connection was lost: the segment is
      // ours if it holds exactly these bytes (sealed segments carry a random nonce).
      if (retried) {
        const auto held = db.query(holds_sql, params);
        return !held.empty() && held.int64(0, 0) != 0;
      }
      return false;
    });
    if (!appended) {
      throw BlobStoreError("segment " + std::to_string(index) + " out of order for blob " +
                           blob_id + " holding " + std::to_string(segment_count(blob_id)));
    }
  }

  std::optional<std::string> get_segment(const std::string& blob_id, std::uint32_t index) override {
    check_id(blob_id);
    if (index > max_index) return std::nullopt;
    return run("get segment", blob_id, [&](Connection& db, bool) -> std::optional<std::string> {
      const auto result = db.query(get_sql, Params::of(blob_id, static_cast<std::int64_t>(index)));
      if (result.empty()) return std::nullopt;
      return result.bytes(0, 0);
    });
  }

  std::uint32_t segment_count(const std::string& blob_id) override {
    check_id(blob_id);
    return run("count segments", blob_id, [&](Connection& db, bool) {
      return static_cast<std::uint32_t>(db.query(count_sql, Params::of(blob_id)).int64(0, 0));
    });
  }

  void truncate(const std::string& blob_id, std::uint32_t count) override {
    check_id(blob_id);
    run("truncate", blob_id, [&](Connection& db, bool) {
      db.query(truncate_sql, Params::of(blob_id, static_cast<std::int64_t>(count)));
      return true;
    });
  }

  void remove(const std::string& blob_id) override {
    check_id(blob_id);
    run("remove", blob_id, [&](Connection& db, bool) {
      db.query(remove_sql, Params::of(blob_id));
      return true;
    });
  }

  std::uint64_t stored_bytes(const std::string& blob_id) override {
    check_id(blob_id);
    return run("stored bytes", blob_id, [&](Connection& db, bool) {
      return static_cast<std::uint64_t>(db.query(bytes_sql, Params::of(blob_id)).int64(0, 0));
    });
  }

 private:
  // Runs body(connection, retried) on a pooled connection. A connection that died while idle
  // fails its first statement; it is re-established and body runs once more with retried set
  // (every body is safe to repeat). Failures become BlobStoreError naming the operation and
  // blob; StoreError messages never carry parameter values.
  template <class Body>
  std::invoke_result_t<Body&, Connection&, bool> run(const char* what, const std::string& blob_id,
                                                     Body body) {
    try {
      auto lease = pool_.checkout();
      Connection& db = lease.connection();
      db.ensure_open();
      try {
        return body(db, false);
      } catch (const StoreError&) {
        db.ensure_open();
        return body(db, true);
      }
    } catch (const StoreError& e) {
      throw BlobStoreError(std::string("postgres blob store: ") + what + " of blob " + blob_id +
                           ": " + e.what());
    }
  }

  ConnectionSettings settings_;
  ConnectionPool<Connection> pool_;
};

}  // namespace

std::unique_ptr<blob::BlobStore> open_postgres_blob_store(const PostgresOptions& options) {
  return std::make_unique<PostgresBlobStore>(options);
}

}  // namespace tmc::store

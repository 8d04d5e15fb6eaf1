// PostgreSQL Store: read pool (snapshot per read), write connection driven by the group-commit
// writer.
#include "store/postgres/postgres_store.hpp"

#include <utility>
#include <vector>

#include "store/connection_pool.hpp"
#include "store/group_commit.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/event_waiter.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/postgres_tx.hpp"

namespace tmc::store {
namespace {

using postgres::Connection;
using postgres::ConnectionSettings;
using postgres::PostgresTx;

ConnectionSettings settings_of(const PostgresOptions& options) {
  return ConnectionSettings{options.conninfo, options.schema};
}

void rollback_quietly(Connection& db) noexcept {
  if (!db.in_transaction()) return;
  try {
    db.exec("ROLLBACK");
  } catch (const StoreError&) {
    // A broken connection is re-established on its next use.
  }
}

// The batch transaction primitives on the single write connection.
class PostgresBatchBackend final : public BatchBackend {
 public:
  explicit PostgresBatchBackend(Connection& connection) : db_(connection) {}

  // Every node's writer takes the same transaction-scoped lock first, so write transactions
  // run one at a time across the cluster, as SQLite's single writer runs them on one machine.
  // The domain's read-decide-write steps (first accept wins, slot capacity, upload offsets,
  // deadlines and reminders decided once) therefore hold across nodes, and event ids are
  // committed in id order. Group commit keeps the cost to one lock per batch.
  void begin() override {
    db_.begin("BEGIN ISOLATION LEVEL READ COMMITTED");
    // Keyed by schema: deployments (or test runs) in other schemas of the database go on.
    db_.query("SELECT pg_advisory_xact_lock(hashtext('tmc writer ' || current_schema()))");
  }
  void commit() override {
    // COMMIT of a transaction that failed reports success with the tag ROLLBACK.
    if (db_.exec("COMMIT") != "COMMIT") throw StoreError("postgres: batch was rolled back");
  }
  void rollback() noexcept override { rollback_quietly(db_); }
  void savepoint() override { db_.exec("SAVEPOINT op"); }
  void release_savepoint() override { db_.exec("RELEASE SAVEPOINT op"); }
  void rollback_to_savepoint() override {
    db_.exec("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op");
  }

 private:
  Connection& db_;
};

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const PostgresOptions& options)
      : settings_(settings_of(options)),
        write_connection_(settings_),
        schema_version_(postgres::apply_migrations(write_connection_, options.schema)),
        readers_(
            options.read_connections,
            [settings = settings_of(options)] { return std::make_unique<Connection>(settings); }),
        write_tx_(write_connection_, true),
        backend_(write_connection_),
        writer_(backend_, options.max_batch > 0 ? static_cast<std::size_t>(options.max_batch) : 1) {
  }

  ~PostgresStore() override { writer_.stop(); }

  void read(const std::function<void(Tx&)>& fn) override {
    auto lease = readers_.checkout();
    auto& db = lease.connection();
    // One snapshot for the whole callback, as a SQLite read transaction gives.
    db.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      PostgresTx tx(db, false);
      fn(tx);
      db.exec("COMMIT");
    } catch (...) {
      rollback_quietly(db);
      throw;
    }
  }

  bool write(WriteOp op) override { return writer_.write(bind_op(std::move(op))); }

  void write_async(WriteOp op, std::function<void(bool, std::exception_ptr)> done) override {
    writer_.write_async(bind_op(std::move(op)), std::move(done));
  }

  void set_completion_handoff(CompletionHandoff handoff) override {
    writer_.set_completion_handoff(std::move(handoff));
  }

  void set_batch_tail(BatchTail* tail) override {
    writer_.set_tail(writer_tail(tail, [this](WriteOp op) { return bind_op(std::move(op)); }));
  }

  int schema_version() override { return schema_version_; }

  WriterStats writer_stats() const override { return writer_.stats(); }

  std::unique_ptr<EventWaiter> open_event_waiter() override {
    return postgres::open_event_waiter(settings_);
  }

 private:
  GroupCommitWriter::BatchOp bind_op(WriteOp op) {
    return [this, op = std::move(op)] { return op(write_tx_); };
  }

  ConnectionSettings settings_;
  Connection write_connection_;  // used only by the writer thread once construction is done
  int schema_version_;
  ConnectionPool<Connection> readers_;
  PostgresTx write_tx_;
  PostgresBatchBackend backend_;
  GroupCommitWriter writer_;  // last: its thread starts once everything above exists
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const PostgresOptions& options) {
  return std::make_unique<PostgresStore>(options);
}

bool is_postgres_uri(const std::string& value) {
  return value.starts_with("postgresql://") || value.starts_with("postgres://");
}

}  // namespace tmc::store

// PostgreSQL backend: runs the store contract suite, plus migration and session-setting checks.
// The server comes from TMC_TEST_POSTGRES (a libpq URI; `./tmc test` starts a throw-away cluster
// and sets it). Without it the tests are skipped, unless TMC_REQUIRE_POSTGRES=1 (set by
// `./tmc test`), which makes them fail: the suite must not pass silently without PostgreSQL.
#include "store/postgres/postgres_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/postgres/connection.hpp"
#include "store/postgres/migrations.hpp"
#include "postgres_test_schema.hpp"
#include "store_contract.hpp"

namespace tmc::store::testing {
namespace {

using postgres::Connection;
using postgres::ConnectionSettings;

// The server under test, or throws (BackendUnavailable to skip, StoreError to fail).
std::string test_conninfo() {
  try {
    return tmc::testing::test_postgres_conninfo();
  } catch (const tmc::testing::PostgresUnavailable& e) {
    throw BackendUnavailable(e.what());
  } catch (const std::runtime_error& e) {
    throw StoreError(e.what());
  }
}

// Schemas this process created, dropped when the test program ends.
class SchemaRegistry : public ::testing::Environment {
 public:
  static SchemaRegistry& instance() {
    static auto* registry =
        static_cast<SchemaRegistry*>(::testing::AddGlobalTestEnvironment(new SchemaRegistry));
    return *registry;
  }

  void add(const std::string& schema) {
    std::lock_guard lock(mutex_);
    schemas_.insert(schema);
  }

  void TearDown() override {
    std::lock_guard lock(mutex_);
    if (schemas_.empty()) return;
    PGconn* connection = PQconnectdb(test_conninfo().c_str());
    if (PQstatus(connection) == CONNECTION_OK) {
      PQclear(PQexec(connection, "SET client_min_messages = warning"));  // no cascade notices
      for (const auto& schema : schemas_) {
        const std::string sql = "DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE";
        PQclear(PQexec(connection, sql.c_str()));
      }
    }
    PQfinish(connection);
    schemas_.clear();
  }

 private:
  std::mutex mutex_;
  std::set<std::string> schemas_;
};

// One schema per test directory, so every test starts empty and reopening finds the same data.
std::string schema_for(const std::string& dir) {
  constexpr char hex[] = "0123456789abcdef";
  std::string schema = "tmc_test_";
  for (unsigned char ch : std::filesystem::path(dir).filename().string()) {
    schema += hex[ch >> 4];
    schema += hex[ch & 0x0f];
  }
  return schema;
}

PostgresOptions options_for(const std::string& dir) {
  PostgresOptions options;
  options.conninfo = test_conninfo();
  options.schema = schema_for(dir);
  SchemaRegistry::instance().add(options.schema);
  return options;
}

std::unique_ptr<Store> open_in(const std::string& dir) {
  return open_postgres_store(options_for(dir));
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract,
                         ::testing::Values(StoreBackend{"Postgres", open_in}), backend_name);

// Direct access to the server, bypassing the store, to inspect and tamper with a schema.
class RawServer {
 public:
  explicit RawServer(const std::string& schema)
      : connection_(PQconnectdb(test_conninfo().c_str())) {
    if (PQstatus(connection_) != CONNECTION_OK) {
      ADD_FAILURE() << "cannot connect: " << PQerrorMessage(connection_);
      return;
    }
    exec("SET search_path = \"" + schema + "\"");
  }
  ~RawServer() { PQfinish(connection_); }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  void exec(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
    PQclear(result);
  }

  // First column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> values;
    PGresult* result = PQexec(connection_, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << PQresultErrorMessage(result);
    } else {
      for (int row = 0; row < PQntuples(result); ++row) {
        values.emplace_back(PQgetvalue(result, row, 0));
      }
    }
    PQclear(result);
    return values;
  }

 private:
  PGconn* connection_;
};

// Skips (or, under ./tmc test, fails) the non-contract tests the same way the suite does.
class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      options_ = options_for(dir_.path());
    } catch (const BackendUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
  }

  TempDir dir_;
  PostgresOptions options_;
};

TEST_F(PostgresStoreTest, MigratesAnEmptySchema) {
  {
    auto store = open_postgres_store(options_);
    EXPECT_EQ(store->schema_version(), postgres::latest_schema_version());
  }
  RawServer raw(options_.schema);
  const auto versions = raw.column("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(postgres::latest_schema_version()));
  EXPECT_EQ(versions.front(), "1");
  const auto tables = raw.column(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()");
  for (const char* table :
       {"organizations", "pairings", "users", "user_specialties", "password_hashes", "sessions",
        "consultations", "consultation_participants", "consultation_candidates", "consultation_log",
        "uploads", "case_files", "slots", "appointments", "audit_records", "audit_heads",
        "user_totp"}) {
    EXPECT_NE(std::find(tables.begin(), tables.end(), table), tables.end()) << table;
  }
}

TEST_F(PostgresStoreTest, ReopeningAppliesNothingAndKeepsData) {
  {
    auto store = open_postgres_store(options_);
    ASSERT_TRUE(store->write([](Tx& tx) {
      return tx.insert_organization(
          {"county", "County", OrganizationKind::county_hospital, "r", "Asia/Urumqi"});
    }));
  }
  const std::string history =
      "SELECT version || '@' || applied_at FROM schema_migrations ORDER BY version";
  const auto before = RawServer(options_.schema).column(history);
  {
    auto store = open_postgres_store(options_);
    EXPECT_EQ(store->schema_version(), postgres::latest_schema_version());
    bool found = false;
    store->read([&](Tx& tx) { found = tx.find_organization("county").has_value(); });
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(RawServer(options_.schema).column(history), before);
}

TEST_F(PostgresStoreTest, RefusesASchemaFromANewerServer) {
  open_postgres_store(options_).reset();
  const int future = postgres::latest_schema_version() + 1;
  RawServer(options_.schema)
      .exec("INSERT INTO schema_migrations(version) VALUES (" + std::to_string(future) + ")");
  try {
    open_postgres_store(options_);
    FAIL() << "opened a schema with an unknown version";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// Migration 11 moves the sealed texts out of the consultation's row (see SQLite's): a schema at
// version 10 keeps every consultation's texts, and they are read and kept as ever.
class PostgresTextsMigration : public StoreContract {};
INSTANTIATE_TEST_SUITE_P(Postgres, PostgresTextsMigration,
                         ::testing::Values(StoreBackend{"Postgres", open_in}), backend_name);

TEST_P(PostgresTextsMigration, SchemaTenConsultationsKeepTheirTexts) {
  const auto originals = store_consultations_with_long_texts();
  const auto schema = schema_for(dir_->path());
  const std::string text_columns =
      "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
      " AND table_name = 'consultations' AND column_name LIKE 'sealed_%'";
  {
    // Back to schema 10: the texts in the consultation's row.
    RawServer raw(schema);
    raw.exec(
        "ALTER TABLE consultations ADD COLUMN sealed_question bytea,"
        " ADD COLUMN sealed_summary bytea, ADD COLUMN sealed_report bytea;"
        " UPDATE consultations c SET sealed_question = t.sealed_question,"
        " sealed_summary = t.sealed_summary, sealed_report = t.sealed_report"
        " FROM consultation_texts t WHERE t.consultation_id = c.id;"
        " ALTER TABLE consultations ALTER COLUMN sealed_question SET NOT NULL,"
        " ALTER COLUMN sealed_summary SET NOT NULL, ALTER COLUMN sealed_report SET NOT NULL;"
        " DROP TABLE consultation_texts;"
        " DELETE FROM schema_migrations WHERE version = 11");
    ASSERT_EQ(raw.column(text_columns).size(), 3u);
  }
  expect_texts_whole_after_reopening(originals);
  EXPECT_EQ(store_->schema_version(), postgres::latest_schema_version());
  EXPECT_EQ(RawServer(schema).column(text_columns), std::vector<std::string>{});
}

TEST_F(PostgresStoreTest, UnreachableServerIsAStoreError) {
  PostgresOptions options = options_;
  // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
  options.conninfo = "postgresql://127.0.0.1:1/postgres?connect_timeout=5";
  EXPECT_THROW(open_postgres_store(options), StoreError);
}

// Adds name=value to a libpq URI or key=value string.
std::string with_parameter(const std::string& conninfo, const std::string& name,
                           const std::string& value) {
  const char* separator = conninfo.find("://") == std::string::npos ? " "
                          : conninfo.find('?') != std::string::npos ? "&"
                                                                    : "?";
  return conninfo + separator + name + "=" + value;
}

// Adds application_name, so a test can end the sessions of one store and no one else's.
std::string with_application(const std::string& conninfo, const std::string& application) {
  return with_parameter(conninfo, "application_name", application);
}

// A server that stops answering (a silent network drop) is given up on within about a minute,
// not after the kernel's TCP timeouts, unless the connection string says otherwise.
TEST_F(PostgresStoreTest, ConnectionsGiveUpOnAServerThatStopsAnswering) {
  const Connection defaults(ConnectionSettings{options_.conninfo, {}});
  EXPECT_EQ(defaults.option("keepalives"), "1");
  EXPECT_EQ(defaults.option("keepalives_idle"), "30");
  EXPECT_EQ(defaults.option("keepalives_interval"), "10");
  EXPECT_EQ(defaults.option("keepalives_count"), "3");
  EXPECT_EQ(defaults.option("tcp_user_timeout"), "60000");
  EXPECT_EQ(defaults.option("connect_timeout"), "10");
  const Connection chosen(
      ConnectionSettings{with_parameter(options_.conninfo, "keepalives_idle", "5"), {}});
  EXPECT_EQ(chosen.option("keepalives_idle"), "5");
  EXPECT_EQ(chosen.option("keepalives"), "1");
}

// A database that cannot hold Chinese text is refused when the store connects, not at the first
// request that carries some.
TEST_F(PostgresStoreTest, ADatabaseThatCannotHoldUnicodeTextIsRefused) {
  const std::string database = "tmc_test_latin1";
  RawServer server(options_.schema);
  server.exec("DROP DATABASE IF EXISTS " + database);
  server.exec("CREATE DATABASE " + database +
              " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
  try {
    const Connection connection(
        ConnectionSettings{with_parameter(options_.conninfo, "dbname", database), {}});
    ADD_FAILURE() << "a LATIN1 database was taken";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("encoding is LATIN1"), std::string::npos)
        << error.what();
  }
  server.exec("DROP DATABASE " + database);
}

// Sets one server setting for the connection's sessions (libpq's `options`), in the
// connection string's own form.
std::string with_server_setting(const std::string& conninfo, const std::string& name,
                                const std::string& value) {
  if (conninfo.find("://") != std::string::npos) {
    return with_parameter(conninfo, "options", "-c%20" + name + "%3D" + value);
  }
  return with_parameter(conninfo, "options", "'-c " + name + "=" + value + "'");
}

std::string statement_timeout_of(Connection& connection) {
  return connection.query("SHOW statement_timeout").bytes(0, 0);
}

// A statement that never ends (here: waiting for a lock an operator's open transaction holds)
// fails after the sessions' timeout instead of holding the writer, and every write behind it,
// for good. The default is a minute; an operator's own setting is kept.
TEST_F(PostgresStoreTest, AStatementThatNeverEndsFailsAfterTheTimeout) {
  Connection defaults(ConnectionSettings{options_.conninfo, {}});
  EXPECT_EQ(statement_timeout_of(defaults), "1min");
  Connection chosen(ConnectionSettings{
      with_server_setting(options_.conninfo, "statement_timeout", "5s"), {}});
  EXPECT_EQ(statement_timeout_of(chosen), "5s");

  options_.conninfo = with_server_setting(options_.conninfo, "statement_timeout", "300ms");
  auto store = open_postgres_store(options_);
  const auto insert = [&](const char* id) {
    return store->write([id](Tx& tx) {
      return tx.insert_organization({id, id, OrganizationKind::county_hospital, "r", "UTC"});
    });
  };
  RawServer operator_session(options_.schema);
  operator_session.exec("BEGIN");
  operator_session.exec("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE");
  EXPECT_THROW(insert("blocked"), StoreError);
  operator_session.exec("ROLLBACK");
  EXPECT_TRUE(insert("after"));
}

// Ends every session named application; returns how many.
std::string end_sessions_of(const std::string& schema, const std::string& application) {
  const auto ended =
      RawServer(schema).column("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))"
                               " FROM pg_stat_activity WHERE application_name = '" +
                               application + "'");
  return ended.empty() ? "" : ended.front();
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerEndedItsSessions) {
  const std::string application = options_.schema;
  options_.conninfo = with_application(options_.conninfo, application);
  auto store = open_postgres_store(options_);
  auto insert = [&](const char* id) {
    return store->write([id](Tx& tx) {
      return tx.insert_organization({id, id, OrganizationKind::county_hospital, "r", "UTC"});
    });
  };
  auto count = [&] {
    std::size_t n = 0;
    store->read([&](Tx& tx) { n = tx.list_organizations().size(); });
    return n;
  };
  ASSERT_TRUE(insert("first"));
  ASSERT_EQ(count(), 1u);

  // What a server restart or failover does to the idle writer and reader sessions.
  ASSERT_EQ(end_sessions_of(options_.schema, application), "2");

  EXPECT_TRUE(insert("second"));
  EXPECT_EQ(count(), 2u);
}

// ---- the cluster event log: another node's commits wake this node's waiter ----

EventRow event_for(const std::string& recipient) {
  EventRow row;
  row.origin = "other_node";
  row.created_at = TimePoint{std::chrono::seconds(1'800'000'000)};
  row.recipients = {recipient};
  row.wrapped_key = "k";
  row.sealed_event = "e";
  return row;
}

// Waits until the waiter reports a notification; false if none came in 30 s.
bool woken(EventWaiter& waiter) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waiter.wait(std::chrono::milliseconds(500))) return true;
  }
  return false;
}

TEST_F(PostgresStoreTest, CommittedEventWakesTheOtherNodesWaiter) {
  auto this_node = open_postgres_store(options_);
  auto other_node = open_postgres_store(options_);
  auto waiter = this_node->open_event_waiter();
  ASSERT_NE(waiter, nullptr);
  ASSERT_TRUE(waiter->wait(std::chrono::milliseconds(0)));  // first call: listening now

  // A rolled-back event notifies no one: the commit that follows is what wakes the waiter,
  // and by then exactly one row is there.
  other_node->write([](Tx& tx) {
    tx.append_event(event_for("usr_rolled_back"));
    return false;
  });
  other_node->write([](Tx& tx) {
    tx.append_event(event_for("usr_kept"));
    return true;
  });
  ASSERT_TRUE(woken(*waiter));
  std::vector<EventRow> rows;
  this_node->read([&](Tx& tx) { rows = tx.list_events_after(0, 10); });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].recipients, std::vector<std::string>{"usr_kept"});
}

TEST_F(PostgresStoreTest, WaiterReconnectsAndReportsThatEventsMayHaveBeenMissed) {
  const std::string application = options_.schema + "_w";
  auto waiter_options = options_;
  waiter_options.conninfo = with_application(options_.conninfo, application);
  auto this_node = open_postgres_store(waiter_options);
  auto other_node = open_postgres_store(options_);
  auto waiter = this_node->open_event_waiter();
  ASSERT_TRUE(waiter->wait(std::chrono::milliseconds(0)));

  // The waiter's session (and this store's idle ones) end, as in a server restart.
  ASSERT_NE(end_sessions_of(options_.schema, application), "0");
  // It notices on its next wait (an error), then reconnects and says "read the log".
  bool reported_loss = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!reported_loss && std::chrono::steady_clock::now() < deadline) {
    try {
      waiter->wait(std::chrono::milliseconds(500));
    } catch (const StoreError&) {
      reported_loss = true;
    }
  }
  ASSERT_TRUE(reported_loss);
  EXPECT_TRUE(waiter->wait(std::chrono::milliseconds(0)));  // reconnected and listening again
  other_node->write([](Tx& tx) {
    tx.append_event(event_for("usr_after"));
    return true;
  });
  EXPECT_TRUE(woken(*waiter));
}

}  // namespace
}  // namespace tmc::store::testing

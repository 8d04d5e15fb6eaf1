// PostgreSQL backend: runs the store contract suite, plus migration and session-setting checks.
// The server comes from TMC_TEST_POSTGRES (a libpq URI; `./tmc test` starts a throw-away cluster
// and sets it). Without it the tests are skipped, unless TMC_REQUIRE_POSTGRES=1 (set by
// `./tmc test`), which makes them fail: the suite must not pass silently without PostgreSQL.
#include "store/postgres/postgres_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/postgres/migrations.hpp"
#include "store_contract.hpp"

namespace tmc::store::testing {
namespace {

// The server under test, or throws (BackendUnavailable to skip, StoreError to fail).
std::string test_conninfo() {
  const char* conninfo = std::getenv("TMC_TEST_POSTGRES");
  if (conninfo != nullptr && *conninfo != '\0') return conninfo;
  const char* required = std::getenv("TMC_REQUIRE_POSTGRES");
  const std::string message =
      "TMC_TEST_POSTGRES is not set: set it to a PostgreSQL URI (e.g. "
      "postgresql://user@localhost:5432/postgres) or run ./tmc test, which starts a server";
  if (required != nullptr && std::string(required) == "1") throw StoreError(message);
  throw BackendUnavailable(message);
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

TEST_F(PostgresStoreTest, UnreachableServerIsAStoreError) {
  PostgresOptions options = options_;
  // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
  options.conninfo = "postgresql://127.0.0.1:1/postgres?connect_timeout=5";
  EXPECT_THROW(open_postgres_store(options), StoreError);
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerEndedItsSessions) {
  // A name of our own lets the test end this store's sessions and no one else's.
  const std::string application = options_.schema;
  options_.conninfo += (options_.conninfo.find("://") != std::string::npos
                            ? (options_.conninfo.find('?') != std::string::npos ? "&" : "?")
                            : " ") +
                       std::string("application_name=") + application;
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
  const auto ended = RawServer(options_.schema)
                         .column(
                             "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))"
                             " FROM pg_stat_activity WHERE application_name = '" +
                             application + "'");
  ASSERT_EQ(ended, std::vector<std::string>{"2"});

  EXPECT_TRUE(insert("second"));
  EXPECT_EQ(count(), 2u);
}

}  // namespace
}  // namespace tmc::store::testing

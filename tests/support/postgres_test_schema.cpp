// Fresh PostgreSQL schemas for tests: created on demand, dropped when the test ends.
#include "postgres_test_schema.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>

namespace tmc::testing {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Connection connect(const std::string& conninfo) {
  Connection connection(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect to TMC_TEST_POSTGRES: ") +
                             PQerrorMessage(connection.get()));
  }
  // Notices (such as what DROP ... CASCADE dropped) would only clutter the test output.
  PQsetNoticeProcessor(
      connection.get(), [](void*, const char*) {}, nullptr);
  return connection;
}

void run(PGconn* connection, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("test database: " + std::string(PQresultErrorMessage(result.get())));
  }
}

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return std::to_string(::getpid()) + "_" + std::to_string(salt % 100000) + "_" +
         std::to_string(counter.fetch_add(1));
}

}  // namespace

std::string test_postgres_conninfo() {
  const char* conninfo = std::getenv("TMC_TEST_POSTGRES");
  if (conninfo != nullptr && *conninfo != '\0') return conninfo;
  const char* required = std::getenv("TMC_REQUIRE_POSTGRES");
  const std::string message =
      "TMC_TEST_POSTGRES is not set: set it to a PostgreSQL URI (e.g. "
      "postgresql://user@localhost:5432/postgres) or run ./tmc test, which starts a server";
  if (required != nullptr && std::string(required) == "1") throw std::runtime_error(message);
  throw PostgresUnavailable(message);
}

PostgresTestSchema::PostgresTestSchema(std::string_view prefix)
    : conninfo_(test_postgres_conninfo()), name_(std::string(prefix) + unique_suffix()) {
  exec("CREATE SCHEMA \"" + name_ + "\"");
}

PostgresTestSchema::~PostgresTestSchema() {
  try {
    exec("DROP SCHEMA IF EXISTS \"" + name_ + "\" CASCADE");
  } catch (const std::exception&) {
    // A server gone at the end of a test leaves nothing worth failing over.
  }
}

std::string PostgresTestSchema::conninfo_in_schema(std::string_view application_name) const {
  // Schema names made here are [a-z0-9_], so they need no quoting or escaping.
  const bool uri = conninfo_.find("://") != std::string::npos;
  std::string conninfo = conninfo_;
  if (uri) {
    conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
    conninfo += "options=-csearch_path%3D" + name_;
    if (!application_name.empty()) conninfo += "&application_name=" + std::string(application_name);
  } else {
    conninfo += " options='-csearch_path=" + name_ + "'";
    if (!application_name.empty()) conninfo += " application_name=" + std::string(application_name);
  }
  return conninfo;
}

void PostgresTestSchema::exec(const std::string& sql) const {
  const Connection connection = connect(conninfo_);
  run(connection.get(), sql);
}

}  // namespace tmc::testing

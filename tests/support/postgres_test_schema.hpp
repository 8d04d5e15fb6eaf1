// A fresh PostgreSQL schema per test on the server named by TMC_TEST_POSTGRES.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tmc::testing {

// Thrown when TMC_TEST_POSTGRES is unset and TMC_REQUIRE_POSTGRES is not 1: the test skips.
// With TMC_REQUIRE_POSTGRES=1 (set by `./tmc test`) a std::runtime_error is thrown instead, so
// the suite cannot pass silently without PostgreSQL.
class PostgresUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server under test (a libpq URI or connection string).
std::string test_postgres_conninfo();

// Creates an empty schema named prefix + a unique suffix; dropped (CASCADE) on destruction.
// Throws PostgresUnavailable or std::runtime_error (see above, or when the server refuses).
class PostgresTestSchema {
 public:
  explicit PostgresTestSchema(std::string_view prefix);
  ~PostgresTestSchema();
  PostgresTestSchema(const PostgresTestSchema&) = delete;
  PostgresTestSchema& operator=(const PostgresTestSchema&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }

  // conninfo whose sessions have search_path = this schema (libpq's options parameter) and the
  // given application_name (to find them in pg_stat_activity), for code that takes one
  // connection string, such as `tmc-admin --store`.
  std::string conninfo_in_schema(std::string_view application_name = {}) const;

  // Runs sql (no parameters) on a connection of its own; throws std::runtime_error on failure.
  void exec(const std::string& sql) const;

 private:
  std::string conninfo_;
  std::string name_;
};

}  // namespace tmc::testing

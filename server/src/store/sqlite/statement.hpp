// RAII wrappers for sqlite3_stmt: an owned prepared statement and a scoped use of it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace tmc::store::sqlite {

// Throws StoreError "<what>: <sqlite3_errstr(rc)>". Never includes SQL parameter values.
[[noreturn]] void throw_sqlite_error(int rc, std::string_view what);

// Bytes bound as a BLOB (bind a std::string_view to get TEXT).
struct Blob {
  std::string_view bytes;
};

// Owns one prepared statement; finalizes it on destruction.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql, bool persistent);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One execution of a statement: bind parameters (1-based), step through rows, read columns
// (0-based). Resets the statement and clears its bindings on destruction so a cached statement
// can be reused. Every unexpected SQLite result code throws StoreError.
class Query {
 public:
  explicit Query(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::string_view text);
  Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, Blob blob);
  Query& bind(int index, std::int64_t value);
  Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Query& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
  Query& bind(int index, TimePoint value) { return bind(index, value.time_since_epoch().count()); }
  Query& bind(int index, std::optional<TimePoint> value);
  Query& bind_null(int index);
  // Empty text becomes NULL (optional references such as an unassigned specialist).
  Query& bind_or_null(int index, std::string_view text);

  // Binds each argument to 1, 2, 3, ... in order.
  template <class... Args>
  Query& bind_all(const Args&... args) {
    int index = 0;
    (bind(++index, args), ...);
    return *this;
  }

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows.
  void run();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  int int32(int column) const { return static_cast<int>(int64(column)); }
  bool boolean(int column) const { return int64(column) != 0; }
  std::string text(int column) const;  // NULL reads as ""
  std::string blob(int column) const;  // NULL reads as ""
  TimePoint time(int column) const;
  std::optional<TimePoint> optional_time(int column) const;

 private:
  void check_bind(int rc);

  sqlite3_stmt* stmt_;
};

}  // namespace tmc::store::sqlite

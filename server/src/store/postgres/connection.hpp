// One libpq connection: session settings, a cache of prepared statements, parameters and results.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "common/text_hash.hpp"

namespace tmc::store::postgres {

// Throws StoreError "<what>: <SQLSTATE> <primary message>" for a failed result. Only the primary
// message is kept: libpq's DETAIL lines quote row values, which must never reach the logs.
// Serialization failures and deadlocks (the PostgreSQL counterpart of SQLite's busy) are
// reported as such so the caller can retry the whole operation.
[[noreturn]] void throw_result_error(const PGresult* result, std::string_view what);

// Bytes bound as BYTEA (bind a std::string_view to get TEXT).
struct Bytes {
  std::string_view bytes;
};

// Positional parameters $1, $2, ... of one statement. Text parameters are sent in text format
// (the server converts them to the column type); BYTEA in binary format, so any byte is kept.
// Text must not contain NUL bytes (PostgreSQL text cannot hold them): adding one throws
// UnstorableValue.
class Params {
 public:
  Params& add(std::string_view text);
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(Bytes bytes);
  Params& add(std::int64_t value);
  Params& add(int value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(bool value);
  Params& add(TimePoint value) { return add(value.time_since_epoch().count()); }
  Params& add(std::optional<TimePoint> value);
  Params& add_null();
  // Empty text becomes NULL (optional references such as an unassigned specialist).
  Params& add_or_null(std::string_view text);

  template <class... Args>
  static Params of(const Args&... args) {
    Params params;
    (params.add(args), ...);
    return params;
  }

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object, valid while it is neither changed nor destroyed.
  std::vector<const char*> value_pointers() const;
  std::vector<int> lengths() const;
  const std::vector<int>& formats() const { return formats_; }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
};

// An owned PGresult of a prepared statement, columns in binary format.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  PGresult* get() const { return result_.get(); }
  // PGRES_FATAL_ERROR for a null result (out of memory, connection lost).
  ExecStatusType status() const {
    return result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
  }
  int rows() const { return PQntuples(result_.get()); }
  bool empty() const { return rows() == 0; }
  // Rows changed by INSERT/UPDATE/DELETE.
  int affected() const;

  bool is_null(int row, int column) const;
  std::int64_t int64(int row, int column) const;  // int2/int4/int8/bool columns
  std::string bytes(int row, int column) const;   // text or bytea; NULL reads as ""

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// One row of a Result, read like a SQLite row (0-based columns).
class Row {
 public:
  Row(const Result& result, int row) : result_(result), row_(row) {}

  bool is_null(int column) const { return result_.is_null(row_, column); }
  std::int64_t int64(int column) const { return result_.int64(row_, column); }
  int int32(int column) const { return static_cast<int>(int64(column)); }
  bool boolean(int column) const { return int64(column) != 0; }
  std::string text(int column) const { return result_.bytes(row_, column); }
  std::string blob(int column) const { return result_.bytes(row_, column); }
  TimePoint time(int column) const;
  std::optional<TimePoint> optional_time(int column) const;

 private:
  const Result& result_;
  int row_;
};

// Every row of result, converted by read(const Row&).
template <class Record, class Reader>
std::vector<Record> collect_rows(const Result& result, Reader read) {
  std::vector<Record> records;
  records.reserve(static_cast<std::size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row) records.push_back(read(Row(result, row)));
  return records;
}

// The first row of result, converted by read(const Row&); nullopt when there is none.
template <class Record, class Reader>
std::optional<Record> first_row(const Result& result, Reader read) {
  if (result.empty()) return std::nullopt;
  return read(Row(result, 0));
}

// A PostgreSQL array literal of the values (for `= ANY($n::text[])`), each element quoted.
std::string text_array(const std::vector<std::string>& values);

// What every connection of a store is opened with.
struct ConnectionSettings {
  std::string conninfo;  // libpq connection string or URI
  std::string schema;    // search_path; empty = the server's default
};

// Not thread-safe: used by one thread at a time (the writer, or whoever checked it out of the
// read pool). Throws StoreError when the server cannot be reached or a statement fails.
class Connection {
 public:
  explicit Connection(ConnectionSettings settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reconnects when the connection was lost (a server restart, a network failure); prepared
  // statements are prepared again on next use. Throws StoreError when the server stays away.
  void ensure_open();

  // Starts a transaction with begin_sql (a BEGIN statement). A connection found dead at this
  // point (idle across a server restart) is re-established and the BEGIN sent once more:
  // nothing of the transaction ran yet, so the retry is safe.
  void begin(const char* begin_sql);

  // Runs the cached prepared statement for sql (prepared on first use), $1.. bound to params.
  Result query(std::string_view sql, const Params& params = {});

  // Runs a statement (or a script of several) that takes no parameters, by the simple protocol.
  // Returns the command tag of the last statement (e.g. "COMMIT" or "ROLLBACK").
  std::string exec(const char* sql);

  bool in_transaction() const;  // inside a transaction block, failed or not

  // The value of a libpq connection option in use (e.g. "keepalives"); empty when unset.
  std::string option(std::string_view keyword) const;

  // For a connection that LISTENs: the socket to poll for input, and reading what arrived.
  // drain_notifications returns how many notifications were read; it throws StoreError when
  // the connection is broken (the next ensure_open() reconnects, after which LISTEN must be
  // sent again).
  int socket() const;
  int drain_notifications();

 private:
  void configure_session();

  ConnectionSettings settings_;
  PGconn* connection_ = nullptr;
  std::unordered_map<std::string, std::string, TextHash, std::equal_to<>> prepared_;
};

// A double-quoted identifier (schema names come from configuration).
std::string quote_identifier(std::string_view name);

}  // namespace tmc::store::postgres

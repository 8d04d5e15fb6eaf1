// sqlite3_stmt wrappers: strict result-code checking, binding and column conversion.
#include "store/sqlite/statement.hpp"

#include <chrono>
#include <string>

#include "store/store.hpp"

namespace tmc::store::sqlite {

void throw_sqlite_error(int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += sqlite3_errstr(rc);
  throw StoreError(message);
}

Statement::Statement(sqlite3* db, std::string_view sql, bool persistent) {
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    // The message names schema objects of our own SQL text (no values), useful when debugging.
    std::string message = "sqlite prepare failed: ";
    message += sqlite3_errmsg(db);
    sqlite3_finalize(stmt_);
    throw StoreError(message);
  }
  if (stmt_ == nullptr) throw StoreError("sqlite prepare: empty statement");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Query::~Query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Query::check_bind(int rc) {
  if (rc != SQLITE_OK) throw_sqlite_error(rc, "sqlite bind");
}

Query& Query::bind(int index, std::string_view text) {
  // A null pointer would bind NULL; an empty string must stay an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  check_bind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Query& Query::bind(int index, Blob blob) {
  if (blob.bytes.empty()) {
    check_bind(sqlite3_bind_zeroblob(stmt_, index, 0));
  } else {
    check_bind(
        sqlite3_bind_blob64(stmt_, index, blob.bytes.data(), blob.bytes.size(), SQLITE_TRANSIENT));
  }
  return *this;
}

Query& Query::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Query& Query::bind(int index, std::optional<TimePoint> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Query& Query::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Query& Query::bind_or_null(int index, std::string_view text) {
  return text.empty() ? bind_null(index) : bind(index, text);
}

bool Query::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite_error(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)), "sqlite step");
}

void Query::run() {
  if (step()) throw StoreError("sqlite step: unexpected row");
}

bool Query::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Query::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Query::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::string Query::blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};  // NULL or zero-length
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

TimePoint Query::time(int column) const {
  return TimePoint(std::chrono::microseconds(int64(column)));
}

std::optional<TimePoint> Query::optional_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return time(column);
}

}  // namespace tmc::store::sqlite

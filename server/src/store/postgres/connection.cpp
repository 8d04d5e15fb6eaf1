// libpq connection: connect and session settings, prepared-statement cache, binary results.
#include "store/postgres/connection.hpp"

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include "store/store.hpp"

namespace tmc::store::postgres {
namespace {

constexpr int text_format = 0;
constexpr int binary_format = 1;

std::string connection_message(const PGconn* connection) {
  // The first line only: later lines may repeat the connection string's host and user names,
  // which are fine, but never a password (libpq does not echo it).
  std::string message = connection != nullptr ? PQerrorMessage(connection) : "out of memory";
  if (const auto end = message.find('\n'); end != std::string::npos) message.resize(end);
  return message;
}

std::int64_t read_big_endian(const char* data, int length) {
  std::uint64_t value = 0;
  for (int i = 0; i < length; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data[i]);
  }
  // Sign-extend the shorter integer types.
  if (length < 8 && length > 0) {
    const unsigned shift = 64U - 8U * static_cast<unsigned>(length);
    return static_cast<std::int64_t>(value << shift) >> shift;
  }
  return static_cast<std::int64_t>(value);
}

}  // namespace

void throw_result_error(const PGresult* result, std::string_view what) {
  std::string message(what);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  if (sqlstate == "40001" || sqlstate == "40P01") {
    message += ": transaction conflict with a concurrent writer (SQLSTATE ";
    message += sqlstate;
    message += "); retry the operation";
    throw StoreError(message);
  }
  message += ": ";
  if (!sqlstate.empty()) {
    message += sqlstate;
    message += ' ';
  }
  message += primary != nullptr ? primary : "no result (connection lost?)";
  throw StoreError(message);
}

// ---- Params ----

Params& Params::add(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    throw UnstorableValue("a text field contains a NUL byte");
  }
  values_.emplace_back(std::string(text));
  formats_.push_back(text_format);
  return *this;
}

Params& Params::add(Bytes bytes) {
  values_.emplace_back(std::string(bytes.bytes));
  formats_.push_back(binary_format);
  return *this;
}

Params& Params::add(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  formats_.push_back(text_format);
  return *this;
}

Params& Params::add(bool value) {
  values_.emplace_back(value ? "t" : "f");
  formats_.push_back(text_format);
  return *this;
}

Params& Params::add(std::optional<TimePoint> value) { return value ? add(*value) : add_null(); }

Params& Params::add_null() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(text_format);
  return *this;
}

Params& Params::add_or_null(std::string_view text) { return text.empty() ? add_null() : add(text); }

std::vector<const char*> Params::value_pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
  return pointers;
}

std::vector<int> Params::lengths() const {
  std::vector<int> lengths;
  lengths.reserve(values_.size());
  for (const auto& value : values_) {
    lengths.push_back(value ? static_cast<int>(value->size()) : 0);
  }
  return lengths;
}

// ---- Result ----

int Result::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples != nullptr && *tuples != '\0' ? std::stoi(tuples) : 0;
}

bool Result::is_null(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::int64_t Result::int64(int row, int column) const {
  if (is_null(row, column)) return 0;
  const int length = PQgetlength(result_.get(), row, column);
  if (length != 1 && length != 2 && length != 4 && length != 8) {
    throw StoreError("postgres: column " + std::to_string(column) + " is not an integer");
  }
  return read_big_endian(PQgetvalue(result_.get(), row, column), length);
}

std::string Result::bytes(int row, int column) const {
  if (is_null(row, column)) return {};
  const int length = PQgetlength(result_.get(), row, column);
  return std::string(PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(length));
}

TimePoint Row::time(int column) const {
  return TimePoint(std::chrono::microseconds(int64(column)));
}

std::optional<TimePoint> Row::optional_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return time(column);
}

// ---- Connection ----

namespace {

// Defaults for what the connection string leaves unset: a server that stops answering (a
// silent network drop, a frozen host) is given up on within about a minute instead of blocking
// the store's writer until the kernel's TCP timeouts (hours), and a connect attempt within 10 s.
// The connection string comes after them and overrides any of them.
constexpr std::array<std::pair<const char*, const char*>, 6> kDefaults{{
    {"connect_timeout", "10"},
    {"keepalives", "1"},
    {"keepalives_idle", "30"},
    {"keepalives_interval", "10"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "60000"},  // ms unacknowledged before the connection is dropped
}};

PGconn* connect(const std::string& conninfo) {
  std::array<const char*, kDefaults.size() + 2> keywords{};
  std::array<const char*, kDefaults.size() + 2> values{};
  for (std::size_t i = 0; i < kDefaults.size(); ++i) {
    keywords[i] = kDefaults[i].first;
    values[i] = kDefaults[i].second;
  }
  keywords[kDefaults.size()] = "dbname";  // expanded: a URI or key=value string
  values[kDefaults.size()] = conninfo.c_str();
  return PQconnectdbParams(keywords.data(), values.data(), 1);
}

}  // namespace

Connection::Connection(ConnectionSettings settings) : settings_(std::move(settings)) {
  connection_ = connect(settings_.conninfo);
  if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK) {
    const auto message = connection_message(connection_);
    PQfinish(connection_);
    connection_ = nullptr;
    throw StoreError("postgres connect: " + message);
  }
  try {
    configure_session();
  } catch (...) {
    PQfinish(connection_);
    connection_ = nullptr;
    throw;
  }
}

Connection::~Connection() { PQfinish(connection_); }

std::string Connection::option(std::string_view keyword) const {
  std::string value;
  PQconninfoOption* options = PQconninfo(connection_);
  if (options == nullptr) return value;
  for (const auto* option = options; option->keyword != nullptr; ++option) {
    if (keyword == option->keyword && option->val != nullptr) value = option->val;
  }
  PQconninfoFree(options);
  return value;
}

void Connection::configure_session() {
  // Durability: COMMIT returns only once the WAL is flushed, whatever the server default is.
  // Server notices ("already exists, skipping") are not for the server's log.
  // A statement that never ends on a live server (a lock an operator's open transaction holds,
  // say) would hold the store's writer and every write behind it: after a minute it fails, as a
  // lost connection does, unless the operator set a timeout of their own (for the role, the
  // database, or `options` in the connection string).
  std::string setup =
      "SET synchronous_commit = on; SET client_encoding = 'UTF8';"
      " SET client_min_messages = warning;"
      " SELECT set_config('statement_timeout', '1min', false)"
      " WHERE current_setting('statement_timeout') = '0'";
  if (!settings_.schema.empty())
    setup += "; SET search_path = " + quote_identifier(settings_.schema);
  exec(setup.c_str());
  // A database in another encoding (LATIN1, say) refuses Chinese text at the first insert: every
  // such request would fail as the store's fault. SQL_ASCII stores the bytes as they come.
  const char* encoding = PQparameterStatus(connection_, "server_encoding");
  const std::string_view server_encoding = encoding != nullptr ? encoding : "";
  if (server_encoding != "UTF8" && server_encoding != "SQL_ASCII") {
    throw StoreError("postgres: the database's encoding is " + std::string(server_encoding) +
                     "; tmc needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')");
  }
}

void Connection::ensure_open() {
  if (PQstatus(connection_) == CONNECTION_OK) return;
  prepared_.clear();  // prepared statements die with the server session
  PQreset(connection_);
  if (PQstatus(connection_) != CONNECTION_OK) {
    throw StoreError("postgres reconnect: " + connection_message(connection_));
  }
  configure_session();
}

int Connection::socket() const { return PQsocket(connection_); }

int Connection::drain_notifications() {
  if (PQconsumeInput(connection_) == 0 || PQstatus(connection_) != CONNECTION_OK) {
    throw StoreError("postgres listen: " + connection_message(connection_));
  }
  int count = 0;
  while (PGnotify* notify = PQnotifies(connection_)) {
    PQfreemem(notify);
    ++count;
  }
  return count;
}

void Connection::begin(const char* begin_sql) {
  ensure_open();
  try {
    exec(begin_sql);
  } catch (const StoreError&) {
    if (PQstatus(connection_) == CONNECTION_OK) throw;
    ensure_open();
    exec(begin_sql);
  }
}

Result Connection::query(std::string_view sql, const Params& params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    std::string name = "tmc_" + std::to_string(prepared_.size() + 1);
    const std::string text(sql);
    Result prepared(PQprepare(connection_, name.c_str(), text.c_str(), 0, nullptr));
    if (prepared.status() != PGRES_COMMAND_OK)
      throw_result_error(prepared.get(), "postgres prepare");
    found = prepared_.emplace(text, std::move(name)).first;
  }
  const auto values = params.value_pointers();
  const auto lengths = params.lengths();
  Result result(PQexecPrepared(connection_, found->second.c_str(), params.size(), values.data(),
                               lengths.data(), params.formats().data(), binary_format));
  const auto status = result.status();
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw_result_error(result.get(), "postgres query");
  }
  return result;
}

std::string Connection::exec(const char* sql) {
  Result result(PQexec(connection_, sql));
  const auto status = result.status();
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw_result_error(result.get(), "postgres exec");
  }
  return PQcmdStatus(result.get());
}

bool Connection::in_transaction() const {
  const auto status = PQtransactionStatus(connection_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

std::string text_array(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (const auto& value : values) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (char ch : value) {
      if (ch == '"' || ch == '\\') literal += '\\';
      literal += ch;
    }
    literal += '"';
  }
  return literal + "}";
}

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char ch : name) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}

}  // namespace tmc::store::postgres

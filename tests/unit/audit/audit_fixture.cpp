// Shared fixture of the audit tests: a SQLite store in a temp dir and raw SQL for tampering.
#include "audit_fixture.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>

#include "store/sqlite/sqlite_store.hpp"

namespace tmc::audit::testing {

AuditStoreTest::AuditStoreTest() {
  auto pattern = (std::filesystem::temp_directory_path() / "tmc-audit-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  store::SqliteOptions options;
  options.path = database().string();
  store_ = store::open_sqlite_store(options);
  base_time_ = TimePoint(std::chrono::sys_days(std::chrono::year(2025) / 3 / 1).time_since_epoch());
}

AuditStoreTest::~AuditStoreTest() {
  store_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void AuditStoreTest::append(const std::vector<domain::AuditEvent>& events) {
  std::vector<TimedEvent> timed;
  for (const auto& event : events) {
    timed.push_back({base_time_ + std::chrono::seconds(appended_++), event});
  }
  store_->write([&](store::Tx& tx) {
    log_.append(tx, timed);
    return true;
  });
}

void AuditStoreTest::append_simple(int n, bool heads_each) {
  for (int i = 0; i < n; ++i) {
    const auto number = std::to_string(appended_);
    append({{"usr_" + number, "bachu", "consultation.read", {"con_" + number},
             domain::AuditOutcome::success, "10.0.0.1:5000"}});
    if (heads_each) sign_head();
  }
}

void AuditStoreTest::sign_head() {
  store_->write([&](store::Tx& tx) {
    log_.sign_head(tx, base_time_ + std::chrono::hours(1));
    return true;
  });
}

void AuditStoreTest::sql(const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(database().c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message << " in: " << statement;
}

std::vector<store::AuditRow> AuditStoreTest::rows() {
  std::vector<store::AuditRow> result;
  store_->read([&](store::Tx& tx) {
    for_each_record(tx, 0, [&](const store::AuditRow& row) { result.push_back(row); });
  });
  return result;
}

}  // namespace tmc::audit::testing

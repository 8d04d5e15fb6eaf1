// Shared fixture of the audit tests: a SQLite store in a temp dir and raw SQL for tampering.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/signing_key.hpp"
#include "store/store.hpp"

namespace tmc::audit::testing {

class AuditStoreTest : public ::testing::Test {
 protected:
  AuditStoreTest();
  ~AuditStoreTest() override;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path database() const { return dir_ / "tmc.db"; }

  // Appends one event per action (actor "usr_<i>", time base + i seconds) in one write.
  void append(const std::vector<domain::AuditEvent>& events);
  // Appends n simple events, signing a head after each one when heads_each is set.
  void append_simple(int n, bool heads_each);
  void sign_head();

  // Runs SQL on the database through its own sqlite3 connection (the tampering attacker).
  void sql(const std::string& statement);
  std::vector<store::AuditRow> rows();

  SigningKey key_ = SigningKey::generate();
  std::unique_ptr<store::Store> store_;
  AuditLog log_{key_};
  TimePoint base_time_{};
  int appended_ = 0;

 private:
  std::filesystem::path dir_;
};

}  // namespace tmc::audit::testing

// Store contract suite: every backend runs the same TEST_Ps through its own factory.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace tmc::store::testing {

// Thrown by StoreBackend::open when the backend's server is not configured on this machine:
// the test is skipped with this message (a backend that must run throws StoreError instead).
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a backend opens a store whose data lives under dir (a fresh, empty directory per test;
// opening the same dir again must reach the same data).
struct StoreBackend {
  std::string name;
  std::function<std::unique_ptr<Store>(const std::string& dir)> open;
};

// Names the backend in test listings (instead of the bytes of the struct).
inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

// A fresh directory, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A consultation with every field set to a non-default value (sealed fields hold arbitrary bytes
// including NULs), requested by "clin" of "county" (see seed_directory).
Consultation make_consultation(std::string id,
                               ConsultationState state = ConsultationState::requested);


// Fixture: a store opened on a fresh directory, plus a small directory of organisations and
// users most tests share (see seed_directory in store_contract.cpp).
class StoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Closes the store (draining its writer) and opens it again on the same directory.
  void reopen();
  void seed_directory();

  // For the tests of migration 11 (the sealed texts in a table of their own): seeds the
  // directory, stores three consultations whose summaries span several pages, one with a
  // report, and closes the store, which the test then takes back to schema 10.
  std::vector<Consultation> store_consultations_with_long_texts();
  // Reopens the store (which migrates it) and checks that every consultation reads back whole
  // and that a post's update of last_seq keeps the texts.
  void expect_texts_whole_after_reopening(const std::vector<Consultation>& originals);

  // Runs fn in a read snapshot and returns what it returned.
  template <class Fn>
  auto read(Fn fn) {
    std::optional<decltype(fn(std::declval<Tx&>()))> out;
    store_->read([&](Tx& tx) { out.emplace(fn(tx)); });
    return std::move(*out);
  }
  bool write(WriteOp op) { return store_->write(std::move(op)); }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace tmc::store::testing

// The log's writer after a restart: it resumes from the frontier stored with the latest signed
// head instead of re-reading every record, and only from one that gives that head's root.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/merkle.hpp"
#include "audit/verifier.hpp"
#include "audit_fixture.hpp"

namespace tmc::audit::testing {
namespace {

class AuditLogRestart : public AuditStoreTest {
 protected:
  // A writer with no state in memory, as after a restart, appends one event and signs a head.
  void restart_append_and_sign() {
    AuditLog restarted{key_};
    store_->write([&](store::Tx& tx) {
      restarted.append(tx, {{base_time_ + std::chrono::hours(2),
                             {"usr_new", "bachu", "consultation.read", {"con_new"},
                              domain::AuditOutcome::success, "10.0.0.1:5000"}}});
      restarted.sign_head(tx, base_time_ + std::chrono::hours(3));
      return true;
    });
  }

  std::string latest_root() {
    std::string root;
    store_->read([&](store::Tx& tx) {
      const auto head = tx.latest_audit_head();
      ASSERT_TRUE(head.has_value());
      root = head->root_hash;
    });
    return root;
  }

  static std::vector<std::string> leaf_hashes(const std::vector<store::AuditRow>& rows) {
    std::vector<std::string> hashes;
    for (const auto& row : rows) hashes.push_back(row.leaf_hash);
    return hashes;
  }
};

// A writer whose batch was rolled back holds leaves that were never stored. If another writer
// (another node, tmc-admin) then appended more records than that, the log grew past the
// writer's tree: it must not take its own tree as the stored prefix and sign a wrong root.
TEST_F(AuditLogRestart, AWriterWhoseBatchRolledBackCatchesUpFromTheStoredLog) {
  append_simple(3, false);  // the fixture's writer: its tree holds records 0-2
  store_->write([&](store::Tx& tx) {
    log_.append(tx, {{base_time_ + std::chrono::hours(1),
                      {"usr_lost", "bachu", "login", {}, domain::AuditOutcome::success, ""}}});
    return false;  // the batch is rolled back: the leaf is in log_'s tree only
  });
  AuditLog other{key_};  // another writer appends two records
  store_->write([&](store::Tx& tx) {
    other.append(tx, {{base_time_ + std::chrono::hours(2),
                       {"usr_a", "bachu", "login", {}, domain::AuditOutcome::success, ""}},
                      {base_time_ + std::chrono::hours(2),
                       {"usr_b", "bachu", "login", {}, domain::AuditOutcome::success, ""}}});
    return true;
  });
  sign_head();  // by the fixture's writer
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 5u);
  EXPECT_EQ(latest_root(), merkle_root(leaf_hashes(stored)));
  const auto report = verify_log(*store_, key_.public_key());
  EXPECT_TRUE(report.ok()) << report.problems.front();
}

TEST_F(AuditLogRestart, ResumesFromTheFrontierOfTheLatestSignedHead) {
  append_simple(100, false);
  sign_head();
  auto hashes = leaf_hashes(rows());
  // Record 5's stored leaf hash changes after the head: a writer that re-read the log would
  // take it into the next root, one that resumes from the frontier never reads it.
  sql("UPDATE audit_records SET leaf_hash = zeroblob(32) WHERE idx = 5");
  restart_append_and_sign();
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 101u);
  hashes.push_back(stored.back().leaf_hash);
  EXPECT_EQ(latest_root(), merkle_root(hashes));
  EXPECT_NE(latest_root(), merkle_root(leaf_hashes(stored)));
}

TEST_F(AuditLogRestart, AFrontierThatDoesNotGiveTheHeadsRootIsNotUsed) {
  append_simple(20, false);
  sign_head();
  sql("UPDATE audit_frontier SET subtrees = zeroblob(length(subtrees))");
  restart_append_and_sign();
  EXPECT_EQ(latest_root(), merkle_root(leaf_hashes(rows())));
  const auto report = verify_log(*store_, key_.public_key());
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.signed_records, 21);
}

TEST_F(AuditLogRestart, EachSignedHeadStoresTheFrontierOfItsTree) {
  append_simple(13, false);
  sign_head();
  store_->read([&](store::Tx& tx) {
    const auto frontier = tx.find_audit_frontier();
    ASSERT_TRUE(frontier.has_value());
    EXPECT_EQ(frontier->tree_size, 13);
    const auto range = CompactRange::restore(frontier->tree_size, frontier->subtrees);
    ASSERT_TRUE(range.has_value());
    EXPECT_EQ(range->root(), tx.latest_audit_head()->root_hash);
  });
}

}  // namespace
}  // namespace tmc::audit::testing

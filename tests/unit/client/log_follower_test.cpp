// LogFollower: ordering, de-duplication, gap detection and acknowledgement bookkeeping.
#include "tmc/client/log_follower.hpp"

#include <gtest/gtest.h>

namespace tmc::client {
namespace {

telemed::v1::LogEntry entry(std::uint64_t seq, const std::string& consultation = "c1") {
  telemed::v1::LogEntry result;
  result.set_consultation_id(consultation);
  result.set_seq(seq);
  result.mutable_body()->set_text("m" + std::to_string(seq));
  return result;
}

std::vector<std::uint64_t> seqs(const std::vector<telemed::v1::LogEntry>& entries) {
  std::vector<std::uint64_t> result;
  for (const auto& e : entries) result.push_back(e.seq());
  return result;
}

TEST(LogFollower, DeliversInOrderAndDropsDuplicates) {
  LogFollower follower("c1");
  EXPECT_EQ(seqs(follower.add(entry(1))), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(seqs(follower.add(entry(2))), (std::vector<std::uint64_t>{2}));
  // The same entry from a sync racing the event, then from a redelivered event.
  EXPECT_TRUE(follower.add(entry(2)).empty());
  EXPECT_TRUE(follower.add(entry(1)).empty());
  EXPECT_EQ(follower.last_seen(), 2u);
  EXPECT_FALSE(follower.has_gap());
}

TEST(LogFollower, HoldsEntriesBehindAGapUntilItIsFilled) {
  LogFollower follower("c1", 3);
  EXPECT_TRUE(follower.add(entry(6)).empty());
  EXPECT_TRUE(follower.add(entry(5)).empty());
  EXPECT_TRUE(follower.has_gap());
  EXPECT_EQ(follower.last_seen(), 3u);
  EXPECT_TRUE(follower.add(entry(6)).empty());  // a duplicate of a held entry
  EXPECT_EQ(seqs(follower.add(entry(4))), (std::vector<std::uint64_t>{4, 5, 6}));
  EXPECT_FALSE(follower.has_gap());
  EXPECT_EQ(follower.last_seen(), 6u);
}

TEST(LogFollower, ResumesAfterItsStartingPoint) {
  LogFollower follower("c1", 10);
  EXPECT_TRUE(follower.add(entry(10)).empty());
  EXPECT_TRUE(follower.add(entry(7)).empty());
  EXPECT_EQ(seqs(follower.add(entry(11))), (std::vector<std::uint64_t>{11}));
}

TEST(LogFollower, IgnoresOtherConsultationsAndPassesUnstoredSignals) {
  LogFollower follower("c1");
  EXPECT_TRUE(follower.add(entry(1, "c2")).empty());
  EXPECT_EQ(follower.last_seen(), 0u);
  EXPECT_EQ(follower.add(entry(0)).size(), 1u);
  EXPECT_EQ(follower.last_seen(), 0u);
  EXPECT_FALSE(follower.has_gap());
}

TEST(LogFollower, AcknowledgesWhatWasShownOnce) {
  LogFollower follower("c1", 2);
  EXPECT_FALSE(follower.ack_due());  // the starting point counts as acknowledged
  (void)follower.add(entry(3));
  (void)follower.add(entry(5));  // held: not shown, not due
  ASSERT_TRUE(follower.ack_due());
  EXPECT_EQ(*follower.ack_due(), 3u);
  follower.acknowledged(3);
  EXPECT_FALSE(follower.ack_due());
  follower.acknowledged(1);  // a stale answer does not move it back
  (void)follower.add(entry(4));
  EXPECT_EQ(follower.ack_due(), std::optional<std::uint64_t>(5));
}

}  // namespace
}  // namespace tmc::client

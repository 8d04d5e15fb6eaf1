// Store contract: the cluster event log (what one node journals for the others).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "store_contract.hpp"

namespace tmc::store::testing {
namespace {

using namespace std::chrono_literals;

EventRow event_at(TimePoint at, std::vector<std::string> recipients, std::string sealed) {
  EventRow row;
  row.origin = "node_a";
  row.created_at = at;
  row.recipients = std::move(recipients);
  row.wrapped_key = std::string("\x01\x02\x00\xff", 4);
  row.sealed_event = std::move(sealed);
  return row;
}

}  // namespace

TEST_P(StoreContract, EventsGetIncreasingIdsAndRoundTrip) {
  const TimePoint t0{std::chrono::seconds(1'800'000'000)};
  EXPECT_EQ(read([](Tx& tx) { return tx.last_event_id(); }), 0);
  std::vector<std::int64_t> ids;
  write([&](Tx& tx) {
    ids.push_back(tx.append_event(event_at(t0, {"usr_a", "usr_b"}, std::string("x\0y", 3))));
    ids.push_back(tx.append_event(event_at(t0 + 1s, {"usr_c"}, "second")));
    return true;
  });
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_EQ(read([](Tx& tx) { return tx.last_event_id(); }), ids[1]);

  const auto all = read([](Tx& tx) { return tx.list_events_after(0, 10); });
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, ids[0]);
  EXPECT_EQ(all[0].origin, "node_a");
  EXPECT_EQ(all[0].created_at, t0);
  EXPECT_EQ(all[0].recipients, (std::vector<std::string>{"usr_a", "usr_b"}));
  EXPECT_EQ(all[0].wrapped_key, std::string("\x01\x02\x00\xff", 4));
  EXPECT_EQ(all[0].sealed_event, std::string("x\0y", 3));

  const auto after_first = read([&](Tx& tx) { return tx.list_events_after(ids[0], 10); });
  ASSERT_EQ(after_first.size(), 1u);
  EXPECT_EQ(after_first[0].recipients, (std::vector<std::string>{"usr_c"}));
  EXPECT_EQ(read([&](Tx& tx) { return tx.list_events_after(0, 1); }).size(), 1u);
}

TEST_P(StoreContract, RolledBackEventLeavesNoRowAndLaterIdsStillGrow) {
  const TimePoint t0{std::chrono::seconds(1'800'000'000)};
  std::int64_t first = 0;
  write([&](Tx& tx) {
    first = tx.append_event(event_at(t0, {"usr_a"}, "kept"));
    return true;
  });
  write([&](Tx& tx) {
    tx.append_event(event_at(t0, {"usr_a"}, "rolled back"));
    return false;
  });
  std::int64_t third = 0;
  write([&](Tx& tx) {
    third = tx.append_event(event_at(t0, {"usr_a"}, "third"));
    return true;
  });
  EXPECT_GT(third, first);
  const auto rows = read([](Tx& tx) { return tx.list_events_after(0, 10); });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].sealed_event, "kept");
  EXPECT_EQ(rows[1].sealed_event, "third");
}

TEST_P(StoreContract, OldEventsArePruned) {
  const TimePoint t0{std::chrono::seconds(1'800'000'000)};
  write([&](Tx& tx) {
    tx.append_event(event_at(t0, {"usr_a"}, "old"));
    tx.append_event(event_at(t0 + 10min, {"usr_a"}, "new"));
    return true;
  });
  int deleted = 0;
  write([&](Tx& tx) {
    deleted = tx.delete_events_before(t0 + 5min);
    return true;
  });
  EXPECT_EQ(deleted, 1);
  const auto rows = read([](Tx& tx) { return tx.list_events_after(0, 10); });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].sealed_event, "new");
}

TEST_P(StoreContract, EventKeysAreRewrappedByKeyRotation) {
  // The event table has an integer id, unlike the other tables holding wrapped keys.
  std::int64_t id = 0;
  write([&](Tx& tx) {
    id = tx.append_event(event_at(TimePoint{std::chrono::seconds(1'800'000'000)}, {"usr_a"}, "e"));
    return true;
  });
  const auto keys = read([](Tx& tx) { return tx.list_wrapped_keys(); });
  const auto found = std::find_if(keys.begin(), keys.end(), [](const WrappedKeyRow& row) {
    return row.table == "event_outbox";
  });
  ASSERT_NE(found, keys.end());
  EXPECT_EQ(found->id, std::to_string(id));
  EXPECT_EQ(found->wrapped_key, std::string("\x01\x02\x00\xff", 4));

  const std::string rewrapped("new key \x00 bytes", 15);
  EXPECT_TRUE(
      write([&](Tx& tx) { return tx.set_wrapped_key({"event_outbox", found->id, rewrapped}); }));
  const auto rows = read([](Tx& tx) { return tx.list_events_after(0, 10); });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].wrapped_key, rewrapped);
}

}  // namespace tmc::store::testing

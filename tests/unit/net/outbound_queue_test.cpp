// The two-lane outbound queue: priority, order, byte bound.
#include "net/outbound_queue.hpp"

#include <gtest/gtest.h>

namespace tmc::net {
namespace {

OutboundQueue::Frame frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

std::string next(OutboundQueue& queue) {
  const auto popped = queue.pop();
  return popped ? *popped : "<empty>";
}

TEST(OutboundQueue, ControlDrainsBeforeBulkAndEachLaneKeepsOrder) {
  OutboundQueue queue{1024};
  ASSERT_TRUE(queue.push(frame("b1"), api::Lane::bulk));
  ASSERT_TRUE(queue.push(frame("c1"), api::Lane::control));
  ASSERT_TRUE(queue.push(frame("b2"), api::Lane::bulk));
  ASSERT_TRUE(queue.push(frame("c2"), api::Lane::control));
  EXPECT_EQ(next(queue), "c1");
  EXPECT_EQ(next(queue), "c2");
  ASSERT_TRUE(queue.push(frame("c3"), api::Lane::control));
  EXPECT_EQ(next(queue), "c3");
  EXPECT_EQ(next(queue), "b1");
  EXPECT_EQ(next(queue), "b2");
  EXPECT_EQ(next(queue), "<empty>");
  EXPECT_TRUE(queue.empty());
}

// The session's writer looks at the next frame before taking it into a coalesced write.
TEST(OutboundQueue, PeekShowsWhatPopTakesNextAndLeavesItQueued) {
  OutboundQueue queue{1024};
  EXPECT_EQ(queue.peek(), nullptr);
  ASSERT_TRUE(queue.push(frame("b1"), api::Lane::bulk));
  ASSERT_NE(queue.peek(), nullptr);
  EXPECT_EQ(*queue.peek(), "b1");
  ASSERT_TRUE(queue.push(frame("c1"), api::Lane::control));
  ASSERT_NE(queue.peek(), nullptr);
  EXPECT_EQ(*queue.peek(), "c1");  // control first, as pop
  EXPECT_EQ(queue.queued_bytes(), 4u);
  EXPECT_EQ(next(queue), "c1");
  EXPECT_EQ(*queue.peek(), "b1");
  EXPECT_EQ(next(queue), "b1");
  EXPECT_EQ(queue.peek(), nullptr);
}

TEST(OutboundQueue, RefusesAFrameThatWouldExceedTheLimit) {
  OutboundQueue queue{10};
  ASSERT_TRUE(queue.push(frame("123456"), api::Lane::control));
  EXPECT_EQ(queue.queued_bytes(), 6u);
  EXPECT_FALSE(queue.push(frame("12345"), api::Lane::bulk));
  EXPECT_EQ(queue.queued_bytes(), 6u);
  EXPECT_TRUE(queue.push(frame("1234"), api::Lane::bulk));
  EXPECT_EQ(queue.queued_bytes(), 10u);
  queue.pop();
  EXPECT_EQ(queue.queued_bytes(), 4u);
  EXPECT_FALSE(queue.push(frame("12345678901"), api::Lane::control));
}

TEST(OutboundQueue, DropBulkKeepsControlFrames) {
  OutboundQueue queue{100};
  ASSERT_TRUE(queue.push(frame("bulk"), api::Lane::bulk));
  ASSERT_TRUE(queue.push(frame("ctl"), api::Lane::control));
  queue.drop_bulk();
  EXPECT_EQ(queue.queued_bytes(), 3u);
  EXPECT_EQ(next(queue), "ctl");
  EXPECT_TRUE(queue.empty());
  ASSERT_TRUE(queue.push(frame("x"), api::Lane::bulk));
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.queued_bytes(), 0u);
}

}  // namespace
}  // namespace tmc::net

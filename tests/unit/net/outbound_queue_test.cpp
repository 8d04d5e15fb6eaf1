// The two-lane outbound queue: priority, order, byte bound, and the ring each lane is.
#include "net/outbound_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>

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

// A ring that is full while its oldest frame is not in the first slot grows without losing the
// order: the frames after the wrap must come out after those before it.
TEST(FrameRing, KeepsOrderAcrossTheWrapAndWhileGrowing) {
  FrameRing ring;
  for (const char* text : {"1", "2", "3"}) ring.push_back(frame(text));
  EXPECT_EQ(*ring.pop_front(), "1");
  EXPECT_EQ(*ring.pop_front(), "2");
  for (const char* text : {"4", "5", "6", "7", "8"}) ring.push_back(frame(text));  // wraps, grows
  std::string order;
  while (!ring.empty()) order += *ring.pop_front();
  EXPECT_EQ(order, "345678");
}

// Against std::deque, with bursts and partial drains as a session sees them, in both lanes.
TEST(FrameRing, MatchesADequeOverRandomPushesAndPops) {
  std::mt19937 random{20261202};
  FrameRing ring;
  std::deque<std::string> model;
  std::size_t model_bytes = 0;
  for (int step = 0; step < 20000; ++step) {
    if (random() % 100 < 52) {
      std::string text(1 + random() % 40, static_cast<char>('a' + step % 26));
      model_bytes += text.size();
      model.push_back(text);
      ring.push_back(frame(std::move(text)));
    } else if (!model.empty()) {
      ASSERT_EQ(*ring.front(), model.front());
      ASSERT_EQ(*ring.pop_front(), model.front());
      model_bytes -= model.front().size();
      model.pop_front();
    }
    ASSERT_EQ(ring.size(), model.size());
    ASSERT_EQ(ring.bytes(), model_bytes);
  }
}

// An idle session's lanes hold no slots until a frame is sent; a drained lane keeps the few a
// small burst needed and gives back those of a large one.
TEST(FrameRing, HoldsOnlyWhatItsBurstsNeeded) {
  FrameRing ring;
  EXPECT_EQ(ring.capacity(), 0u);
  ring.push_back(frame("a"));
  ring.pop_front();
  EXPECT_EQ(ring.capacity(), 4u);
  for (int i = 0; i < 100; ++i) ring.push_back(frame("x"));
  EXPECT_GE(ring.capacity(), 100u);
  while (!ring.empty()) ring.pop_front();
  EXPECT_EQ(ring.capacity(), 0u);
  for (int i = 0; i < 100; ++i) ring.push_back(frame("x"));
  ring.clear();
  EXPECT_EQ(ring.capacity(), 0u);
  EXPECT_EQ(ring.bytes(), 0u);
}

}  // namespace
}  // namespace tmc::net

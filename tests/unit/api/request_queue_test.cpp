// RequestQueue: a lane's waiting requests, oldest first, with their bytes and arrivals.
#include "api/request_queue.hpp"

#include <gtest/gtest.h>

namespace tmc::api {
namespace {

RequestQueue::Entry entry(std::uint64_t request_id, std::size_t bytes, std::uint64_t arrival) {
  RequestQueue::Entry e;
  e.frame.set_request_id(request_id);
  e.bytes = bytes;
  e.arrival = arrival;
  return e;
}

TEST(RequestQueue, KeepsArrivalOrderAndCountsTheQueuedBytes) {
  RequestQueue queue;
  EXPECT_TRUE(queue.empty());
  queue.push_back(entry(7, 100, 1));
  queue.push_back(entry(8, 30, 2));
  queue.push_back(entry(9, 5, 4));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.bytes(), 135u);
  EXPECT_EQ(queue.front().frame.request_id(), 7u);
  EXPECT_EQ(queue[2].arrival, 4u);

  const auto first = queue.pop_front();
  EXPECT_EQ(first.frame.request_id(), 7u);
  EXPECT_EQ(first.bytes, 100u);
  EXPECT_EQ(queue.bytes(), 35u);
  EXPECT_EQ(queue.front().frame.request_id(), 8u);
  EXPECT_EQ(queue.pop_front().arrival, 2u);
  EXPECT_EQ(queue.pop_front().frame.request_id(), 9u);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_EQ(queue.bytes(), 0u);

  queue.push_back(entry(10, 12, 5));  // usable again once drained
  EXPECT_EQ(queue.front().frame.request_id(), 10u);
  EXPECT_EQ(queue.bytes(), 12u);
}

TEST(RequestQueue, ClearDropsEverything) {
  RequestQueue queue;
  queue.push_back(entry(1, 10, 1));
  queue.push_back(entry(2, 20, 2));
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
}

}  // namespace
}  // namespace tmc::api

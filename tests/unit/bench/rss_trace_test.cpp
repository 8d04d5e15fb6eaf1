// RSS traces: start, middle (by time), end and peak; the queue bound.
#include "rss_trace.hpp"

#include <gtest/gtest.h>

namespace tmc::bench {
namespace {

TEST(RssTrace, EmptyTraceIsAllZero) {
  const auto summary = RssTrace{}.summary();
  EXPECT_EQ(summary.samples, 0u);
  EXPECT_EQ(summary.peak_kib, 0);
  EXPECT_EQ(summary.middle_kib, 0);
}

TEST(RssTrace, MiddleIsTheSampleNearestHalfTimeNotHalfCount) {
  RssTrace trace;
  trace.add(0.0, 100);
  trace.add(0.1, 300);
  trace.add(0.2, 250);
  trace.add(4.9, 200);  // time 0 .. 10: the middle is 5.0
  trace.add(10.0, 150);
  const auto summary = trace.summary();
  EXPECT_EQ(summary.samples, 5u);
  EXPECT_EQ(summary.start_kib, 100);
  EXPECT_EQ(summary.middle_kib, 200);
  EXPECT_EQ(summary.end_kib, 150);
  EXPECT_EQ(summary.peak_kib, 300);
}

TEST(RssTrace, QueueBoundIsOneFullQueuePerStalledSession) {
  EXPECT_DOUBLE_EQ(queue_bound_kib(2, 1 << 20), 2048.0);
  EXPECT_DOUBLE_EQ(queue_bound_kib(0, 1 << 20), 0.0);
}

}  // namespace
}  // namespace tmc::bench

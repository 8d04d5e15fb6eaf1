// Fanout delivery counting: the last copy completes a message, once; strays are ignored.
#include "delivery_tracker.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tmc::bench {
namespace {

TEST(DeliveryTracker, TheLastCopyCompletesTheMessageOnce) {
  DeliveryTracker tracker(8, 3);
  tracker.sent(1);
  EXPECT_EQ(tracker.incomplete(), 1u);
  EXPECT_FALSE(tracker.arrive(1));
  EXPECT_FALSE(tracker.arrive(1));
  EXPECT_TRUE(tracker.arrive(1));
  EXPECT_EQ(tracker.incomplete(), 0u);
  EXPECT_FALSE(tracker.arrive(1));  // a duplicate beyond the recipients
}

TEST(DeliveryTracker, InterleavedMessagesAreCountedApart) {
  DeliveryTracker tracker(8, 2);
  for (std::uint64_t id = 10; id < 14; ++id) tracker.sent(id);
  EXPECT_FALSE(tracker.arrive(12));
  EXPECT_FALSE(tracker.arrive(10));
  EXPECT_TRUE(tracker.arrive(12));
  EXPECT_FALSE(tracker.arrive(11));
  EXPECT_TRUE(tracker.arrive(10));
  EXPECT_EQ(tracker.incomplete(), 2u);
}

TEST(DeliveryTracker, OneRecipientCompletesOnTheFirstCopy) {
  DeliveryTracker tracker(1, 1);
  tracker.sent(5);
  EXPECT_TRUE(tracker.arrive(5));
}

TEST(DeliveryTracker, UnknownAndForgottenMessagesAreIgnored) {
  DeliveryTracker tracker(4, 2);  // four slots
  EXPECT_FALSE(tracker.arrive(7));
  tracker.sent(1);
  EXPECT_FALSE(tracker.arrive(1));
  tracker.sent(5);  // takes message 1's slot: message 1 is forgotten, unfinished
  EXPECT_EQ(tracker.incomplete(), 1u);
  EXPECT_FALSE(tracker.arrive(1));
  EXPECT_FALSE(tracker.arrive(5));
  EXPECT_TRUE(tracker.arrive(5));
  EXPECT_EQ(tracker.incomplete(), 0u);
}

TEST(DeliveryTracker, CapacityIsRoundedUpToAPowerOfTwo) {
  DeliveryTracker tracker(5, 1);  // eight slots: ids 0..7 live side by side
  for (std::uint64_t id = 0; id < 8; ++id) tracker.sent(id);
  for (std::uint64_t id = 0; id < 8; ++id) EXPECT_TRUE(tracker.arrive(id)) << id;
}

TEST(DeliveryTracker, RefusesMessagesWithoutRecipients) {
  EXPECT_THROW(DeliveryTracker(8, 0), std::invalid_argument);
}

}  // namespace
}  // namespace tmc::bench

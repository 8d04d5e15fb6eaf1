// The live-session registry: shutdown fan-out and the single done callback.
#include "net/session_registry.hpp"

#include <gtest/gtest.h>

namespace tmc::net {
namespace {

struct FakeSession : Stoppable {
  void shut_down() override { ++shut_down_calls; }
  int shut_down_calls = 0;
};

TEST(SessionRegistry, StopWithNoSessionsCallsDoneAtOnce) {
  SessionRegistry registry;
  int done_calls = 0;
  EXPECT_TRUE(registry.stop([&] { ++done_calls; }));
  EXPECT_EQ(done_calls, 1);
  EXPECT_FALSE(registry.stop([&] { ++done_calls; }));  // already complete: called at once
  EXPECT_EQ(done_calls, 2);
  registry.expire_stop();
  EXPECT_EQ(done_calls, 2);
}

TEST(SessionRegistry, ALaterStopWaitsForTheSameCompletion) {
  SessionRegistry registry;
  auto session = std::make_shared<FakeSession>();
  const auto id = registry.add(session);
  int first_done = 0;
  int second_done = 0;
  ASSERT_TRUE(registry.stop([&] { ++first_done; }));
  EXPECT_FALSE(registry.stop([&] { ++second_done; }));
  EXPECT_EQ(session->shut_down_calls, 1);
  EXPECT_EQ(first_done + second_done, 0);
  registry.remove(*id);
  EXPECT_EQ(first_done, 1);
  EXPECT_EQ(second_done, 1);
}

TEST(SessionRegistry, StopShutsDownLiveSessionsAndWaitsForTheLast) {
  SessionRegistry registry;
  auto first = std::make_shared<FakeSession>();
  auto second = std::make_shared<FakeSession>();
  const auto first_id = registry.add(first);
  const auto second_id = registry.add(second);
  ASSERT_TRUE(first_id && second_id);
  EXPECT_NE(*first_id, *second_id);
  EXPECT_EQ(registry.size(), 2u);

  int done_calls = 0;
  ASSERT_TRUE(registry.stop([&] { ++done_calls; }));
  EXPECT_EQ(first->shut_down_calls, 1);
  EXPECT_EQ(second->shut_down_calls, 1);
  EXPECT_FALSE(registry.add(std::make_shared<FakeSession>()).has_value());

  registry.remove(*first_id);
  EXPECT_EQ(done_calls, 0);
  registry.remove(*second_id);
  EXPECT_EQ(done_calls, 1);
  registry.expire_stop();
  EXPECT_EQ(done_calls, 1);
}

TEST(SessionRegistry, ExpiredStopCallsDoneOnceEvenWithSessionsLeft) {
  SessionRegistry registry;
  auto session = std::make_shared<FakeSession>();
  const auto id = registry.add(session);
  int done_calls = 0;
  ASSERT_TRUE(registry.stop([&] { ++done_calls; }));
  registry.expire_stop();
  EXPECT_EQ(done_calls, 1);
  registry.remove(*id);
  EXPECT_EQ(done_calls, 1);
}

TEST(SessionRegistry, RemovingWithoutStopNeverCallsDone) {
  SessionRegistry registry;
  auto session = std::make_shared<FakeSession>();
  const auto id = registry.add(session);
  registry.remove(*id);
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace tmc::net

// Admission: a fixed number of holders at once, the others waiting their turn up to a limit.
#include "domain/admission.hpp"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;

TEST(Admission, HoldsNoMoreThanItsSlots) {
  Admission admission(2);
  auto first = admission.enter(0ms);
  auto second = admission.enter(0ms);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(admission.enter(0ms));
  first.reset();
  EXPECT_TRUE(admission.enter(0ms));  // the ticket given back is free again (and goes again)
}

TEST(Admission, AWaiterGetsTheSlotGivenBack) {
  Admission admission(1);
  auto held = admission.enter(0ms);
  ASSERT_TRUE(held);
  auto waiter = std::async(std::launch::async, [&] { return admission.enter(60s).has_value(); });
  while (admission.waiting() == 0) std::this_thread::yield();  // it waits for the slot
  held.reset();
  EXPECT_TRUE(waiter.get());
  EXPECT_EQ(admission.waiting(), 0);
}

}  // namespace
}  // namespace tmc::domain

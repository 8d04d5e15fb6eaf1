// Admission: a fixed number of holders at once, the others waiting their turn up to a limit,
// holding no thread while they wait.
#include "domain/admission.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <thread>
#include <vector>

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;

// Keeps the work handed to waiters whose turn came, to run when the test says.
struct Resumed {
  std::vector<std::function<void()>> work;
  Admission::Resume resume() {
    return [this](std::function<void()> next) { work.push_back(std::move(next)); };
  }
  void run_all() {
    auto taken = std::move(work);
    work.clear();
    for (auto& next : taken) next();
  }
};

// What a waiter was given: nothing yet, a slot (held until reset), or a refusal.
struct Outcome {
  bool answered = false;
  std::optional<Admission::Ticket> ticket;
  Admission::Turn turn() {
    return [this](std::optional<Admission::Ticket> given) {
      answered = true;
      if (given) ticket.emplace(std::move(*given));
    };
  }
};

TEST(Admission, HoldsNoMoreThanItsSlots) {
  Admission admission(2);
  auto first = admission.try_enter();
  auto second = admission.try_enter();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(admission.try_enter());
  first.reset();
  EXPECT_TRUE(admission.try_enter());  // the ticket given back is free again (and goes again)
}

TEST(Admission, AFreeSlotIsTakenAtOnceOnTheCallersThread) {
  Admission admission(1);
  Resumed resumed;
  Outcome outcome;
  admission.enter(60s, resumed.resume(), outcome.turn());
  EXPECT_TRUE(outcome.answered && outcome.ticket);
  EXPECT_TRUE(resumed.work.empty());
  EXPECT_FALSE(admission.try_enter());
}

// The slot given back goes to the first waiter, through its resume and not on the giver's
// stack; nobody arriving meanwhile can take it.
TEST(Admission, WaitersGetTheSlotGivenBackInTurnWithoutHoldingAThread) {
  Admission admission(1);
  auto held = admission.try_enter();
  ASSERT_TRUE(held);
  Resumed resumed;
  Outcome first;
  Outcome second;
  admission.enter(60s, resumed.resume(), first.turn());
  admission.enter(60s, resumed.resume(), second.turn());
  EXPECT_EQ(admission.waiting(), 2);
  EXPECT_FALSE(first.answered || second.answered);
  held.reset();
  ASSERT_EQ(resumed.work.size(), 1u);
  EXPECT_FALSE(first.answered);  // handed to its resume, not run by the thread giving back
  EXPECT_FALSE(admission.try_enter());
  resumed.run_all();
  EXPECT_TRUE(first.answered && first.ticket);
  EXPECT_FALSE(second.answered);
  EXPECT_EQ(admission.waiting(), 1);
  first.ticket.reset();
  resumed.run_all();
  EXPECT_TRUE(second.answered && second.ticket);
  EXPECT_EQ(admission.waiting(), 0);
}

TEST(Admission, WithoutAWaitABusyAdmissionRefusesAtOnce) {
  Admission admission(1);
  auto held = admission.try_enter();
  Resumed resumed;
  Outcome outcome;
  admission.enter(0ms, resumed.resume(), outcome.turn());
  EXPECT_TRUE(outcome.answered);
  EXPECT_FALSE(outcome.ticket);
  EXPECT_EQ(admission.waiting(), 0);
}

// A waiter whose wait ran out is refused when the next slot is given back, which then goes to
// the next waiter still in time (or stays free).
TEST(Admission, AWaiterPastItsWaitIsRefusedAndPassedOver) {
  Admission admission(1);
  auto held = admission.try_enter();
  Resumed resumed;
  Outcome late;
  Outcome in_time;
  admission.enter(1ms, resumed.resume(), late.turn());
  const auto deadline = std::chrono::steady_clock::now() + 1ms;  // after the waiter's own
  admission.enter(60s, resumed.resume(), in_time.turn());
  while (std::chrono::steady_clock::now() <= deadline) std::this_thread::yield();
  held.reset();
  resumed.run_all();
  EXPECT_TRUE(late.answered);
  EXPECT_FALSE(late.ticket);
  EXPECT_TRUE(in_time.answered && in_time.ticket);
  in_time.ticket.reset();
  EXPECT_TRUE(admission.try_enter());
}

}  // namespace
}  // namespace tmc::domain

// GroupCommitWriter against a scripted fake backend: batching, savepoints, failure fan-out.
#include "store/group_commit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmc::store {
namespace {

// Records every primitive the writer calls; can be told to fail one of them.
class FakeBackend final : public BatchBackend {
 public:
  void begin() override { record("begin"); }
  void commit() override {
    record("commit");
    if (fail_commit_) throw StoreError("disk I/O error");
  }
  void rollback() noexcept override { record("rollback"); }
  void savepoint() override {
    record("savepoint");
    if (fail_savepoint_) throw StoreError("savepoint failed");
  }
  void release_savepoint() override { record("release"); }
  void rollback_to_savepoint() override { record("rollback_to"); }
  bool idle() noexcept override {
    ++idles_;
    if (on_idle_) on_idle_();
    return idle_steps_wanted_.fetch_sub(1) > 0;
  }

  void record(const std::string& event) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

  bool fail_commit_ = false;  // set before the writer runs the batch
  bool fail_savepoint_ = false;
  std::function<void()> on_idle_;  // set while the writer is held or before it has work
  std::atomic<int> idles_{0};
  std::atomic<int> idle_steps_wanted_{0};  // idle() calls that ask to be called again

 private:
  std::mutex mutex_;
  std::vector<std::string> events_;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  // Queues an op that holds the writer until the returned function is called; ops queued
  // meanwhile form the next batch.
  std::function<void()> hold_writer() {
    auto entered = std::make_shared<std::promise<void>>();
    auto release = std::make_shared<std::promise<void>>();
    writer_.write_async(
        [entered, gate = release->get_future().share()] {
          entered->set_value();
          gate.wait();
          return true;
        },
        nullptr);
    entered->get_future().wait();
    return [release] { release->set_value(); };
  }

  FakeBackend backend_;
  GroupCommitWriter writer_{backend_, 8};
};

using events = std::vector<std::string>;

TEST_F(GroupCommitTest, KeptAndRejectedOpsShareOneCommitAndCompleteAfterIt) {
  auto release = hold_writer();
  std::promise<bool> first;
  std::promise<bool> second;
  writer_.write_async(
      [this] {
        backend_.record("op1");
        return true;
      },
      [&](bool kept, std::exception_ptr) {
        backend_.record("done1");
        first.set_value(kept);
      });
  writer_.write_async(
      [this] {
        backend_.record("op2");
        return false;
      },
      [&](bool kept, std::exception_ptr) {
        backend_.record("done2");
        second.set_value(kept);
      });
  release();
  EXPECT_TRUE(first.get_future().get());
  EXPECT_FALSE(second.get_future().get());
  writer_.stop();

  EXPECT_EQ(backend_.events(), (events{"begin", "savepoint", "release", "commit",  // the holding op
                                       "begin", "savepoint", "op1", "release", "savepoint", "op2",
                                       "rollback_to", "commit", "done1", "done2"}));
  const auto stats = writer_.stats();
  EXPECT_EQ(stats.batches_committed, 2u);
  EXPECT_EQ(stats.ops_committed, 3u);
  EXPECT_EQ(stats.last_batch_size, 2u);
  EXPECT_EQ(stats.batches_failed, 0u);
}

TEST_F(GroupCommitTest, IdleUpkeepWaitsUntilNothingIsQueuedAndTheAnswersAreOut) {
  auto release = hold_writer();
  std::promise<std::vector<std::string>> at_idle;
  backend_.on_idle_ = [&, once = std::make_shared<std::once_flag>()] {
    std::call_once(*once, [&] { at_idle.set_value(backend_.events()); });
  };
  for (const std::string name : {"1", "2"}) {
    writer_.write_async(
        [this, name] {
          backend_.record("op" + name);
          return true;
        },
        [this, name](bool, std::exception_ptr) { backend_.record("done" + name); });
  }
  release();
  const auto seen = at_idle.get_future().get();
  // Not after the holding batch (more was queued), only after the last batch was answered.
  EXPECT_EQ(seen, (events{"begin", "savepoint", "release", "commit", "begin", "savepoint", "op1",
                          "release", "savepoint", "op2", "release", "commit", "done1", "done2"}));
  writer_.stop();
  EXPECT_EQ(backend_.idles_, 1);
}

TEST_F(GroupCommitTest, IdleUpkeepInStepsGoesOnUntilDoneAndLetsNewOpsGoFirst) {
  backend_.idle_steps_wanted_ = 3;
  std::promise<void> last_step;
  backend_.on_idle_ = [&, calls = std::make_shared<int>(0)] {
    backend_.record("idle");
    if (++*calls == 2) {
      // Queued during the upkeep: runs before the next step.
      writer_.write_async(
          [this] {
            backend_.record("op2");
            return true;
          },
          nullptr);
    }
    if (*calls == 4) last_step.set_value();
  };
  writer_.write_async(
      [this] {
        backend_.record("op1");
        return true;
      },
      nullptr);
  last_step.get_future().wait();
  writer_.stop();
  // Three steps asked to go on, so the fourth call ended the upkeep; op2 went between steps.
  EXPECT_EQ(backend_.events(),
            (events{"begin", "savepoint", "op1", "release", "commit", "idle", "idle", "begin",
                    "savepoint", "op2", "release", "commit", "idle", "idle"}));
  EXPECT_EQ(backend_.idles_, 4);
}

// Tasks handed off by the writer, run by the test when it chooses.
class HandedTasks {
 public:
  GroupCommitWriter::Handoff handoff() {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return tasks_.size();
  }
  void run_all() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) task();
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
};

TEST_F(GroupCommitTest, WithAHandoffABatchIsAnsweredByOneTaskInOrderAndBlockingWritesAreNot) {
  HandedTasks handed;
  writer_.set_completion_handoff(handed.handoff());
  auto release = hold_writer();
  for (const std::string name : {"1", "2", "3"}) {
    writer_.write_async([] { return true; },
                        [this, name](bool kept, std::exception_ptr error) {
                          EXPECT_TRUE(kept);
                          EXPECT_FALSE(error);
                          backend_.record("done" + name);
                        });
  }
  // A blocking caller (in that batch or the next) is released on the writer thread: no task
  // runs before it returns.
  auto blocking =
      std::async(std::launch::async, [this] { return writer_.write([] { return true; }); });
  release();
  EXPECT_TRUE(blocking.get());
  writer_.stop();
  // The three queued behind the holding op form one batch: one task for all of them. The
  // holding op and the blocking write have no task.
  EXPECT_EQ(handed.size(), 1u);
  auto seen = backend_.events();
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(), [](const std::string& e) {
              return e.rfind("done", 0) == 0;
            }),
            0);
  handed.run_all();
  seen = backend_.events();
  EXPECT_EQ(std::vector<std::string>(seen.end() - 3, seen.end()),
            (events{"done1", "done2", "done3"}));
}

// A BatchTail for the fake backend: appends a marker event when it has something queued.
struct RecordingTail {
  explicit RecordingTail(FakeBackend& recorder) : backend(recorder) {}

  FakeBackend& backend;
  int queued = 0;
  bool refuse = false;  // append returns false (its savepoint is rolled back)
  bool fail = false;    // append throws
  std::vector<BatchTail::Settled> settled;

  GroupCommitWriter::Tail bind() {
    return {[this] { return queued > 0; },
            [this] {
              backend.record("tail");
              if (fail) throw std::runtime_error("tail broke");
              return !refuse;
            },
            [this](BatchTail::Settled how) {
              backend.record("settled");
              settled.push_back(how);
              queued = 0;
            }};
  }
};

TEST_F(GroupCommitTest, TheTailJoinsTheEndOfEachBatchAndHearsHowItSettled) {
  RecordingTail tail(backend_);
  writer_.set_tail(tail.bind());
  auto release = hold_writer();
  writer_.write_async(
      [&] {
        backend_.record("op");
        ++tail.queued;  // an op records something for the tail (on the writer thread)
        return true;
      },
      [this](bool, std::exception_ptr) { backend_.record("done"); });
  release();
  writer_.stop();
  EXPECT_EQ(backend_.events(),
            (events{"begin", "savepoint", "release", "commit", "settled",  // nothing wanted
                    "begin", "savepoint", "op", "release", "savepoint", "tail", "release",
                    "commit", "settled", "done"}));
  EXPECT_EQ(tail.settled, (std::vector<BatchTail::Settled>{BatchTail::Settled::not_appended,
                                                           BatchTail::Settled::committed}));
}

TEST_F(GroupCommitTest, ATailThatFailsLeavesTheBatchCommittedAndAFailedBatchTakesTheTailWithIt) {
  RecordingTail tail(backend_);
  writer_.set_tail(tail.bind());
  tail.queued = 1;
  tail.fail = true;
  EXPECT_TRUE(writer_.write([] { return true; }));  // committed without the tail
  tail.queued = 1;
  tail.fail = false;
  tail.refuse = true;
  EXPECT_TRUE(writer_.write([] { return true; }));
  tail.queued = 1;
  tail.refuse = false;
  backend_.fail_commit_ = true;
  EXPECT_THROW(writer_.write([] { return true; }), StoreError);
  writer_.stop();
  EXPECT_EQ(tail.settled,
            (std::vector<BatchTail::Settled>{BatchTail::Settled::not_appended,
                                             BatchTail::Settled::not_appended,
                                             BatchTail::Settled::batch_failed}));
  const auto seen = backend_.events();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "rollback_to"), 2);  // the two failed tails
}

TEST_F(GroupCommitTest, ClearingTheTailWaitsForTheBatchUsingIt) {
  RecordingTail tail(backend_);
  writer_.set_tail(tail.bind());
  auto release = hold_writer();
  std::atomic<bool> cleared{false};
  auto clearing = std::async(std::launch::async, [&] {
    writer_.set_tail(std::nullopt);
    cleared = true;
  });
  // The held batch took the tail: clearing cannot return before it settles.
  EXPECT_EQ(clearing.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_FALSE(cleared);
  release();
  clearing.get();
  EXPECT_EQ(tail.settled.size(), 1u);
  EXPECT_TRUE(writer_.write([] { return true; }));  // later batches run without it
  writer_.stop();
  EXPECT_EQ(tail.settled.size(), 1u);
}

TEST_F(GroupCommitTest, BatchesAreCappedAtMaxBatch) {
  auto release = hold_writer();
  std::vector<std::future<bool>> results;
  for (int i = 0; i < 20; ++i) {
    auto promise = std::make_shared<std::promise<bool>>();
    results.push_back(promise->get_future());
    writer_.write_async([] { return true; },
                        [promise](bool kept, std::exception_ptr) { promise->set_value(kept); });
  }
  release();
  for (auto& result : results) EXPECT_TRUE(result.get());
  const auto stats = writer_.stats();
  EXPECT_EQ(stats.ops_committed, 21u);
  EXPECT_EQ(stats.batches_committed, 4u);  // 1 holding op, then 8 + 8 + 4
  EXPECT_EQ(stats.last_batch_size, 4u);
}

TEST_F(GroupCommitTest, CommitFailureFailsEveryOpOfTheBatch) {
  auto release = hold_writer();
  backend_.fail_commit_ = true;  // the writer is parked inside the holding op's batch
  std::promise<std::exception_ptr> first;
  std::promise<std::exception_ptr> second;
  writer_.write_async([] { return true; },
                      [&](bool, std::exception_ptr error) { first.set_value(error); });
  writer_.write_async([]() -> bool { throw std::logic_error("op bug"); },
                      [&](bool, std::exception_ptr error) { second.set_value(error); });
  release();
  for (auto* result : {&first, &second}) {
    auto error = result->get_future().get();
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), StoreError);
  }
  const auto stats = writer_.stats();
  EXPECT_EQ(stats.batches_failed, 2u);  // the holding batch failed its commit as well
  EXPECT_EQ(stats.batches_committed, 0u);
  const auto log = backend_.events();
  EXPECT_EQ(std::count(log.begin(), log.end(), "rollback"), 2);
}

TEST_F(GroupCommitTest, EngineErrorOutsideAnOpAbortsTheBatch) {
  auto release = hold_writer();
  backend_.fail_savepoint_ = true;
  std::promise<std::exception_ptr> result;
  writer_.write_async([] { return true; },
                      [&](bool, std::exception_ptr error) { result.set_value(error); });
  release();
  auto error = result.get_future().get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), StoreError);
  EXPECT_EQ(backend_.events().back(), "rollback");
}

TEST_F(GroupCommitTest, BlockingWriteRethrowsTheOpsException) {
  EXPECT_THROW(writer_.write([]() -> bool { throw std::invalid_argument("bad"); }),
               std::invalid_argument);
  EXPECT_TRUE(writer_.write([] { return true; }));
  EXPECT_FALSE(writer_.write([] { return false; }));
}

TEST_F(GroupCommitTest, StopDrainsQueuedOpsThenRefusesNewOnes) {
  auto release = hold_writer();
  int ran = 0;  // touched by the writer thread only until stop() joins it
  for (int i = 0; i < 5; ++i) {
    writer_.write_async(
        [&ran] {
          ++ran;
          return true;
        },
        nullptr);
  }
  release();
  writer_.stop();
  EXPECT_EQ(ran, 5);
  EXPECT_THROW(writer_.write([] { return true; }), StoreError);
  EXPECT_THROW(writer_.write_async([] { return true; }, nullptr), StoreError);
}

TEST_F(GroupCommitTest, ThrowingCompletionDoesNotStopTheWriter) {
  writer_.write_async([] { return true; },
                      [](bool, std::exception_ptr) { throw std::runtime_error("callback bug"); });
  EXPECT_TRUE(writer_.write([] { return true; }));
}

TEST_F(GroupCommitTest, BlockingWriteFromTheWriterThreadThrowsInsteadOfDeadlocking) {
  std::promise<std::exception_ptr> result;
  writer_.write_async([] { return true; },
                      [&](bool, std::exception_ptr) {
                        try {
                          writer_.write([] { return true; });
                          result.set_value(nullptr);
                        } catch (...) {
                          result.set_value(std::current_exception());
                        }
                      });
  auto error = result.get_future().get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), StoreError);
}

}  // namespace
}  // namespace tmc::store

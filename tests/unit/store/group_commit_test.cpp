// GroupCommitWriter against a scripted fake backend: batching, savepoints, failure fan-out.
#include "store/group_commit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
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
  void idle() noexcept override {
    ++idles_;
    if (on_idle_) on_idle_();
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

// Group commit writer: queue, batch loop, per-op savepoints and completion after commit.
#include "store/group_commit.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <utility>

#include "common/thread_name.hpp"

namespace tmc::store {
namespace {

// The writer whose thread this is, if any (detects a blocking write from an op or completion).
thread_local const GroupCommitWriter* running_writer = nullptr;

}  // namespace

GroupCommitWriter::GroupCommitWriter(BatchBackend& backend, std::size_t max_batch)
    : backend_(backend), max_batch_(max_batch == 0 ? 1 : max_batch), thread_([this] { run(); }) {
  name_thread(thread_, "tmc-writer");
}

GroupCommitWriter::~GroupCommitWriter() { stop(); }

bool GroupCommitWriter::write(BatchOp op) {
  if (running_writer == this) {
    throw StoreError("blocking write from the writer thread");
  }
  std::promise<bool> result;
  auto future = result.get_future();
  auto done = [&result](bool kept, std::exception_ptr error) {
    if (error) {
      result.set_exception(std::move(error));
    } else {
      result.set_value(kept);
    }
  };
  enqueue(Pending{std::move(op), std::move(done), true});
  return future.get();
}

void GroupCommitWriter::write_async(BatchOp op, Completion done) {
  enqueue(Pending{std::move(op), std::move(done), false});
}

void GroupCommitWriter::enqueue(Pending pending) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw StoreError("store is closed");
    queue_.push_back(std::move(pending));
    backend_.op_queued();
  }
  wake_.notify_one();
}

void GroupCommitWriter::set_completion_handoff(Handoff handoff) {
  std::lock_guard lock(mutex_);
  handoff_ = std::move(handoff);
}

void GroupCommitWriter::set_tail(std::optional<Tail> tail) {
  if (running_writer == this) throw StoreError("batch tail changed from the writer thread");
  {
    std::lock_guard lock(mutex_);
    const bool clearing = !tail;
    tail_ = tail ? std::make_shared<Tail>(std::move(*tail)) : nullptr;
    if (!clearing) return;
  }
  // A batch that took the old tail holds tail_use_ until it is settled.
  std::lock_guard use(tail_use_);
}

void GroupCommitWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

WriterStats GroupCommitWriter::stats() const {
  WriterStats stats;
  stats.batches_committed = batches_committed_.load();
  stats.ops_committed = ops_committed_.load();
  stats.batches_failed = batches_failed_.load();
  stats.last_batch_size = last_batch_size_.load();
  stats.commit_seconds_total = static_cast<double>(commit_microseconds_total_.load()) / 1e6;
  return stats;
}

void GroupCommitWriter::run() {
  running_writer = this;
  std::vector<Pending> batch;
  Handoff handoff;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      handoff = handoff_;
    }
    {
      std::lock_guard use(tail_use_);
      std::shared_ptr<Tail> tail;
      {
        std::lock_guard lock(mutex_);
        tail = tail_;
      }
      run_batch(batch, handoff, tail.get());
    }
    batch.clear();
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (!queue_.empty()) break;
      }
      if (!backend_.idle()) break;
    }
  }
}

namespace {

void complete(GroupCommitWriter::Completion& done, bool kept, std::exception_ptr error) noexcept {
  try {
    done(kept, std::move(error));
  } catch (const std::exception& e) {
    // A completion must not take its thread down; its text is ours, never row data.
    spdlog::error("store: write completion threw: {}", e.what());
  } catch (...) {
    spdlog::error("store: write completion threw a non-standard exception");
  }
}

}  // namespace

void GroupCommitWriter::run_batch(std::vector<Pending>& batch, const Handoff& handoff,
                                  Tail* tail) {
  auto outcomes = execute(batch, tail);
  struct Answer {
    Completion done;
    Outcome outcome;
  };
  std::vector<Answer> handed;
  // Grown one push at a time, a batch of hundreds reallocated it about eight times, and each
  // allocation past 1 KiB made glibc consolidate its free lists (1.7% of the writer's CPU).
  if (handoff) handed.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].done) continue;
    if (handoff && !batch[i].blocking) {
      handed.push_back(Answer{std::move(batch[i].done), std::move(outcomes[i])});
    } else {
      complete(batch[i].done, outcomes[i].kept, std::move(outcomes[i].error));
    }
  }
  if (handed.empty()) return;
  auto answer_all = [answers = std::make_shared<std::vector<Answer>>(std::move(handed))] {
    for (auto& answer : *answers) {
      complete(answer.done, answer.outcome.kept, std::move(answer.outcome.error));
    }
  };
  try {
    handoff(answer_all);
  } catch (const std::exception& e) {  // nothing was posted (the handoff could not allocate)
    spdlog::error("store: completion handoff failed ({}); answering on the writer", e.what());
    answer_all();
  }
}

std::vector<GroupCommitWriter::Outcome> GroupCommitWriter::execute(std::vector<Pending>& batch,
                                                                   Tail* tail) {
  std::vector<Outcome> outcomes(batch.size());
  try {
    backend_.begin();
    for (std::size_t i = 0; i < batch.size(); ++i) outcomes[i] = run_op(batch[i].op);
    bool appended = false;
    if (tail != nullptr && tail->wanted()) {
      const auto outcome = run_op(tail->append);
      appended = outcome.kept;
      if (outcome.error) {
        try {
          std::rethrow_exception(outcome.error);
        } catch (const std::exception& e) {
          spdlog::error("store: batch tail failed: {}", e.what());
        } catch (...) {
          spdlog::error("store: batch tail failed");
        }
      }
    }
    const auto started = std::chrono::steady_clock::now();
    backend_.commit();
    const auto elapsed = std::chrono::steady_clock::now() - started;
    commit_microseconds_total_ +=
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    batches_committed_ += 1;
    ops_committed_ += batch.size();
    last_batch_size_ = batch.size();
    if (tail != nullptr) {
      tail->settled(appended ? BatchTail::Settled::committed : BatchTail::Settled::not_appended);
    }
    return outcomes;
  } catch (const StoreError& e) {
    spdlog::error("store: write batch of {} ops failed: {}", batch.size(), e.what());
    backend_.rollback();
    if (tail != nullptr) tail->settled(BatchTail::Settled::batch_failed);
    batches_failed_ += 1;
    last_batch_size_ = batch.size();
    const auto error = std::current_exception();
    for (auto& outcome : outcomes) outcome = Outcome{false, error};
    return outcomes;
  }
}

GroupCommitWriter::Outcome GroupCommitWriter::run_op(BatchOp& op) {
  backend_.savepoint();
  Outcome outcome;
  try {
    outcome.kept = op();
  } catch (...) {
    outcome.error = std::current_exception();
  }
  if (outcome.kept && !outcome.error) {
    backend_.release_savepoint();
  } else {
    outcome.kept = false;
    backend_.rollback_to_savepoint();  // throws StoreError (failing the batch) if that is lost
  }
  return outcome;
}

}  // namespace tmc::store

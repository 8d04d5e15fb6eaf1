// Backend-neutral group commit: one writer thread batches queued write ops into one transaction.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace tmc::store {

// The transaction primitives a backend offers the writer. Every method but op_queued runs on the
// writer thread only and throws StoreError on failure. Savepoints are not nested: one is open at
// a time.
class BatchBackend {
 public:
  virtual ~BatchBackend() = default;
  virtual void begin() = 0;                  // start the batch transaction (write lock taken)
  virtual void commit() = 0;                 // durable once this returns
  virtual void rollback() noexcept = 0;      // abandon the batch transaction, if one is open
  virtual void savepoint() = 0;              // open the per-op savepoint
  virtual void release_savepoint() = 0;      // keep the op's changes
  virtual void rollback_to_savepoint() = 0;  // drop the op's changes and close the savepoint
  // Called when a batch's callers are answered (or their answers handed off) and nothing else
  // is queued: upkeep that should not sit between a commit and its answers (SQLite's WAL
  // checkpoint). Ops queued meanwhile wait for it, so each call should be short: a backend with
  // more to do returns true and is called again while nothing is queued.
  virtual bool idle() noexcept { return false; }
  // Called on the thread that queues an op, with the queue locked: a backend whose idle() upkeep
  // can stop early (SQLite's checkpoint) stops it, so that the op does not wait for it. The one
  // method called off the writer thread; it must be quick and must not call the writer.
  virtual void op_queued() noexcept {}
};

// Queues ops for a single writer thread. The writer takes everything pending (up to max_batch),
// runs begin, then each op inside its own savepoint, then commit, and only then completes every
// caller of the batch.
//  - An op returning false, or throwing anything, has its own savepoint rolled back; the rest of
//    the batch is unaffected and the op's caller gets its exception back. When rolling back to
//    the savepoint itself fails (the engine lost the transaction), the whole batch fails.
//  - A StoreError from begin/savepoint/release/commit fails the whole batch: it is rolled back
//    and every caller of the batch gets that StoreError.
// Ops and completions run on the writer thread and must not call write() (it would wait for
// itself): write() on the writer thread throws StoreError instead of deadlocking.
// With a completion handoff set, the write_async completions of each batch are instead handed
// to it as one task, in commit order (one wake-up of the receiving thread per batch rather than
// one per op); write() callers are still released on the writer thread.
class GroupCommitWriter {
 public:
  using BatchOp = std::function<bool()>;
  using Completion = std::function<void(bool kept, std::exception_ptr error)>;
  using Handoff = CompletionHandoff;
  // A BatchTail with its Tx bound by the store (see Store::set_batch_tail).
  struct Tail {
    std::function<bool()> wanted;
    BatchOp append;
    std::function<void(BatchTail::Settled)> settled;
  };

  GroupCommitWriter(BatchBackend& backend, std::size_t max_batch);
  ~GroupCommitWriter();  // stop()
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Blocks until op's batch committed; returns what op returned or rethrows its exception (or the
  // batch's StoreError). Throws StoreError when the writer is stopped or when called on the
  // writer thread. Thread-safe.
  bool write(BatchOp op);

  // Completion runs after the batch commit (or failure): on the writer thread, or in the
  // batch's task given to the handoff. Throws StoreError when the writer is stopped.
  // Thread-safe.
  void write_async(BatchOp op, Completion done);

  // Sets (or, with an empty function, clears) the handoff for later batches. Thread-safe.
  void set_completion_handoff(Handoff handoff);

  // Sets (or, with nullopt, clears) the tail run at the end of every later batch (its own
  // savepoint, before the commit). Clearing returns once no batch uses the old tail any more.
  // Thread-safe; not on the writer thread.
  void set_tail(std::optional<Tail> tail);

  // Runs every op already queued, then joins the writer thread. Idempotent.
  void stop();

  WriterStats stats() const;

 private:
  struct Pending {
    BatchOp op;
    Completion done;
    bool blocking = false;  // a write() caller: released on the writer thread
  };
  struct Outcome {
    bool kept = false;
    std::exception_ptr error;
  };

  void run();
  void run_batch(std::vector<Pending>& batch, const Handoff& handoff, Tail* tail);
  void enqueue(Pending pending);
  std::vector<Outcome> execute(std::vector<Pending>& batch, Tail* tail);
  Outcome run_op(BatchOp& op);

  BatchBackend& backend_;
  const std::size_t max_batch_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  Handoff handoff_;
  std::shared_ptr<Tail> tail_;
  std::mutex tail_use_;  // held by the writer while a batch may use a tail (lock before mutex_)
  bool stopping_ = false;

  std::atomic<std::uint64_t> batches_committed_{0};
  std::atomic<std::uint64_t> ops_committed_{0};
  std::atomic<std::uint64_t> batches_failed_{0};
  std::atomic<std::uint64_t> last_batch_size_{0};
  std::atomic<std::uint64_t> commit_microseconds_total_{0};

  std::thread thread_;  // last: starts after every member above is ready
};

// The writer's form of a store's BatchTail (nullopt for none), given how the store binds a
// WriteOp to its transaction.
template <class BindOp>
std::optional<GroupCommitWriter::Tail> writer_tail(BatchTail* tail, BindOp&& bind_op) {
  if (tail == nullptr) return std::nullopt;
  return GroupCommitWriter::Tail{[tail] { return tail->wanted(); },
                                 bind_op([tail](Tx& tx) { return tail->append(tx); }),
                                 [tail](BatchTail::Settled how) { tail->settled(how); }};
}

}  // namespace tmc::store

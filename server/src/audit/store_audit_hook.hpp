// The AuditHook of a running process: queues events and appends them to the store's audit log
// in batches from a background thread (group commit), signing tree heads periodically.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>
#include <thread>

#include "audit/audit_log.hpp"
#include "audit/signing_key.hpp"
#include "common/clock.hpp"
#include "domain/audit_hook.hpp"
#include "store/store.hpp"

namespace tmc::audit {

struct AuditHookOptions {
  // A tree head is signed when unsigned records are this old, at flush() and at destruction.
  std::chrono::milliseconds head_interval{10000};
  std::size_t max_batch = 1024;  // most events per store write
  // How long the writer waits, once an event reaches its empty queue, for more to share the
  // store write (each write is a commit and an fsync of its own). A flush, a stop or max_batch
  // waiting events end the wait. Events recorded off the write path, such as every `resume`,
  // otherwise come one or two to a commit.
  std::chrono::milliseconds gather_delay{5};
  std::chrono::milliseconds retry_delay{500};  // after a failed store write
  // Written as the actor of events that have none (tmc-admin names the operator this way).
  std::string default_actor;
};

// Why a background writer: record() is called on request paths and even inside store write ops
// (on the store's writer thread), so it must never wait for the store. It stamps the time,
// queues the event and returns; the writer thread takes everything queued (up to max_batch) and
// appends it in one Store::write, so one fsync covers many records while requests keep going.
//
// Lifecycle: default-constructed (so a service can be handed the hook before the store is
// open), then start(); events recorded before start() wait in the queue. The destructor writes
// every queued event, signs a final head and joins the thread: nothing is lost on a graceful
// stop. The store must outlive the hook. A failed store write is logged and retried; a record
// the store cannot hold is set aside (see store_one_by_one).
// record() and flush() are thread-safe.
//
// Events about a write op (record_in, from inside the op) skip the queue: once started, the
// hook is the store's batch tail and appends them at the end of the op's own batch, so they
// share its commit. If that batch is rolled back they are dropped with the ops they describe;
// if only the tail's savepoint fails they go to the queue.
class StoreAuditHook final : public domain::AuditHook, private store::BatchTail {
 public:
  StoreAuditHook() = default;
  ~StoreAuditHook() override;
  StoreAuditHook(const StoreAuditHook&) = delete;
  StoreAuditHook& operator=(const StoreAuditHook&) = delete;

  // Starts the writer. clock stamps events and heads and must outlive the hook. Call once.
  void start(store::Store& store, SigningKey key, const Clock& clock,
             AuditHookOptions options = {});

  void record(const domain::AuditEvent& event) override;
  void record_in(store::Tx& tx, const domain::AuditEvent& event) override;

  // Blocks until every event recorded before the call is durable and covered by a stored signed
  // head. Returns at once when not started. Never call it on the store's writer thread.
  void flush();
  // flush() for at most timeout (a stop while the database is away must not wait for it): true
  // once every event recorded before the call is durable and under a signed head.
  bool flush_for(std::chrono::milliseconds timeout);

 private:
  void run();
  bool head_due(std::chrono::steady_clock::time_point now) const;
  // With mutex_ held, or on the writer thread (what it reads is set before the thread starts).
  TimedEvent stamp(const domain::AuditEvent& event) const;

  // After a failed batch, on the writer thread, without mutex_: if the store takes an empty
  // write, the batch's records are written one by one. A record that fails alone for a reason
  // of its own (not a StoreError), or fails alone three times while the store takes other
  // writes, is set aside: logged by action, and noted by an `audit.record_not_stored` record.
  // Stops at the first record to retry later; settled counts the records before it.
  struct Isolated {
    std::size_t settled = 0;  // stored or set aside, from the batch's front
    std::size_t stored = 0;
    std::vector<TimedEvent> notes;  // one per record set aside
  };
  Isolated store_one_by_one(const std::vector<TimedEvent>& batch);

  // store::BatchTail, on the store's writer thread.
  bool wanted() override;
  bool append(store::Tx& tx) override;
  void settled(Settled how) noexcept override;

  std::mutex mutex_;
  std::condition_variable wake_;     // writer: work queued, flush requested or stopping
  std::condition_variable written_;  // flush() waiters
  std::deque<TimedEvent> queue_;
  std::vector<TimedEvent> in_tx_;  // recorded by ops of the writer's current batch
  std::vector<TimedEvent> held_;   // appended by the current batch's tail, not yet settled
  std::uint64_t recorded_ = 0;      // events ever queued
  std::uint64_t durable_ = 0;       // events ever committed
  std::uint64_t tail_commits_ = 0;  // batches whose tail committed events
  std::uint64_t signed_up_to_ = 0;  // events covered by a signed head
  std::uint64_t flush_target_ = 0;  // a flush() waits for a head covering this many events
  bool stopping_ = false;
  bool tail_registered_ = false;
  std::optional<std::chrono::steady_clock::time_point> oldest_unsigned_;
  int front_strikes_ = 0;  // writer thread only: the queue's first record's failures alone

  store::Store* store_ = nullptr;
  const Clock* clock_ = nullptr;
  std::optional<SigningKey> key_;
  std::optional<AuditLog> log_;
  AuditHookOptions options_;
  std::thread thread_;
};

}  // namespace tmc::audit

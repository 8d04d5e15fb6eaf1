// Cross-node events: what one node delivered to its live sessions reaches the sessions of the
// users connected to the other nodes sharing its PostgreSQL store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "common/clock.hpp"
#include "domain/sealed_fields.hpp"
#include "store/store.hpp"

namespace tmc::cluster {

struct RelayOptions {
  // Longest wait for a notification before the log is read anyway (the safety net for a
  // missed one).
  std::chrono::milliseconds poll_interval{1000};
  // How long one wait may block: bounds how long stop() takes.
  std::chrono::milliseconds stop_latency{100};
  // Events older than this are deleted; a node cut off for longer misses their live push
  // (the consultation log itself is kept, so clients still get everything on sync).
  std::chrono::seconds retention{std::chrono::hours(1)};
  std::chrono::seconds prune_interval{60};
  // A node's event data key is replaced after this long.
  std::chrono::seconds key_lifetime{std::chrono::hours(1)};
};

// The journal side (record) runs on the threads that publish; the delivery side runs on the
// relay's own thread: it waits for NOTIFY (or the poll interval), reads the events after the
// last one it saw, and hands those of other nodes to Api::deliver_frame. After a lost
// connection it reconnects and reads everything it missed, so no event is lost; an event
// written twice (a retried journal write) may be delivered twice, never skipped.
//
// Events are sealed (AES-256-GCM) under a data key wrapped by the deployment's key ring: the
// frames carry clinical text, and the event table is clinical content at rest like any other.
class EventRelay {
 public:
  EventRelay(store::Store& store, const domain::Vault& vault, api::Api& api, const Clock& clock,
             RelayOptions options = {});
  ~EventRelay();
  EventRelay(const EventRelay&) = delete;
  EventRelay& operator=(const EventRelay&) = delete;

  const std::string& node_id() const { return node_id_; }

  // The Api's journal: appends the events to the store and returns once they are durable, so
  // an answered request's events reach the other nodes even if this node dies right after.
  // When the store is unavailable the events are kept and written by the relay thread later.
  void record(const std::vector<api::PublishedEvent>& events);
  // The Api's tx journal: appends the events inside the write transaction that caused them,
  // so they commit with it or not at all (no window in which a change is committed and its
  // event is not). Throws StoreError like any write in tx.
  void record_in(store::Tx& tx, const std::vector<api::PublishedEvent>& events);

  // Starts delivering other nodes' events; begins after the newest event already stored.
  void start(std::unique_ptr<store::EventWaiter> waiter);
  // Stops the relay thread (pending journal writes are attempted once more). Idempotent.
  void stop();

  // Counters for metrics.
  std::uint64_t events_recorded() const { return recorded_.load(); }
  std::uint64_t events_relayed() const { return relayed_.load(); }
  std::uint64_t reconnects() const { return reconnects_.load(); }

 private:
  void run();
  void deliver_new_events();
  bool flush_pending();
  void prune_if_due();
  store::EventRow seal(const api::PublishedEvent& event);
  void sleep_for(std::chrono::milliseconds duration);

  store::Store& store_;
  const domain::Vault& vault_;
  api::Api& api_;
  const Clock& clock_;
  RelayOptions options_;
  std::string node_id_;

  std::mutex key_mutex_;  // guards the sealing key
  domain::Vault::DataKey key_;
  TimePoint key_created_{};

  std::mutex pending_mutex_;  // guards pending_
  std::vector<store::EventRow> pending_;  // sealed rows not yet written (store unavailable)

  std::unique_ptr<store::EventWaiter> waiter_;
  std::int64_t last_seen_id_ = 0;  // relay thread only
  TimePoint next_prune_{};         // relay thread only

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> recorded_{0};
  std::atomic<std::uint64_t> relayed_{0};
  std::atomic<std::uint64_t> reconnects_{0};
};

}  // namespace tmc::cluster

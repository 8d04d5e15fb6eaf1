// The cluster event relay: journal writes on the publishing threads, delivery on its own thread.
#include "cluster/event_relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "common/thread_name.hpp"
#include "crypto/random.hpp"

namespace tmc::cluster {
namespace {

constexpr int page_size = 500;
constexpr std::chrono::milliseconds max_backoff{5000};

// Binds a sealed event to the node that wrote it.
std::string aad_of(const std::string& origin) { return "event|" + origin; }

}  // namespace

EventRelay::EventRelay(store::Store& store, const domain::Vault& vault, api::Api& api,
                       const Clock& clock, RelayOptions options)
    : store_(store),
      vault_(vault),
      api_(api),
      clock_(clock),
      options_(options),
      node_id_(crypto::random_id("node")) {}

EventRelay::~EventRelay() { stop(); }

store::EventRow EventRelay::seal(const api::PublishedEvent& event) {
  store::EventRow row;
  row.origin = node_id_;
  row.created_at = clock_.now();
  row.recipients = event.recipients;
  std::lock_guard lock(key_mutex_);
  if (key_.plain.empty() || row.created_at - key_created_ >= options_.key_lifetime) {
    key_ = vault_.new_data_key();
    key_created_ = row.created_at;
  }
  row.wrapped_key = key_.wrapped;
  row.sealed_event = domain::Vault::seal(key_.plain, *event.frame, aad_of(node_id_));
  return row;
}

void EventRelay::record(const std::vector<api::PublishedEvent>& events) {
  std::vector<store::EventRow> rows;
  rows.reserve(events.size());
  for (const auto& event : events) rows.push_back(seal(event));
  try {
    store_.write([&](store::Tx& tx) {
      for (const auto& row : rows) tx.append_event(row);
      return true;
    });
    recorded_ += rows.size();
  } catch (const store::StoreError& failure) {
    // The change itself is committed; its live push to other nodes waits for the store.
    spdlog::warn("cluster: event journal write failed, will retry: {}", failure.what());
    std::lock_guard lock(pending_mutex_);
    for (auto& row : rows) pending_.push_back(std::move(row));
  }
}

void EventRelay::record_in(store::Tx& tx, const std::vector<api::PublishedEvent>& events) {
  for (const auto& event : events) tx.append_event(seal(event));
  recorded_ += events.size();  // counted when written; a rolled-back batch overcounts
}

bool EventRelay::flush_pending() {
  std::vector<store::EventRow> rows;
  {
    std::lock_guard lock(pending_mutex_);
    rows.swap(pending_);
  }
  if (rows.empty()) return true;
  try {
    store_.write([&](store::Tx& tx) {
      for (const auto& row : rows) tx.append_event(row);
      return true;
    });
    recorded_ += rows.size();
    spdlog::info("cluster: {} delayed events journaled", rows.size());
    return true;
  } catch (const store::StoreError&) {
    std::lock_guard lock(pending_mutex_);
    pending_.insert(pending_.begin(), std::make_move_iterator(rows.begin()),
                    std::make_move_iterator(rows.end()));
    return false;
  }
}

void EventRelay::start(std::unique_ptr<store::EventWaiter> waiter) {
  waiter_ = std::move(waiter);
  store_.read([&](store::Tx& tx) { last_seen_id_ = tx.last_event_id(); });
  next_prune_ = clock_.now();
  spdlog::info("cluster: node {} relays events after id {}", node_id_, last_seen_id_);
  thread_ = std::thread([this] { run(); });
  name_thread(thread_, "tmc-relay");
}

void EventRelay::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush_pending();
}

void EventRelay::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock, duration, [this] { return stopping_; });
}

void EventRelay::run() {
  std::chrono::milliseconds backoff{100};
  bool connected = true;
  auto next_poll = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    try {
      const bool woken = waiter_->wait(options_.stop_latency);
      const auto now = std::chrono::steady_clock::now();
      // Without a notification the log is still read every poll_interval, in case one was
      // missed.
      if (!woken && now < next_poll && connected) continue;
      next_poll = now + options_.poll_interval;
      deliver_new_events();
      flush_pending();
      prune_if_due();
      if (!connected) {
        spdlog::info("cluster: store connection back; events caught up to id {}",
                     last_seen_id_);
        connected = true;
      }
      backoff = std::chrono::milliseconds{100};
    } catch (const store::StoreError& failure) {
      if (connected) {
        spdlog::warn("cluster: store connection lost, reconnecting: {}", failure.what());
        reconnects_++;
        connected = false;
      }
      sleep_for(backoff);
      backoff = std::min(backoff * 2, max_backoff);
    } catch (const std::exception& failure) {
      spdlog::error("cluster: event relay: {}", failure.what());
      sleep_for(backoff);
    }
  }
}

void EventRelay::deliver_new_events() {
  for (;;) {
    std::vector<store::EventRow> rows;
    store_.read([&](store::Tx& tx) { rows = tx.list_events_after(last_seen_id_, page_size); });
    for (const auto& row : rows) {
      last_seen_id_ = row.id;
      if (row.origin == node_id_) continue;  // delivered locally when it was published
      try {
        auto frame = std::make_shared<const std::string>(
            domain::Vault::open(vault_.unwrap(row.wrapped_key), row.sealed_event,
                                aad_of(row.origin)));
        api_.deliver_frame(row.recipients, frame);
        relayed_++;
      } catch (const std::runtime_error&) {
        // A key this node cannot unwrap or a tampered row: skip it, name only the id.
        spdlog::error("cluster: event {} cannot be opened (key ring differs?); skipped", row.id);
      }
    }
    if (static_cast<int>(rows.size()) < page_size) return;
  }
}

void EventRelay::prune_if_due() {
  const auto now = clock_.now();
  if (now < next_prune_) return;
  next_prune_ = now + options_.prune_interval;
  const auto before = now - options_.retention;
  store_.write([&](store::Tx& tx) {
    tx.delete_events_before(before);
    return true;
  });
}

}  // namespace tmc::cluster

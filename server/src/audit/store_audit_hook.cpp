// The AuditHook of a running process: queues events and appends them to the store's audit log
// in batches from a background thread (group commit), signing tree heads periodically.
#include "audit/store_audit_hook.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace tmc::audit {
namespace {

// Failed writes of the final drain before the remaining records are given up (and logged).
constexpr int attempts_when_stopping = 3;
// Queue length at which a stalled store is reported (once per crossing).
constexpr std::size_t queue_warning = 100000;

}  // namespace

StoreAuditHook::~StoreAuditHook() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (!thread_.joinable() && !queue_.empty()) {
      spdlog::error("audit: {} events recorded but the audit log was never started",
                    queue_.size());
    }
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreAuditHook::start(store::Store& store, SigningKey key, const Clock& clock,
                           AuditHookOptions options) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) throw std::logic_error("StoreAuditHook::start called twice");
  store_ = &store;
  clock_ = &clock;
  key_.emplace(std::move(key));
  log_.emplace(*key_);
  options_ = std::move(options);
  for (auto& queued : queue_) {
    if (queued.event.actor_id.empty()) queued.event.actor_id = options_.default_actor;
  }
  thread_ = std::thread([this] { run(); });
}

void StoreAuditHook::record(const domain::AuditEvent& event) {
  static const SystemClock system_clock;
  {
    std::lock_guard lock(mutex_);
    TimedEvent timed{(clock_ != nullptr ? *clock_ : system_clock).now(), event};
    if (timed.event.actor_id.empty()) timed.event.actor_id = options_.default_actor;
    queue_.push_back(std::move(timed));
    ++recorded_;
    if (queue_.size() == queue_warning) {
      spdlog::warn("audit: {} events waiting for the store", queue_.size());
    }
  }
  wake_.notify_one();
}

void StoreAuditHook::flush() {
  std::unique_lock lock(mutex_);
  if (!thread_.joinable()) return;
  flush_target_ = std::max(flush_target_, recorded_);
  const auto target = flush_target_;
  wake_.notify_one();
  written_.wait(lock, [&] { return signed_up_to_ >= target || stopping_; });
}

bool StoreAuditHook::head_due(std::chrono::steady_clock::time_point now) const {
  return oldest_unsigned_ && now >= *oldest_unsigned_ + options_.head_interval;
}

void StoreAuditHook::run() {
  std::unique_lock lock(mutex_);
  int failures = 0;
  for (;;) {
    const auto work = [&] {
      return !queue_.empty() || stopping_ || flush_target_ > signed_up_to_;
    };
    if (oldest_unsigned_) {
      wake_.wait_until(lock, *oldest_unsigned_ + options_.head_interval, work);
    } else {
      wake_.wait(lock, work);
    }
    std::vector<TimedEvent> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool drained = queue_.empty();
    const bool sign = (drained && (stopping_ || flush_target_ > signed_up_to_)) ||
                      head_due(std::chrono::steady_clock::now());
    const auto covered = durable_ + batch.size();
    if (batch.empty() && !sign) {
      if (stopping_) return;
      continue;
    }
    lock.unlock();
    std::exception_ptr failure;
    try {
      store_->write([&](store::Tx& tx) {
        if (!batch.empty()) log_->append(tx, batch);
        if (sign) log_->sign_head(tx, clock_->now());
        return true;
      });
    } catch (const std::exception& error) {
      failure = std::current_exception();
      spdlog::error("audit: storing {} records failed: {}", batch.size(), error.what());
    }
    lock.lock();
    if (!failure) {
      failures = 0;
      durable_ = covered;
      if (sign) {
        signed_up_to_ = covered;
        oldest_unsigned_.reset();
      } else if (!oldest_unsigned_) {
        oldest_unsigned_ = std::chrono::steady_clock::now();
      }
      written_.notify_all();
      if (stopping_ && queue_.empty() && signed_up_to_ == durable_) return;
      continue;
    }
    // Put the batch back in front, in order, and retry after a pause.
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
    if (stopping_ && ++failures >= attempts_when_stopping) {
      spdlog::error("audit: giving up; {} records were not stored", queue_.size());
      queue_.clear();
      written_.notify_all();
      return;
    }
    wake_.wait_for(lock, options_.retry_delay, [&] { return stopping_; });
  }
}

}  // namespace tmc::audit

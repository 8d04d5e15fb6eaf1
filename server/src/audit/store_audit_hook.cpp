// The AuditHook of a running process: queues events and appends them to the store's audit log
// in batches from a background thread (group commit), signing tree heads periodically.
#include "audit/store_audit_hook.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

#include "common/thread_name.hpp"

namespace tmc::audit {
namespace {

// Failed writes of the final drain before the remaining records are given up (and logged).
constexpr int attempts_when_stopping = 3;
// Failures of one record written alone, while the store takes other writes, before that record
// is set aside as one the store cannot hold.
constexpr int strikes_before_set_aside = 3;
// Queue length at which a stalled store is reported (once per crossing).
constexpr std::size_t queue_warning = 100000;

}  // namespace

StoreAuditHook::~StoreAuditHook() {
  bool registered = false;
  {
    std::lock_guard lock(mutex_);
    registered = std::exchange(tail_registered_, false);
  }
  // Returns once the batch in progress (if any) has settled its events.
  if (registered) store_->set_batch_tail(nullptr);
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
  {
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
    name_thread(thread_, "tmc-audit");
  }
  // Outside the lock: a batch in progress may be recording events.
  store.set_batch_tail(this);
  std::lock_guard lock(mutex_);
  tail_registered_ = true;
}

TimedEvent StoreAuditHook::stamp(const domain::AuditEvent& event) const {
  static const SystemClock system_clock;
  TimedEvent timed{(clock_ != nullptr ? *clock_ : system_clock).now(), event};
  if (timed.event.actor_id.empty()) timed.event.actor_id = options_.default_actor;
  return timed;
}

void StoreAuditHook::record_in(store::Tx& tx, const domain::AuditEvent& event) {
  {
    std::lock_guard lock(mutex_);
    if (tail_registered_) {  // appended by this batch's tail, in the op's own commit
      in_tx_.push_back(stamp(event));
      ++recorded_;
      return;
    }
  }
  AuditHook::record_in(tx, event);
}

bool StoreAuditHook::wanted() {
  std::lock_guard lock(mutex_);
  return !in_tx_.empty();
}

bool StoreAuditHook::append(store::Tx& tx) {
  {
    std::lock_guard lock(mutex_);
    held_.insert(held_.end(), std::make_move_iterator(in_tx_.begin()),
                 std::make_move_iterator(in_tx_.end()));
    in_tx_.clear();
  }
  if (!held_.empty()) log_->append(tx, held_);  // log_ is only used on the writer thread
  return true;
}

void StoreAuditHook::settled(Settled how) noexcept {
  std::lock_guard lock(mutex_);
  // Events recorded after the tail ran (by a later op's completion, say) were not appended.
  held_.insert(held_.end(), std::make_move_iterator(in_tx_.begin()),
               std::make_move_iterator(in_tx_.end()));
  in_tx_.clear();
  if (held_.empty()) return;
  // The audit thread hears of it only when its wait may be over: records queued for it, a
  // head's clock started, or a flush that waited for this batch. In a busy chat it is
  // otherwise waiting for the head's deadline, and a wake at every commit was a futex call on
  // the writer and a wake-up for nothing.
  bool wake = flush_target_ > signed_up_to_;
  switch (how) {
    case Settled::committed:
      durable_ += held_.size();
      ++tail_commits_;
      if (!oldest_unsigned_) {
        oldest_unsigned_ = std::chrono::steady_clock::now();
        wake = true;
      }
      written_.notify_all();
      break;
    case Settled::not_appended:  // the ops committed: their events are written on their own
      for (auto& timed : held_) queue_.push_back(std::move(timed));
      wake = true;
      break;
    case Settled::batch_failed:  // so were the ops they describe
      spdlog::warn("audit: {} events of a rolled-back write batch dropped", held_.size());
      durable_ += held_.size();  // settled: flush() does not wait for them
      written_.notify_all();
      break;
  }
  held_.clear();
  if (wake) wake_.notify_one();
}

void StoreAuditHook::record(const domain::AuditEvent& event) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(stamp(event));
    ++recorded_;
    if (queue_.size() == queue_warning) {
      spdlog::warn("audit: {} events waiting for the store", queue_.size());
    }
    // The writer waits for an event only when the queue is empty; while it gathers, only a
    // full batch ends the wait early.
    wake = queue_.size() == 1 || queue_.size() == options_.max_batch;
  }
  if (wake) wake_.notify_one();
}

void StoreAuditHook::flush() { flush_for(std::chrono::milliseconds::max()); }

bool StoreAuditHook::flush_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!thread_.joinable()) return true;
  flush_target_ = std::max(flush_target_, recorded_);
  const auto target = flush_target_;
  wake_.notify_one();
  const auto done = [&] { return signed_up_to_ >= target || stopping_; };
  if (timeout == std::chrono::milliseconds::max()) {
    written_.wait(lock, done);
  } else {
    written_.wait_for(lock, timeout, done);
  }
  return signed_up_to_ >= target;
}

StoreAuditHook::Isolated StoreAuditHook::store_one_by_one(const std::vector<TimedEvent>& batch) {
  Isolated result;
  try {
    store_->write([](store::Tx&) { return true; });
  } catch (const std::exception&) {
    return result;  // the store is away: the whole batch waits for it
  }
  for (const auto& timed : batch) {
    bool stored = false;
    bool deterministic = false;
    std::string reason;
    try {
      store_->write([&](store::Tx& tx) {
        log_->append(tx, std::vector<TimedEvent>{timed});
        return true;
      });
      stored = true;
    } catch (const store::StoreError& error) {
      reason = error.what();  // the store's own fault, or a transient one: retried
    } catch (const std::exception& error) {
      reason = error.what();  // the record's fault: every retry would fail the same way
      deterministic = true;
    }
    if (stored) {
      ++result.stored;
      ++result.settled;
      front_strikes_ = 0;
      continue;
    }
    if (!deterministic && ++front_strikes_ < strikes_before_set_aside) break;
    front_strikes_ = 0;
    // Ids only: the action names what was lost; the reason names no value.
    spdlog::error("audit: a record of action {} cannot be stored and is set aside: {}",
                  timed.event.action, reason);
    ++result.settled;
    result.notes.push_back(stamp({"", "", "audit.record_not_stored",
                                  {"action:" + timed.event.action}, domain::AuditOutcome::failed,
                                  ""}));
  }
  return result;
}

bool StoreAuditHook::head_due(std::chrono::steady_clock::time_point now) const {
  return oldest_unsigned_ && now >= *oldest_unsigned_ + options_.head_interval;
}

void StoreAuditHook::run() {
  std::unique_lock lock(mutex_);
  int failures = 0;
  for (;;) {
    // Events of a batch in progress are settled by its tail; a head waits for them. Records a
    // tail commits start the head's clock: a wait without a deadline ends to take it up.
    const bool timed = oldest_unsigned_.has_value();
    const auto work = [&] {
      return !queue_.empty() || stopping_ ||
             (flush_target_ > signed_up_to_ && in_tx_.empty() && held_.empty()) ||
             (!timed && oldest_unsigned_.has_value());
    };
    if (oldest_unsigned_) {
      wake_.wait_until(lock, *oldest_unsigned_ + options_.head_interval, work);
    } else {
      wake_.wait(lock, work);
    }
    if (!queue_.empty() && options_.gather_delay.count() > 0) {
      wake_.wait_until(lock, std::chrono::steady_clock::now() + options_.gather_delay, [&] {
        return stopping_ || flush_target_ > signed_up_to_ ||
               queue_.size() >= options_.max_batch;
      });
    }
    std::vector<TimedEvent> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool drained = queue_.empty() && in_tx_.empty() && held_.empty();
    const bool sign = (drained && (stopping_ || flush_target_ > signed_up_to_)) ||
                      head_due(std::chrono::steady_clock::now());
    const auto covered = durable_ + batch.size();
    const auto settled_before = tail_commits_;
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
      durable_ += batch.size();  // the tail may have settled others meanwhile
      if (sign) {
        signed_up_to_ = std::max(signed_up_to_, covered);
        // Events the tail committed meanwhile may be after the head: their clock restarts.
        if (tail_commits_ == settled_before) {
          oldest_unsigned_.reset();
        } else {
          oldest_unsigned_ = std::chrono::steady_clock::now();
        }
      } else if (!oldest_unsigned_) {
        oldest_unsigned_ = std::chrono::steady_clock::now();
      }
      written_.notify_all();
      if (stopping_ && queue_.empty() && signed_up_to_ == durable_) return;
      continue;
    }
    if (!batch.empty()) {
      // A store that answers while this batch fails points at a record it cannot hold: store
      // them one by one, so that one record does not hold back every record behind it.
      lock.unlock();
      const auto isolated = store_one_by_one(batch);
      lock.lock();
      durable_ += isolated.settled;
      if (isolated.stored > 0 && !oldest_unsigned_) {
        oldest_unsigned_ = std::chrono::steady_clock::now();
      }
      recorded_ += isolated.notes.size();
      queue_.insert(queue_.begin(), std::make_move_iterator(isolated.notes.begin()),
                    std::make_move_iterator(isolated.notes.end()));
      if (isolated.settled > 0) written_.notify_all();
      batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(isolated.settled));
      if (batch.empty()) {
        failures = 0;
        continue;
      }
    }
    // Put the rest back in front, in order, and retry after a pause.
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

// Admission: at most a fixed number of holders at once; the others wait their turn, up to a limit,
// without holding a thread while they wait.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace tmc::domain {

// Thread-safe. For work that must not run once per worker thread at the same time (a password
// check holds 128 MiB while it runs).
class Admission {
 public:
  explicit Admission(int slots) : free_(slots) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A held slot, given back when the ticket goes (to the first waiter whose wait has not run
  // out, if any).
  class Ticket {
   public:
    explicit Ticket(Admission& admission) : admission_(&admission) {}
    Ticket(Ticket&& other) noexcept : admission_(other.admission_) { other.admission_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() {
      if (admission_ != nullptr) admission_->leave();
    }

   private:
    Admission* admission_;
  };

  // How a waiter is run once its turn comes: given the work, runs it on a thread of the
  // waiter's choosing (a worker pool), never blocking the thread that gave the slot back.
  using Resume = std::function<void(std::function<void()>)>;
  // Gets the slot, or nullopt when the wait ran out first.
  using Turn = std::function<void(std::optional<Ticket>)>;

  // Runs `then` with a slot: at once on this thread when one is free and nobody waits before
  // it; otherwise through `resume` when a slot is given back to it. Waiting holds no thread.
  // When no slot came within `wait`, `then` gets nullopt: at once when `wait` is zero, else
  // when the next slot is given back or the next caller arrives (so at most one holder's time
  // late, since holders give slots back when their work is done).
  void enter(std::chrono::milliseconds wait, Resume resume, Turn then) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<Waiter> expired;
    bool admitted = false;
    bool queued = false;
    {
      std::lock_guard lock(mutex_);
      expired = take_expired_locked(now);
      if (free_ > 0 && waiters_.empty()) {
        --free_;
        admitted = true;
      } else if (wait.count() > 0) {
        waiters_.push_back({now + wait, std::move(resume), std::move(then)});
        queued = true;
      }
    }
    refuse(std::move(expired));
    if (admitted) {
      then(std::optional<Ticket>(std::in_place, *this));
    } else if (!queued) {  // no slot, and no wait allowed
      then(std::nullopt);
    }
  }

  // A slot now, if one is free and nobody waits for it; nullopt otherwise.
  std::optional<Ticket> try_enter() {
    std::lock_guard lock(mutex_);
    if (free_ == 0 || !waiters_.empty()) return std::nullopt;
    --free_;
    return std::optional<Ticket>(std::in_place, *this);
  }

  // Callers waiting for a slot now (for metrics and tests).
  int waiting() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(waiters_.size());
  }

 private:
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    Resume resume;
    Turn then;
  };

  std::vector<Waiter> take_expired_locked(std::chrono::steady_clock::time_point now) {
    std::vector<Waiter> expired;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    return expired;
  }

  static void refuse(std::vector<Waiter> expired) {
    for (auto& waiter : expired) {
      waiter.resume([then = std::move(waiter.then)] { then(std::nullopt); });
    }
  }

  void leave() {
    std::vector<Waiter> expired;
    std::optional<Waiter> next;
    {
      std::lock_guard lock(mutex_);
      expired = take_expired_locked(std::chrono::steady_clock::now());
      if (waiters_.empty()) {
        ++free_;
      } else {  // the slot passes straight on: nobody arriving now can take it first
        next.emplace(std::move(waiters_.front()));
        waiters_.pop_front();
      }
    }
    refuse(std::move(expired));
    if (next) {
      next->resume([this, then = std::move(next->then)] {
        then(std::optional<Ticket>(std::in_place, *this));
      });
    }
  }

  mutable std::mutex mutex_;
  std::deque<Waiter> waiters_;
  int free_;
};

}  // namespace tmc::domain

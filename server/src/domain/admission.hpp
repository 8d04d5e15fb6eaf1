// Admission: at most a fixed number of holders at once; the others wait their turn, up to a limit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace tmc::domain {

// Thread-safe. For work that must not run once per worker thread at the same time (a password
// check holds 128 MiB while it runs).
class Admission {
 public:
  explicit Admission(int slots) : free_(slots) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A held slot, given back when the ticket goes.
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

  // A slot, waiting up to `wait` for one to be given back; nullopt when none was.
  std::optional<Ticket> enter(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ++waiting_;
    const bool admitted = given_back_.wait_for(lock, wait, [&] { return free_ > 0; });
    --waiting_;
    if (!admitted) return std::nullopt;
    --free_;
    return std::optional<Ticket>(std::in_place, *this);
  }

  // Callers waiting for a slot now (for metrics and tests).
  int waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_;
  }

 private:
  void leave() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    given_back_.notify_one();
  }

  mutable std::mutex mutex_;
  std::condition_variable given_back_;
  int free_;
  int waiting_ = 0;
};

}  // namespace tmc::domain

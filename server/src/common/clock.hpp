// Time source injected into services so tests can drive deadlines and reminders deterministically.
#pragma once

#include <atomic>
#include <chrono>

namespace tmc {

// All instants are UTC with microsecond precision.
using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(std::chrono::microseconds(now_.load())); }
  void advance(std::chrono::microseconds by) { now_ += by.count(); }
  void set(TimePoint to) { now_ = to.time_since_epoch().count(); }

 private:
  std::atomic<long long> now_;
};

}  // namespace tmc

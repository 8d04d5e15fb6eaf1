// Acknowledged posts of concurrent posters, for scheduling a disruption (a kill, a restart)
// partway through a run.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tmc::e2e {

// Thread-safe: posters report, one scheduling thread waits.
class PostProgress {
 public:
  void acknowledged(int count) {
    {
      std::lock_guard lock(mutex_);
      acknowledged_ += count;
    }
    changed_.notify_all();
  }
  void poster_finished() {
    {
      std::lock_guard lock(mutex_);
      ++finished_;
    }
    changed_.notify_all();
  }
  // True when at least count posts are acknowledged; false once every poster has finished
  // (or at the deadline) before that.
  bool wait_for(int count, int posters, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline,
                        [&] { return acknowledged_ >= count || finished_ == posters; });
    return acknowledged_ >= count;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int acknowledged_ = 0;
  int finished_ = 0;
};

}  // namespace tmc::e2e

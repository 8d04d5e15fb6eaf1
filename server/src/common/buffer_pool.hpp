// Large byte buffers kept for reuse across threads.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tmc {

// Memory for buffers of up to a few MiB that are filled on one thread and released on another
// (an upload chunk, a sealed segment). A fresh buffer of that size per use makes the allocator
// hand out untouched pages again and again: measured, a third of an upload's server CPU went to
// page faults. Keeping a few returned buffers for the next use avoids that. Thread-safe.
class BufferPool {
 public:
  explicit BufferPool(std::size_t keep) : keep_(keep) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty string, with the memory of a returned one when there is one.
  std::string take() {
    std::lock_guard lock(mutex_);
    if (kept_.empty()) return {};
    std::string buffer = std::move(kept_.back());
    kept_.pop_back();
    return buffer;
  }

  // Keeps buffer's memory for take() unless `keep` buffers are kept already.
  void give(std::string buffer) {
    buffer.clear();
    std::lock_guard lock(mutex_);
    if (kept_.size() < keep_) kept_.push_back(std::move(buffer));
  }

 private:
  const std::size_t keep_;
  std::mutex mutex_;
  std::vector<std::string> kept_;
};

}  // namespace tmc

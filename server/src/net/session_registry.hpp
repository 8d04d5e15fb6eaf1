// Registry of live sessions for shutdown: weak references, never locked while calling out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace tmc::net {

// What the registry can ask of a live session. Implementations only post to their strand.
class Stoppable {
 public:
  virtual ~Stoppable() = default;
  // Close with 1001 (or drop the connection if it was never upgraded).
  virtual void shut_down() = 0;
};

// Thread-safe. Sessions add themselves at accept and remove themselves when they end.
class SessionRegistry {
 public:
  // The id to remove() with later; nullopt once stop() was called (the caller should end).
  std::optional<std::uint64_t> add(std::weak_ptr<Stoppable> session);
  void remove(std::uint64_t id);
  std::size_t size() const;

  // Refuses further add(), calls shut_down() on every live session (outside the lock), and
  // calls done once: when the registry becomes empty (now, if it is) or at expire_stop().
  // A later call only adds its done (called at once if the stop is already complete) and
  // returns false.
  bool stop(std::function<void()> done);
  // Grace period over: completes the stop now, if it has not completed yet.
  void expire_stop();

 private:
  // Marks the stop complete and hands out the callbacks to run after unlocking.
  std::vector<std::function<void()>> complete_locked();

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Stoppable>> sessions_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<std::function<void()>> done_;
};

}  // namespace tmc::net

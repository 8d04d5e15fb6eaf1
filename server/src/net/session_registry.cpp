// Registry of live sessions for shutdown: weak references, never locked while calling out.
#include "net/session_registry.hpp"

#include <utility>
#include <vector>

namespace tmc::net {

std::optional<std::uint64_t> SessionRegistry::add(std::weak_ptr<Stoppable> session) {
  std::lock_guard lock(mutex_);
  if (stopping_) return std::nullopt;
  const std::uint64_t id = next_id_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

void SessionRegistry::remove(std::uint64_t id) {
  std::vector<std::function<void()>> done;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
    if (stopping_ && sessions_.empty()) done = complete_locked();
  }
  for (const auto& callback : done) callback();
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionRegistry::stop(std::function<void()> done) {
  std::vector<std::shared_ptr<Stoppable>> live;
  std::vector<std::function<void()>> call_now;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = !stopping_;
    stopping_ = true;
    if (done) done_.push_back(std::move(done));
    if (first) {
      for (const auto& [id, weak] : sessions_) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    if (stopped_ || sessions_.empty()) call_now = complete_locked();
  }
  for (const auto& session : live) session->shut_down();
  for (const auto& callback : call_now) callback();
  return first;
}

void SessionRegistry::expire_stop() {
  std::vector<std::function<void()>> done;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) done = complete_locked();
  }
  for (const auto& callback : done) callback();
}

std::vector<std::function<void()>> SessionRegistry::complete_locked() {
  stopped_ = true;
  return std::exchange(done_, {});
}

}  // namespace tmc::net

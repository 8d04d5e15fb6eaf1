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
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
    if (sessions_.empty()) done = take_done_locked();
  }
  if (done) done();
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionRegistry::stop(std::function<void()> done) {
  std::vector<std::shared_ptr<Stoppable>> live;
  std::function<void()> call_now;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    stopping_ = true;
    done_ = std::move(done);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    if (sessions_.empty()) call_now = take_done_locked();
  }
  for (const auto& session : live) session->shut_down();
  if (call_now) call_now();
  return true;
}

void SessionRegistry::expire_stop() {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    done = take_done_locked();
  }
  if (done) done();
}

std::function<void()> SessionRegistry::take_done_locked() {
  if (!stopping_) return {};
  return std::exchange(done_, nullptr);
}

}  // namespace tmc::net

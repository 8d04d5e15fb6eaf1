// Registry of live authenticated sessions by user, used to push events to every device of a user.
#include "api/session_registry.hpp"

#include <algorithm>

namespace tmc::api {

void SessionRegistry::add(const std::string& user_id,
                          const std::shared_ptr<ApiConnection>& connection) {
  std::lock_guard lock(mutex_);
  by_user_.emplace(user_id, connection);
}

void SessionRegistry::remove(const std::string& user_id, const ApiConnection* connection) {
  std::lock_guard lock(mutex_);
  auto [first, last] = by_user_.equal_range(user_id);
  for (auto it = first; it != last;) {
    auto live = it->second.lock();
    if (!live || live.get() == connection) {
      it = by_user_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<std::shared_ptr<ApiConnection>> SessionRegistry::sessions_of(
    const std::string& user_id) const {
  std::vector<std::shared_ptr<ApiConnection>> out;
  std::lock_guard lock(mutex_);
  auto [first, last] = by_user_.equal_range(user_id);
  for (auto it = first; it != last; ++it) {
    if (auto live = it->second.lock()) out.push_back(std::move(live));
  }
  return out;
}

std::vector<std::shared_ptr<ApiConnection>> SessionRegistry::sessions_of(
    const std::vector<std::string>& user_ids) const {
  std::vector<std::shared_ptr<ApiConnection>> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& user_id : user_ids) {
      auto [first, last] = by_user_.equal_range(user_id);
      for (auto it = first; it != last; ++it) {
        if (auto live = it->second.lock()) out.push_back(std::move(live));
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::shared_ptr<ApiConnection>> SessionRegistry::all() const {
  std::vector<std::shared_ptr<ApiConnection>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [user_id, weak] : by_user_) {
    if (auto live = weak.lock()) out.push_back(std::move(live));
  }
  return out;
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return by_user_.size();
}

}  // namespace tmc::api

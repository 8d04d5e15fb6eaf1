// Registry of live authenticated sessions by user, used to push events to every device of a user.
#include "api/session_registry.hpp"

#include <algorithm>

namespace tmc::api {

void SessionRegistry::add(const std::string& user_id, const std::string& token_hash,
                          const std::shared_ptr<ApiConnection>& connection) {
  std::lock_guard lock(mutex_);
  by_user_.emplace(user_id, Entry{connection, connection.get(), token_hash});
  if (++by_token_[token_hash] == 1) ++token_generation_;
}

void SessionRegistry::remove(const std::string& user_id, const ApiConnection* connection) {
  std::lock_guard lock(mutex_);
  auto [first, last] = by_user_.equal_range(user_id);
  for (auto it = first; it != last;) {
    if (it->second.address == connection || it->second.connection.expired()) {
      it = erase(it);
    } else {
      ++it;
    }
  }
}

std::unordered_multimap<std::string, SessionRegistry::Entry>::iterator SessionRegistry::erase(
    std::unordered_multimap<std::string, Entry>::iterator it) {
  const auto counted = by_token_.find(it->second.token_hash);
  if (counted != by_token_.end() && --counted->second == 0) {
    by_token_.erase(counted);
    ++token_generation_;
  }
  return by_user_.erase(it);
}

std::vector<std::shared_ptr<ApiConnection>> SessionRegistry::sessions_of(
    const std::string& user_id) const {
  std::vector<std::shared_ptr<ApiConnection>> out;
  std::lock_guard lock(mutex_);
  auto [first, last] = by_user_.equal_range(user_id);
  for (auto it = first; it != last; ++it) {
    if (auto live = it->second.connection.lock()) out.push_back(std::move(live));
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
        if (auto live = it->second.connection.lock()) out.push_back(std::move(live));
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
  for (const auto& [user_id, entry] : by_user_) {
    if (auto live = entry.connection.lock()) out.push_back(std::move(live));
  }
  return out;
}

std::vector<std::string> SessionRegistry::token_hashes() const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  out.reserve(by_token_.size());
  for (const auto& [token_hash, connections] : by_token_) out.push_back(token_hash);
  return out;
}

std::uint64_t SessionRegistry::token_generation() const {
  std::lock_guard lock(mutex_);
  return token_generation_;
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return by_user_.size();
}

}  // namespace tmc::api

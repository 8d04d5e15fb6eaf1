// Registry of live authenticated sessions by user, used to push events to every device of a user.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tmc::api {

class ApiConnection;

// Thread-safe. Holds weak references only, and never calls into a connection while its lock is
// held: look-ups copy the live connections out first (STYLE.md rule 3).
class SessionRegistry {
 public:
  void add(const std::string& user_id, const std::shared_ptr<ApiConnection>& connection);
  void remove(const std::string& user_id, const ApiConnection* connection);

  // Live connections of one user (every device).
  std::vector<std::shared_ptr<ApiConnection>> sessions_of(const std::string& user_id) const;
  // Live connections of several users, each connection once.
  std::vector<std::shared_ptr<ApiConnection>> sessions_of(
      const std::vector<std::string>& user_ids) const;
  std::vector<std::shared_ptr<ApiConnection>> all() const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_multimap<std::string, std::weak_ptr<ApiConnection>> by_user_;
};

}  // namespace tmc::api

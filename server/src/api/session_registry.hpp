// Registry of live authenticated sessions by user, used to push events to every device of a user.
#pragma once

#include <cstdint>
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
//
// It also counts the connections signed in with each login session (token hash), so that the
// revocation sweep gets each live token once without visiting, and locking, every connection:
// with 12,000 idle sessions that visit was two thirds of the sweep's CPU. A generation number
// tells the sweep whether the set changed at all, so it copies the list only when it did.
class SessionRegistry {
 public:
  void add(const std::string& user_id, const std::string& token_hash,
           const std::shared_ptr<ApiConnection>& connection);
  void remove(const std::string& user_id, const ApiConnection* connection);

  // Live connections of one user (every device).
  std::vector<std::shared_ptr<ApiConnection>> sessions_of(const std::string& user_id) const;
  // Live connections of several users, each connection once.
  std::vector<std::shared_ptr<ApiConnection>> sessions_of(
      const std::vector<std::string>& user_ids) const;
  std::vector<std::shared_ptr<ApiConnection>> all() const;
  // Token hashes of the live signed-in connections, each once.
  std::vector<std::string> token_hashes() const;
  // Moves on whenever a token hash joins or leaves token_hashes(): read before that list, an
  // unchanged value means the list is unchanged too.
  std::uint64_t token_generation() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::weak_ptr<ApiConnection> connection;
    const ApiConnection* address;  // what remove() is given
    std::string token_hash;
  };
  // Erases it, and its token's count with it when it was the token's last connection.
  std::unordered_multimap<std::string, Entry>::iterator erase(
      std::unordered_multimap<std::string, Entry>::iterator it);

  mutable std::mutex mutex_;
  std::unordered_multimap<std::string, Entry> by_user_;
  std::unordered_map<std::string, std::size_t> by_token_;  // connections per token hash
  std::uint64_t token_generation_ = 0;
};

}  // namespace tmc::api

// Sans-IO bookkeeping of in-flight requests: request_id assignment and Response matching.
#include "tmc/client/pending_calls.hpp"

#include <utility>

namespace tmc::client {

std::uint64_t PendingCalls::start(Completion completion) {
  const std::uint64_t id = next_id_++;
  waiting_.emplace(id, std::move(completion));
  return id;
}

bool PendingCalls::complete(telemed::v1::Response response) {
  auto it = waiting_.find(response.request_id());
  if (it == waiting_.end()) return false;
  // Unlink before invoking: the completion may start another call.
  Completion completion = std::move(it->second);
  waiting_.erase(it);
  completion(std::move(response));
  return true;
}

bool PendingCalls::abandon(std::uint64_t request_id) { return waiting_.erase(request_id) > 0; }

void PendingCalls::fail_all(const std::exception_ptr& reason) {
  auto failing = std::exchange(waiting_, {});
  for (auto& [id, completion] : failing) completion(reason);
}

}  // namespace tmc::client

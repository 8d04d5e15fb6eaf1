// Sans-IO bookkeeping of in-flight requests: request_id assignment and Response matching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <variant>

#include "telemed/v1/frames.pb.h"

namespace tmc::client {

// The end of one call: its Response, or the reason no Response will come.
using CallOutcome = std::variant<telemed::v1::Response, std::exception_ptr>;

// Tracks the calls waiting on one connection. Ids start at 1 (0 is proto3's "unset", which a
// server may use for a frame it could not decode) and are never reused on a connection.
// Not thread-safe: the owner serialises access (the client uses its executor).
class PendingCalls {
 public:
  using Completion = std::function<void(CallOutcome)>;

  // Registers a call and returns the request_id to put in its ClientFrame.
  std::uint64_t start(Completion completion);

  // Hands response to the call waiting for response.request_id(). Returns false if none waits
  // (an id never issued, already answered or abandoned); the response is then dropped.
  bool complete(telemed::v1::Response response);

  // The caller stopped waiting (timeout, cancellation): a late Response is dropped. Returns
  // false if the call had already finished.
  bool abandon(std::uint64_t request_id);

  // The connection ended: every waiting call fails with reason, in request_id order.
  // Completions may safely start new calls; those are not failed by this invocation.
  void fail_all(const std::exception_ptr& reason);

  bool is_waiting(std::uint64_t request_id) const { return waiting_.contains(request_id); }
  std::size_t size() const { return waiting_.size(); }
  bool empty() const { return waiting_.empty(); }

 private:
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Completion> waiting_;
};

}  // namespace tmc::client

// Who is making a request: the authenticated user plus what the transport knows about them.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "store/model.hpp"

namespace tmc::domain {

struct Caller {
  store::User user;
  std::string session_token_hash;  // identifies the login session (raw SHA-256 bytes)
  std::string remote_address;      // "ip:port", for the audit trail
  // Set once the connection the requests came on has closed (null: none, never set). Work for
  // it that has not begun may be dropped: its answer has nowhere to go.
  std::shared_ptr<const std::atomic<bool>> connection_closed;

  bool connection_gone() const { return connection_closed && connection_closed->load(); }
};

}  // namespace tmc::domain

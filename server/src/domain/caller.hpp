// Who is making a request: the authenticated user plus what the transport knows about them.
#pragma once

#include <string>

#include "store/model.hpp"

namespace tmc::domain {

struct Caller {
  store::User user;
  std::string session_token_hash;  // identifies the login session (raw SHA-256 bytes)
  std::string remote_address;      // "ip:port", for the audit trail
};

}  // namespace tmc::domain

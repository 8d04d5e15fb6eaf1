// Authentication: password login, token resume, logout and session revocation.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "crypto/password.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "store/store.hpp"

namespace tmc::domain {

struct AuthOptions {
  std::chrono::seconds session_lifetime{std::chrono::hours(12)};
  crypto::ScryptParams password_params = crypto::ScryptParams::production();
};

struct LoginOutcome {
  std::string session_token;  // bearer token, shown to the client once; never stored or logged
  Caller caller;
  TimePoint expires_at{};
};

// Thread-safe; every method blocks on the store, so call it from a worker thread.
class AuthService {
 public:
  AuthService(store::Store& store, const Clock& clock, AuditHook& audit, AuthOptions options);

  // Unknown user, disabled user and wrong password all fail with UNAUTHENTICATED and the same
  // message, at the same cost (a dummy hash runs for unknown users).
  Result<LoginOutcome> login(const std::string& username, const std::string& password,
                             const std::string& remote_address);

  // A token that is unknown, expired, revoked or whose user is disabled: UNAUTHENTICATED.
  Result<LoginOutcome> resume(const std::string& token, const std::string& remote_address);

  // Revokes the caller's session token.
  Status logout(const Caller& caller);

  // Hashes a password with the configured parameters (for user creation and reset).
  std::string hash_password(const std::string& password) const;

 private:
  Result<LoginOutcome> open_session(const store::User& user, const std::string& remote_address);

  store::Store& store_;
  const Clock& clock_;
  AuditHook& audit_;
  AuthOptions options_;
};

}  // namespace tmc::domain

// Authentication: password login, token resume, logout and session revocation.
#include "domain/auth_service.hpp"

#include "crypto/token.hpp"

namespace tmc::domain {
namespace {

constexpr const char* kBadCredentials = "invalid username or password";
constexpr const char* kBadToken = "session is not valid; log in again";

}  // namespace

AuthService::AuthService(store::Store& store, const Clock& clock, AuditHook& audit,
                         AuthOptions options)
    : store_(store), clock_(clock), audit_(audit), options_(options) {}

std::string AuthService::hash_password(const std::string& password) const {
  return crypto::hash_password(password, options_.password_params);
}

Result<LoginOutcome> AuthService::login(const std::string& username, const std::string& password,
                                        const std::string& remote_address) {
  std::optional<store::User> user;
  std::optional<std::string> hash;
  store_.read([&](store::Tx& tx) {
    user = tx.find_user_by_username(username);
    if (user) hash = tx.find_password_hash(user->id);
  });
  bool verified = false;
  if (user && hash) {
    verified = crypto::verify_password(password, *hash);
  } else {
    crypto::dummy_verify(options_.password_params);  // same cost as a real check
  }
  if (!verified || user->disabled) {
    audit_.record({user ? user->id : std::string{}, user ? user->organization_id : std::string{},
                   "login", {}, AuditOutcome::failed, remote_address});
    return make_error(Code::unauthenticated, kBadCredentials);
  }
  return open_session(*user, remote_address);
}

Result<LoginOutcome> AuthService::open_session(const store::User& user,
                                               const std::string& remote_address) {
  LoginOutcome outcome;
  outcome.session_token = crypto::new_session_token();
  const auto now = clock_.now();
  store::SessionRecord session{crypto::token_hash(outcome.session_token), user.id, now,
                               now + options_.session_lifetime, false};
  store_.write([&](store::Tx& tx) {
    tx.insert_session(session);
    return true;
  });
  outcome.caller = Caller{user, session.token_hash, remote_address};
  outcome.expires_at = session.expires_at;
  audit_.record({user.id, user.organization_id, "login", {}, AuditOutcome::success,
                 remote_address});
  return outcome;
}

Result<LoginOutcome> AuthService::resume(const std::string& token,
                                         const std::string& remote_address) {
  const auto hash = crypto::token_hash(token);
  std::optional<store::SessionRecord> session;
  std::optional<store::User> user;
  store_.read([&](store::Tx& tx) {
    session = tx.find_session(hash);
    if (session) user = tx.find_user(session->user_id);
  });
  if (!session || session->revoked || session->expires_at <= clock_.now() || !user ||
      user->disabled) {
    audit_.record({user ? user->id : std::string{}, user ? user->organization_id : std::string{},
                   "resume", {}, AuditOutcome::failed, remote_address});
    return make_error(Code::unauthenticated, kBadToken);
  }
  audit_.record({user->id, user->organization_id, "resume", {}, AuditOutcome::success,
                 remote_address});
  LoginOutcome outcome;
  outcome.session_token = token;
  outcome.caller = Caller{*user, hash, remote_address};
  outcome.expires_at = session->expires_at;
  return outcome;
}

Status AuthService::logout(const Caller& caller) {
  store_.write([&](store::Tx& tx) {
    tx.revoke_session(caller.session_token_hash);
    return true;
  });
  audit_.record({caller.user.id, caller.user.organization_id, "logout", {},
                 AuditOutcome::success, caller.remote_address});
  return ok();
}

}  // namespace tmc::domain

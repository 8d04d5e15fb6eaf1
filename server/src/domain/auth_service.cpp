// Authentication: password login with throttling and TOTP, token resume, logout, revocation.
#include "domain/auth_service.hpp"

#include <algorithm>
#include <future>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "crypto/secret.hpp"
#include "crypto/token.hpp"
#include "crypto/totp.hpp"
#include "domain/rate_limiter.hpp"

namespace tmc::domain {
namespace {

constexpr const char* kBadCredentials = "invalid username or password";
constexpr std::size_t kLongestUsername = 64;  // usernames are at most 40 characters
const std::string kNoAccount;                 // the throttle's account for impossible names
constexpr const char* kBadToken = "session is not valid; log in again";
constexpr const char* kCodeRequired =
    "second factor required: send the current code of your authenticator app as totp_code";
constexpr const char* kEnrolmentRequired =
    "this role requires a second factor, but none is enrolled for this user; ask an "
    "administrator to run 'tmc-admin user totp enroll'";
constexpr std::chrono::minutes max_touch_interval{1};
// The sweep of live sessions looks at every live token's row at least this often even when the
// session epoch has not moved.
constexpr std::chrono::minutes full_check_interval{1};

std::int64_t unix_seconds(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

}  // namespace

AuthService::AuthService(store::Store& store, const Clock& clock, AuditHook& audit,
                         AuthOptions options, const crypto::KeyRing* keys)
    : store_(store),
      clock_(clock),
      audit_(audit),
      options_(std::move(options)),
      keys_(keys),
      throttle_(clock, options_.throttle),
      refusals_(clock, options_.refusals_audited_per_minute),
      password_checks_(options_.concurrent_password_checks) {}

std::string AuthService::hash_password(const std::string& password) const {
  return crypto::hash_password(password, options_.password_params);
}

bool AuthService::requires_totp(store::Role role) const {
  return std::find(options_.totp_required_roles.begin(), options_.totp_required_roles.end(),
                   role) != options_.totp_required_roles.end();
}

std::optional<std::int64_t> AuthService::match_totp(const store::TotpEnrollment& enrollment,
                                                    const std::string& code) const {
  if (keys_ == nullptr) return std::nullopt;
  auto unwrapped = keys_->unwrap(enrollment.wrapped_secret);
  if (!unwrapped) return std::nullopt;  // key retired or tampered: nobody can use this factor
  const crypto::Secret secret(std::move(*unwrapped));
  const auto step = crypto::totp_verify(secret.value(), code, unix_seconds(clock_.now()));
  if (!step || *step <= enrollment.last_used_step) return std::nullopt;  // wrong or reused
  return step;
}

namespace {

void record_counts(AuditHook& audit,
                   const std::vector<std::pair<std::string, std::int64_t>>& counts) {
  for (const auto& [source, count] : counts) {
    audit.record({{}, {}, "auth.refusals_not_recorded", {"attempts:" + std::to_string(count)},
                  AuditOutcome::denied, source});
  }
}

}  // namespace

void AuthService::audit_refusal(AuditEvent event, const std::string& address) {
  const auto decision = refusals_.take(address);
  record_counts(audit_, decision.not_recorded);
  if (decision.record) audit_.record(std::move(event));
}

void AuthService::record_refusal_counts(bool all) {
  record_counts(audit_, refusals_.take_counts(all));
}

std::optional<Error> AuthService::login_refusal(const LoginAttempt& attempt) {
  const auto retry = throttle_.refusal(attempt.account, attempt.address);
  if (!retry) return std::nullopt;
  audit_refusal({{}, {}, "login.throttled", {}, AuditOutcome::denied, attempt.remote_address},
                attempt.address);
  return make_error(Code::resource_exhausted,
                    "too many failed sign-ins; retry in " + std::to_string(retry->count()) + " s");
}

void AuthService::login_async(const std::string& username, std::string password,
                              const std::string& remote_address, std::string totp_code,
                              Admission::Resume resume, LoginDone done) {
  auto attempt = std::make_shared<LoginAttempt>();
  std::optional<Result<LoginOutcome>> refused;
  try {
    attempt->address = address_without_port(remote_address);
    attempt->remote_address = remote_address;
    // No account has an empty name or one this long (they are at most 40 characters), so there
    // is nothing to check: the failure counts against the address alone, and the name is not
    // kept in the throttle's memory for an hour, whatever its size.
    const bool impossible = username.empty() || username.size() > kLongestUsername;
    attempt->account = impossible ? kNoAccount : username;
    if (auto error = login_refusal(*attempt)) {
      refused.emplace(std::move(*error));
    } else if (impossible) {
      throttle_.record_failure(attempt->account, attempt->address);
      audit_refusal({{}, {}, "login", {}, AuditOutcome::failed, remote_address},
                    attempt->address);
      refused.emplace(make_error(Code::unauthenticated, kBadCredentials));
    } else {
      attempt->password = std::move(password);
      attempt->totp_code = std::move(totp_code);
      store_.read([&](store::Tx& tx) {
        attempt->user = tx.find_user_by_username(username);
        if (!attempt->user) return;
        attempt->hash = tx.find_password_hash(attempt->user->id);
        attempt->totp = tx.find_totp(attempt->user->id);
      });
    }
  } catch (...) {
    return done(std::current_exception(), std::nullopt);
  }
  if (refused) return done(nullptr, std::move(refused));
  // A burst of sign-ins (or an attack) must not run a password check on every worker thread
  // at once: each holds 128 MiB. The others wait their turn, for a while, holding no thread.
  password_checks_.enter(
      options_.password_check_wait, std::move(resume),
      [this, attempt, done = std::move(done)](std::optional<Admission::Ticket> turn) {
        std::optional<Result<LoginOutcome>> outcome;
        std::exception_ptr failure;
        try {
          outcome.emplace(finish_login(*attempt, std::move(turn)));
        } catch (...) {
          failure = std::current_exception();
        }
        done(failure, std::move(outcome));
      });
}

Result<LoginOutcome> AuthService::login(const std::string& username, const std::string& password,
                                        const std::string& remote_address,
                                        const std::string& totp_code) {
  std::promise<Result<LoginOutcome>> answered;
  auto answer = answered.get_future();
  login_async(
      username, password, remote_address, totp_code,
      [](std::function<void()> work) { std::thread(std::move(work)).detach(); },
      [&answered](std::exception_ptr failure, std::optional<Result<LoginOutcome>> outcome) {
        if (failure) return answered.set_exception(failure);
        answered.set_value(std::move(*outcome));
      });
  return answer.get();
}

Result<LoginOutcome> AuthService::finish_login(LoginAttempt& attempt,
                                               std::optional<Admission::Ticket> turn) {
  const auto& username = attempt.account;
  const auto& address = attempt.address;
  const auto& user = attempt.user;
  bool verified = false;
  std::optional<std::string> rehashed;  // the password under the configured cost, if it changed
  {
    if (!turn) {
      return make_error(Code::resource_exhausted,
                        "too many sign-ins at once; retry in a few seconds");
    }
    // Asked again now that the checks ahead of this one have counted their failures: attempts
    // sent all at once, which all passed the first look, get no more checks than one by one.
    if (auto refused = login_refusal(attempt)) return *refused;
    if (user && attempt.hash) {
      verified = crypto::verify_password(attempt.password, *attempt.hash);
      // Kept at the configured cost, so that the dummy check below costs what a real one does.
      if (verified && crypto::needs_rehash(*attempt.hash, options_.password_params)) {
        rehashed = crypto::hash_password(attempt.password, options_.password_params);
      }
    } else {
      crypto::dummy_verify(attempt.password, options_.password_params);  // a real check's cost
    }
    // Counted before the turn passes on, so that the next check's look at the throttle sees it.
    if (!verified) throttle_.record_failure(username, address);
    turn.reset();
  }
  const auto fail = [&](Error error) -> Result<LoginOutcome> {
    audit_.record({user ? user->id : std::string{}, user ? user->organization_id : std::string{},
                   "login", {}, AuditOutcome::failed, attempt.remote_address});
    return error;
  };
  if (!verified || user->disabled) {
    if (verified) throttle_.record_failure(username, address);  // a disabled user's
    return fail(make_error(Code::unauthenticated, kBadCredentials));
  }
  std::optional<std::int64_t> step;
  if (attempt.totp) {
    if (attempt.totp_code.empty()) return fail(make_error(Code::unauthenticated, kCodeRequired));
    step = match_totp(*attempt.totp, attempt.totp_code);
    if (!step) {
      throttle_.record_failure(username, address);
      return fail(make_error(Code::unauthenticated, kBadCredentials));
    }
  } else if (requires_totp(user->role)) {
    return fail(make_error(Code::failed_precondition, kEnrolmentRequired));
  }
  auto outcome = open_session(*user, {*attempt.hash, rehashed}, attempt.remote_address, step);
  if (!outcome) {
    // The code was used meanwhile (a replay), or the password was reset or the account disabled
    // while the password was checked.
    throttle_.record_failure(username, address);
    return fail(outcome.error());
  }
  throttle_.record_success(username, address);
  return outcome;
}

Result<LoginOutcome> AuthService::open_session(const store::User& user,
                                               const CheckedPassword& password,
                                               const std::string& remote_address,
                                               std::optional<std::int64_t> totp_step) {
  LoginOutcome outcome;
  outcome.session_token = crypto::new_session_token();
  const auto now = clock_.now();
  store::SessionRecord session{crypto::token_hash(outcome.session_token), user.id, now,
                               now + options_.session_lifetime, false};
  const bool opened = store_.write([&](store::Tx& tx) {
    // A reset (which ends every session) or a disabling committed while the password was being
    // checked must not let this sign-in open a session with the old password.
    const auto current = tx.find_user(user.id);
    if (!current || current->disabled || tx.find_password_hash(user.id) != password.checked) {
      return false;
    }
    // Consuming the step in the same transaction makes a code single-use even when two logins
    // race with it.
    if (totp_step && !tx.use_totp_step(user.id, *totp_step)) return false;
    if (password.rehashed) tx.set_password_hash(user.id, *password.rehashed);
    tx.insert_session(session);
    return true;
  });
  if (!opened) return make_error(Code::unauthenticated, kBadCredentials);
  outcome.caller = Caller{user, session.token_hash, remote_address, nullptr};
  outcome.expires_at = session.expires_at;
  audit_.record({user.id, user.organization_id, "login", {}, AuditOutcome::success,
                 remote_address});
  return outcome;
}

Result<LoginOutcome> AuthService::resume(const std::string& token,
                                         const std::string& remote_address) {
  const auto hash = crypto::token_hash(token);
  const auto now = clock_.now();
  std::optional<store::SessionRecord> session;
  std::optional<store::User> user;
  std::optional<TimePoint> last_seen;
  store_.read([&](store::Tx& tx) {
    session = tx.find_session(hash);
    if (!session) return;
    user = tx.find_user(session->user_id);
    last_seen = tx.find_session_last_seen(hash);
  });
  const bool idle = !last_seen || *last_seen < now - options_.session_idle_timeout;
  if (!session || session->revoked || session->expires_at <= now || idle || !user ||
      user->disabled) {
    audit_refusal({user ? user->id : std::string{}, user ? user->organization_id : std::string{},
                   "resume", {}, AuditOutcome::failed, remote_address},
                  address_without_port(remote_address));
    return make_error(Code::unauthenticated, kBadToken);
  }
  audit_.record({user->id, user->organization_id, "resume", {}, AuditOutcome::success,
                 remote_address});
  LoginOutcome outcome;
  outcome.session_token = token;
  outcome.caller = Caller{*user, hash, remote_address, nullptr};
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

void AuthService::refuse_session(const Caller& caller, const std::string& action, bool revoke) {
  if (revoke) {
    store_.write([&](store::Tx& tx) {
      tx.revoke_session(caller.session_token_hash);
      return true;
    });
  }
  audit_.record({caller.user.id, caller.user.organization_id, action, {}, AuditOutcome::denied,
                 caller.remote_address});
}

Result<TotpEnrollmentResult> AuthService::enroll_totp(const std::string& username) {
  if (keys_ == nullptr) {
    return make_error(Code::failed_precondition, "no key ring to protect the TOTP secret");
  }
  TotpEnrollmentResult result;
  result.secret = crypto::new_totp_secret();
  store::TotpEnrollment enrollment;
  enrollment.wrapped_secret = keys_->wrap(result.secret);
  enrollment.enrolled_at = clock_.now();
  store_.write([&](store::Tx& tx) {
    const auto user = tx.find_user_by_username(username);
    if (!user) return false;
    enrollment.user_id = user->id;
    tx.put_totp(enrollment);
    return true;
  });
  if (enrollment.user_id.empty()) return make_error(Code::not_found, "unknown user");
  result.user_id = enrollment.user_id;
  result.uri = crypto::totp_uri(result.secret, username, options_.totp_issuer);
  audit_.record({"", "", "admin.user.totp_enroll", {result.user_id}, AuditOutcome::success, ""});
  return result;
}

Status AuthService::disable_totp(const std::string& username) {
  std::string user_id;
  const bool removed = store_.write([&](store::Tx& tx) {
    const auto user = tx.find_user_by_username(username);
    if (!user) return false;
    user_id = user->id;
    return tx.delete_totp(user->id);
  });
  if (user_id.empty()) return make_error(Code::not_found, "unknown user");
  if (!removed) return make_error(Code::not_found, "no second factor enrolled");
  audit_.record({"", "", "admin.user.totp_disable", {user_id}, AuditOutcome::success, ""});
  return ok();
}

std::chrono::microseconds AuthService::touch_interval() const {
  return std::min<std::chrono::microseconds>(max_touch_interval,
                                             options_.session_idle_timeout / 4);
}

std::vector<EndedSession> AuthService::sweep_sessions(
    std::uint64_t live_generation,
    const std::function<std::vector<std::string>()>& live_token_hashes) {
  return sweep(live_generation, live_token_hashes);
}

std::vector<EndedSession> AuthService::sweep_sessions(
    const std::vector<std::string>& live_token_hashes) {
  return sweep(std::nullopt, [&] { return live_token_hashes; });
}

std::vector<EndedSession> AuthService::sweep(
    std::optional<std::uint64_t> live_generation,
    const std::function<std::vector<std::string>()>& list) {
  std::lock_guard lock(sweep_mutex_);
  const auto now = clock_.now();
  // Read first: a change committed after this read moves the epoch past it, so the next sweep
  // looks at every row again even if this one's look-ups missed the change.
  std::int64_t epoch = 0;
  store_.read([&](store::Tx& tx) { epoch = tx.session_epoch(); });
  // A known token can meanwhile only have expired, which its expiry says, or idled out, which
  // the touches below prevent while it is live; every other change moves the epoch.
  const bool every_row = checked_epoch_ != epoch || now - checked_at_ >= full_check_interval;
  if (!every_row && live_generation && swept_generation_ == live_generation && now < next_due_) {
    return {};
  }
  const auto live_token_hashes = list();

  std::vector<std::string> unseen;
  if (!every_row) {
    for (const auto& hash : live_token_hashes) {
      if (!live_tokens_.contains(hash)) unseen.push_back(hash);
    }
  }
  const auto& look_up = every_row ? live_token_hashes : unseen;
  std::vector<store::SessionExpiry> valid;
  if (!look_up.empty()) {
    store_.read([&](store::Tx& tx) {
      valid = tx.list_valid_sessions(look_up, now, now - options_.session_idle_timeout);
    });
  }
  std::unordered_map<std::string_view, TimePoint> expiries;
  for (const auto& session : valid) expiries.emplace(session.token_hash, session.expires_at);

  // Touches are persisted for every token whose last one is at least half an interval old,
  // so that the live tokens' touches fall due together, not one sweep after another.
  const auto touch_every = touch_interval();
  const auto sweep_number = ++sweeps_;
  std::vector<EndedSession> invalid;
  std::unordered_set<std::string_view> reported;  // a token listed twice is reported once
  const auto end = [&](const std::string& hash, bool expired) {
    if (reported.insert(hash).second) invalid.push_back({hash, expired});
  };
  std::vector<std::string> due;
  bool touch_due = false;
  for (const auto& hash : live_token_hashes) {
    auto known = live_tokens_.find(hash);
    if (known != live_tokens_.end() && known->second.swept == sweep_number) continue;  // twice
    if (every_row || known == live_tokens_.end()) {
      const auto found = expiries.find(hash);
      if (found == expiries.end()) {
        const bool expired = known != live_tokens_.end() && known->second.expires_at <= now;
        if (known != live_tokens_.end()) live_tokens_.erase(known);
        end(hash, expired);
        continue;
      }
      if (known == live_tokens_.end()) known = live_tokens_.emplace(hash, LiveToken{}).first;
      known->second.expires_at = found->second;
    } else if (known->second.expires_at <= now) {
      live_tokens_.erase(known);
      end(hash, true);
      continue;
    }
    known->second.swept = sweep_number;
    touch_due = touch_due || now - known->second.touched_at >= touch_every;
  }
  std::erase_if(live_tokens_,
                [sweep_number](const auto& entry) { return entry.second.swept != sweep_number; });
  if (every_row) {
    checked_epoch_ = epoch;
    checked_at_ = now;
  }
  next_due_ = checked_at_ + full_check_interval;
  for (auto& [hash, token] : live_tokens_) {
    if (touch_due && now - token.touched_at >= touch_every / 2) {
      token.touched_at = now;
      due.push_back(hash);
    }
    next_due_ = std::min({next_due_, token.expires_at, token.touched_at + touch_every});
  }
  if (!invalid.empty()) next_due_ = now;  // listed again until their connections are gone
  if (!due.empty()) {
    store_.write([&](store::Tx& tx) {
      tx.touch_sessions(due, now);
      return true;
    });
  }
  // Last: a sweep that failed before here is not taken as having seen this set.
  swept_generation_ = live_generation;
  return invalid;
}

}  // namespace tmc::domain

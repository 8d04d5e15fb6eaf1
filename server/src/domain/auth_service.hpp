// Authentication: password login with throttling and TOTP, token resume, logout, revocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "crypto/keyring.hpp"
#include "crypto/password.hpp"
#include "domain/admission.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "domain/login_throttle.hpp"
#include "store/store.hpp"

namespace tmc::domain {

struct AuthOptions {
  std::chrono::seconds session_lifetime{std::chrono::hours(12)};
  // A session not in use for this long is invalid (a live connection keeps it in use).
  std::chrono::seconds session_idle_timeout{std::chrono::minutes(30)};
  crypto::ScryptParams password_params = crypto::ScryptParams::production();
  // Roles that must sign in with a TOTP second factor; users of other roles may enrol too.
  std::vector<store::Role> totp_required_roles{store::Role::admin};
  std::string totp_issuer = "tmc";
  ThrottleOptions throttle;
  // Password checks running at once (each holds the scrypt parameters' memory, 128 MiB in
  // production), and how long a sign-in waits for its turn before RESOURCE_EXHAUSTED.
  int concurrent_password_checks = 4;
  std::chrono::milliseconds password_check_wait{std::chrono::seconds(10)};
  // Attempts refused before any credential check (throttled sign-ins, impossible usernames,
  // failed resumes) recorded one by one per address and minute; the rest are counted in one
  // "auth.refusals_not_recorded" record (see RefusalAuditBudget).
  int refusals_audited_per_minute = 20;
};

// A live session the sweep found no longer valid.
struct EndedSession {
  std::string token_hash;
  // Its lifetime ran out. Otherwise it was revoked, its user disabled, or it idled out: the row
  // no longer says which, so a token the sweep had not seen valid before counts as revoked.
  bool expired = false;
  friend bool operator==(const EndedSession&, const EndedSession&) = default;
};

struct LoginOutcome {
  std::string session_token;  // bearer token, shown to the client once; never stored or logged
  Caller caller;
  TimePoint expires_at{};
};

// A new TOTP enrolment: shown to the administrator once.
struct TotpEnrollmentResult {
  std::string user_id;
  std::string secret;  // raw bytes; the store keeps it only wrapped
  std::string uri;     // otpauth:// provisioning URI (base32 secret inside)
};

// Thread-safe; every method blocks on the store, so call it from a worker thread.
// keys wraps TOTP secrets at rest; without it (nullptr) enrolment fails and enrolled users
// cannot sign in.
class AuthService {
 public:
  AuthService(store::Store& store, const Clock& clock, AuditHook& audit, AuthOptions options,
              const crypto::KeyRing* keys = nullptr);

  // Errors:
  // - RESOURCE_EXHAUSTED "too many failed sign-ins; retry in N s": throttled (no password check
  //   is run, and the attempt does not count as a failure).
  // - UNAUTHENTICATED "invalid username or password": unknown or disabled user, wrong password,
  //   or a wrong or already used TOTP code (all at the same cost; a dummy hash runs for unknown
  //   users).
  // - UNAUTHENTICATED "second factor required: ...": right password, TOTP enrolled, no code.
  // - FAILED_PRECONDITION: right password, but the role requires TOTP and none is enrolled.
  // - RESOURCE_EXHAUSTED "too many sign-ins at once ...": no password check turn came within
  //   AuthOptions::password_check_wait.
  //
  // done runs exactly once: with the outcome, or with the exception the store or the check
  // threw (outcome empty). It runs on this thread when the sign-in is refused before its
  // password check or a check turn is free; otherwise the sign-in waits for a turn holding no
  // thread, and resume is handed the rest (the check, the session's insert, done) to run on a
  // thread of its choosing, never the one that gave the turn back.
  using LoginDone =
      std::function<void(std::exception_ptr failure, std::optional<Result<LoginOutcome>>)>;
  void login_async(const std::string& username, std::string password,
                   const std::string& remote_address, std::string totp_code,
                   Admission::Resume resume, LoginDone done);
  // The same, waiting for the outcome (a sign-in that waits for its turn resumes on a thread
  // of its own). For tools and tests; the server signs in with login_async.
  Result<LoginOutcome> login(const std::string& username, const std::string& password,
                             const std::string& remote_address,
                             const std::string& totp_code = {});

  // A token that is unknown, expired, idle too long, revoked or whose user is disabled:
  // UNAUTHENTICATED.
  Result<LoginOutcome> resume(const std::string& token, const std::string& remote_address);

  // Revokes the caller's session token.
  Status logout(const Caller& caller);

  // Records that the transport refused a session login or resume had just granted (action names
  // the reason, e.g. "login.certificate_mismatch"); revoke: the token was issued by that login
  // and is revoked again.
  void refuse_session(const Caller& caller, const std::string& action, bool revoke);

  // Hashes a password with the configured parameters (for user creation and reset).
  std::string hash_password(const std::string& password) const;

  // Enrols (or re-enrols, invalidating the old secret) a TOTP second factor. NOT_FOUND for an
  // unknown user; FAILED_PRECONDITION without a key ring.
  Result<TotpEnrollmentResult> enroll_totp(const std::string& username);
  // Removes the second factor. NOT_FOUND for an unknown user or one without TOTP.
  Status disable_totp(const std::string& username);

  // For the periodic sweep of live sessions: returns the live tokens that are no longer valid
  // (revoked, expired, user disabled, idle), each once, and records the others as in
  // use (persisted at most once per touch interval per token). live_generation moves on
  // whenever the set of live tokens changes; live_token_hashes lists them, each once, and is
  // called only when something may have changed: that set, the store's session epoch (a session
  // revoked or a user disabled, by any process), a known token's expiry or touch, once a minute
  // regardless, or after a sweep that ended some. Rows are read only for tokens not seen before,
  // or for all of them when the epoch moved or a minute passed.
  std::vector<EndedSession> sweep_sessions(
      std::uint64_t live_generation,
      const std::function<std::vector<std::string>()>& live_token_hashes);
  // The same with the live tokens given (taken as a change of the set each time).
  std::vector<EndedSession> sweep_sessions(const std::vector<std::string>& live_token_hashes);

  bool requires_totp(store::Role role) const;

  // Records the counts of refusals not recorded one by one (see RefusalAuditBudget) whose minute
  // has ended, or all of them when `all` (at shutdown). Call from a timer.
  void record_refusal_counts(bool all = false);

  // The turns of password checks (see AuthOptions); for metrics and tests.
  Admission& password_checks() { return password_checks_; }

 private:
  // A sign-in between its first look at the throttle and its password check.
  struct LoginAttempt {
    std::string account;  // the username, or kNoAccount for names no account can have
    std::string address;  // the remote address without its port, as the throttle keeps it
    std::string remote_address;
    std::string password;
    std::string totp_code;
    std::optional<store::User> user;
    std::optional<std::string> hash;
    std::optional<store::TotpEnrollment> totp;
  };
  // The throttle's refusal of the attempt, recorded within the refusal budget; nullopt if none.
  std::optional<Error> login_refusal(const LoginAttempt& attempt);
  // The rest of a sign-in, once its turn came (nullopt: none came in time).
  Result<LoginOutcome> finish_login(LoginAttempt& attempt, std::optional<Admission::Ticket> turn);
  // The stored hash a sign-in's password was checked against, and its replacement at the
  // configured cost when that differs.
  struct CheckedPassword {
    std::string checked;
    std::optional<std::string> rehashed;
  };
  // Opens the session unless the user's hash is no longer `password.checked` or the user was
  // disabled meanwhile (UNAUTHENTICATED, as is a TOTP step already used).
  Result<LoginOutcome> open_session(const store::User& user, const CheckedPassword& password,
                                    const std::string& remote_address,
                                    std::optional<std::int64_t> totp_step);
  // Checks code against the enrolment: the matched step, or nullopt when wrong.
  std::optional<std::int64_t> match_totp(const store::TotpEnrollment& enrollment,
                                         const std::string& code) const;
  std::chrono::microseconds touch_interval() const;
  // Records event, a refusal before any credential check from address, within the budget.
  void audit_refusal(AuditEvent event, const std::string& address);
  std::vector<EndedSession> sweep(std::optional<std::uint64_t> live_generation,
                                  const std::function<std::vector<std::string>()>& list);

  store::Store& store_;
  const Clock& clock_;
  AuditHook& audit_;
  AuthOptions options_;
  const crypto::KeyRing* keys_;
  LoginThrottle throttle_;
  RefusalAuditBudget refusals_;
  Admission password_checks_;
  // What the sweep of live sessions knows about each live token: valid at the last look at its
  // row, until expires_at; its use last persisted at touched_at; swept: the last sweep that
  // listed it. Guarded by sweep_mutex_, like the rest of the sweep's state.
  struct LiveToken {
    TimePoint expires_at{};
    TimePoint touched_at{};
    std::uint64_t swept = 0;
  };
  std::mutex sweep_mutex_;
  std::unordered_map<std::string, LiveToken> live_tokens_;
  std::uint64_t sweeps_ = 0;
  std::optional<std::uint64_t> swept_generation_;  // of the live set at the last listing
  std::optional<std::int64_t> checked_epoch_;      // session_epoch at the last look at every row
  TimePoint checked_at_{};                         // when that look was
  TimePoint next_due_{};  // the earliest expiry, touch or full look among the known tokens
};

}  // namespace tmc::domain

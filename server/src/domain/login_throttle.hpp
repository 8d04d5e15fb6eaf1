// Login throttling: exponential back-off per (account, address), spraying limit per address and
// an hourly failure cap per account that never locks a user out of an address they use.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.hpp"

namespace tmc::domain {

struct ThrottleOptions {
  // Failures of one account from one address before back-off starts; the back-off then lasts
  // first_backoff after that failure and doubles with every further failure, up to max_backoff.
  int backoff_after = 5;
  std::chrono::seconds first_backoff{1};
  std::chrono::seconds max_backoff{std::chrono::minutes(15)};
  // Failures per account per window; beyond it only addresses the account recently signed in
  // from may still try (each within its own back-off). 0: no cap.
  int max_account_failures = 100;
  // Failures from one address across all accounts (password spraying) before that address
  // backs off the same way. 0: no limit.
  int address_backoff_after = 100;
  // Counters are forgotten this long after their last failure; also the cap's window.
  std::chrono::seconds window{std::chrono::hours(1)};
  // How long an address stays trusted for an account after a successful login from it.
  std::chrono::seconds trusted_address_lifetime{std::chrono::hours(24 * 30)};
};

// In-memory state (one node: a restart forgets it, and several nodes each throttle on their own;
// both only loosen the limits by a constant factor). Thread-safe. Accounts are keyed by the
// username as typed, so unknown usernames are throttled exactly like known ones.
class LoginThrottle {
 public:
  LoginThrottle(const Clock& clock, ThrottleOptions options);

  // When an attempt must be refused (without checking the password): how long until it may be
  // retried (at least one second). nullopt: go ahead.
  std::optional<std::chrono::seconds> refusal(const std::string& account,
                                              const std::string& address);
  void record_failure(const std::string& account, const std::string& address);
  // Resets the (account, address) back-off and trusts the address for the account.
  void record_success(const std::string& account, const std::string& address);

  const ThrottleOptions& options() const { return options_; }

 private:
  struct Streak {
    int failures = 0;
    TimePoint last_failure{};
  };
  struct Account {
    std::deque<TimePoint> failures;  // within the window, oldest first (at most the cap)
    std::map<std::string, TimePoint> trusted;  // address -> last successful login
  };

  // Time the streak still blocks for at now (zero or negative: not blocked).
  std::chrono::microseconds blocked_for(const Streak& streak, int after, TimePoint now) const;
  void forget_stale_locked(TimePoint now);

  const Clock& clock_;
  const ThrottleOptions options_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Streak> pairs_;
  std::map<std::string, Streak> addresses_;
  std::map<std::string, Account> accounts_;
  TimePoint last_cleanup_{};
};

// Bounds the audit records of attempts refused before any credential is checked (a throttled
// sign-in, a username no account can have, an unknown or expired session token): each costs the
// client one cheap request and would cost the log a permanent record. Per address, the first
// `per_window` of each window are recorded one by one; the rest are counted, and the count is
// handed back once the window has ended, with the next refused attempt from any address, to be
// recorded as one summary (or by take_counts, which a timer calls, whichever comes first).
// Thread-safe; one node's memory, like LoginThrottle.
class RefusalAuditBudget {
 public:
  struct Decision {
    bool record = true;  // record this attempt
    // Addresses whose attempts were counted and not recorded in a window that has ended.
    std::vector<std::pair<std::string, std::int64_t>> not_recorded;
  };

  RefusalAuditBudget(const Clock& clock, int per_window,
                     std::chrono::seconds window = std::chrono::minutes(1));

  Decision take(const std::string& address);
  // Hands back the counts of the windows that have ended, or of every window when `all` (at
  // shutdown: what was counted so far).
  std::vector<std::pair<std::string, std::int64_t>> take_counts(bool all = false);

 private:
  struct Window {
    TimePoint start{};
    int recorded = 0;
    std::int64_t counted = 0;
  };
  using Counts = std::vector<std::pair<std::string, std::int64_t>>;

  // Removes the ended windows (every window when all), adding their counts to out.
  void sweep_locked(TimePoint now, bool all, Counts& out);

  const Clock& clock_;
  const int per_window_;
  const std::chrono::seconds window_;
  std::mutex mutex_;
  std::map<std::string, Window> windows_;
  TimePoint last_sweep_{};
};

}  // namespace tmc::domain

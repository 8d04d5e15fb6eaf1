// Login throttling: exponential back-off per (account, address), spraying limit per address and
// an hourly failure cap per account that never locks a user out of an address they use.
#include "domain/login_throttle.hpp"

#include <algorithm>

namespace tmc::domain {
namespace {

using std::chrono::microseconds;

constexpr std::chrono::minutes cleanup_interval{5};

// Rounds a positive wait up to whole seconds (a client told "0 s" would retry at once).
std::chrono::seconds whole_seconds(microseconds wait) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait);
  return std::max(seconds, std::chrono::seconds(1));
}

}  // namespace

LoginThrottle::LoginThrottle(const Clock& clock, ThrottleOptions options)
    : clock_(clock), options_(options) {}

microseconds LoginThrottle::blocked_for(const Streak& streak, int after, TimePoint now) const {
  if (after <= 0 || streak.failures < after) return microseconds(0);
  if (now - streak.last_failure > options_.window) return microseconds(0);  // forgotten
  // Doubling, computed without overflow: stop once the cap is reached.
  microseconds backoff = options_.first_backoff;
  for (int extra = streak.failures - after; extra > 0 && backoff < options_.max_backoff; --extra) {
    backoff *= 2;
  }
  backoff = std::min<microseconds>(backoff, options_.max_backoff);
  return streak.last_failure + backoff - now;
}

std::optional<std::chrono::seconds> LoginThrottle::refusal(const std::string& account,
                                                           const std::string& address) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  forget_stale_locked(now);
  microseconds wait{0};
  if (const auto pair = pairs_.find({account, address}); pair != pairs_.end()) {
    wait = std::max(wait, blocked_for(pair->second, options_.backoff_after, now));
  }
  if (const auto source = addresses_.find(address); source != addresses_.end()) {
    wait = std::max(wait, blocked_for(source->second, options_.address_backoff_after, now));
  }
  if (const auto found = accounts_.find(account);
      found != accounts_.end() && options_.max_account_failures > 0) {
    auto& state = found->second;
    while (!state.failures.empty() && now - state.failures.front() >= options_.window) {
      state.failures.pop_front();
    }
    const bool capped = static_cast<int>(state.failures.size()) >= options_.max_account_failures;
    const auto trusted = state.trusted.find(address);
    const bool trusted_address =
        trusted != state.trusted.end() &&
        now - trusted->second < options_.trusted_address_lifetime;
    if (capped && !trusted_address) {
      wait = std::max<microseconds>(wait, state.failures.front() + options_.window - now);
    }
  }
  if (wait <= microseconds(0)) return std::nullopt;
  return whole_seconds(wait);
}

void LoginThrottle::record_failure(const std::string& account, const std::string& address) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  const auto bump = [&](Streak& streak) {
    if (now - streak.last_failure > options_.window) streak.failures = 0;
    ++streak.failures;
    streak.last_failure = now;
  };
  bump(pairs_[{account, address}]);
  bump(addresses_[address]);
  if (options_.max_account_failures > 0) {
    auto& failures = accounts_[account].failures;
    failures.push_back(now);
    while (static_cast<int>(failures.size()) > options_.max_account_failures) {
      failures.pop_front();
    }
  }
}

void LoginThrottle::record_success(const std::string& account, const std::string& address) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  pairs_.erase({account, address});
  accounts_[account].trusted[address] = now;
}

void LoginThrottle::forget_stale_locked(TimePoint now) {
  if (now - last_cleanup_ < cleanup_interval) return;
  last_cleanup_ = now;
  const auto stale = [&](const Streak& streak) {
    return now - streak.last_failure > options_.window;
  };
  std::erase_if(pairs_, [&](const auto& item) { return stale(item.second); });
  std::erase_if(addresses_, [&](const auto& item) { return stale(item.second); });
  for (auto entry = accounts_.begin(); entry != accounts_.end();) {
    auto& state = entry->second;
    while (!state.failures.empty() && now - state.failures.front() >= options_.window) {
      state.failures.pop_front();
    }
    std::erase_if(state.trusted, [&](const auto& trusted) {
      return now - trusted.second >= options_.trusted_address_lifetime;
    });
    entry = state.failures.empty() && state.trusted.empty() ? accounts_.erase(entry) : ++entry;
  }
}

RefusalAuditBudget::RefusalAuditBudget(const Clock& clock, int per_window,
                                       std::chrono::seconds window)
    : clock_(clock), per_window_(per_window), window_(window) {}

void RefusalAuditBudget::sweep_locked(TimePoint now, bool all, Counts& out) {
  last_sweep_ = now;
  for (auto entry = windows_.begin(); entry != windows_.end();) {
    const auto& window = entry->second;
    if (!all && now - window.start < window_) {
      ++entry;
      continue;
    }
    if (window.counted > 0) out.emplace_back(entry->first, window.counted);
    entry = windows_.erase(entry);
  }
}

RefusalAuditBudget::Decision RefusalAuditBudget::take(const std::string& address) {
  const auto now = clock_.now();
  Decision decision;
  std::lock_guard lock(mutex_);
  // Ended windows go, handing back what they counted: all of them at most once per window, and
  // this address's own always.
  if (now - last_sweep_ >= window_) sweep_locked(now, false, decision.not_recorded);
  auto [entry, added] = windows_.try_emplace(address);
  auto& window = entry->second;
  if (added) {
    window.start = now;
  } else if (now - window.start >= window_) {
    if (window.counted > 0) decision.not_recorded.emplace_back(address, window.counted);
    window = Window{now, 0, 0};
  }
  if (window.recorded < per_window_) {
    ++window.recorded;
  } else {
    ++window.counted;
    decision.record = false;
  }
  return decision;
}

RefusalAuditBudget::Counts RefusalAuditBudget::take_counts(bool all) {
  Counts counts;
  std::lock_guard lock(mutex_);
  sweep_locked(clock_.now(), all, counts);
  return counts;
}

}  // namespace tmc::domain

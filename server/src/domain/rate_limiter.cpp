// Token buckets for abuse limits: per session request rate and per address connection admission.
#include "domain/rate_limiter.hpp"

#include <algorithm>

namespace tmc::domain {
namespace {

constexpr std::chrono::seconds prune_interval{60};
constexpr std::size_t prune_threshold = 1024;  // addresses kept before pruning is considered

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, double burst, SteadyTime now)
    : rate_(rate_per_second), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(SteadyTime now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool TokenBucket::try_take(SteadyTime now) {
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

double TokenBucket::seconds_until_available(SteadyTime now) {
  refill(now);
  if (tokens_ >= 1.0) return 0;
  if (rate_ <= 0) return std::chrono::duration<double>(std::chrono::hours(24)).count();
  return (1.0 - tokens_) / rate_;
}

double TokenBucket::tokens(SteadyTime now) {
  refill(now);
  return tokens_;
}

AddressAdmission::Decision AddressAdmission::admit(const std::string& address, SteadyTime now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  auto& entry = addresses_[address];
  entry.last_used = now;
  if (limits_.max_connections != 0 && entry.live >= limits_.max_connections) {
    return {nullptr, Refusal::too_many_connections};
  }
  if (limits_.new_per_second > 0) {
    if (!entry.bucket) {
      entry.bucket = std::make_unique<TokenBucket>(limits_.new_per_second, limits_.new_burst, now);
    }
    if (!entry.bucket->try_take(now)) return {nullptr, Refusal::too_fast};
  }
  ++entry.live;
  return {std::make_shared<Ticket>(shared_from_this(), address), Refusal::none};
}

std::size_t AddressAdmission::live(const std::string& address) const {
  std::lock_guard lock(mutex_);
  const auto found = addresses_.find(address);
  return found == addresses_.end() ? 0 : found->second.live;
}

void AddressAdmission::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto found = addresses_.find(address);
  if (found != addresses_.end() && found->second.live > 0) --found->second.live;
}

void AddressAdmission::prune_locked(SteadyTime now) {
  if (addresses_.size() < prune_threshold || now - last_prune_ < prune_interval) return;
  last_prune_ = now;
  std::erase_if(addresses_, [&](auto& item) {
    auto& entry = item.second;
    const bool bucket_full = !entry.bucket || entry.bucket->tokens(now) >= limits_.new_burst;
    return entry.live == 0 && bucket_full;
  });
}

std::string address_without_port(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') {
    const auto close = remote.find(']');
    if (close != std::string::npos) return remote.substr(1, close - 1);
    return remote;
  }
  const auto colon = remote.rfind(':');
  if (colon == std::string::npos || remote.find(':') != colon) return remote;  // bare v6
  return remote.substr(0, colon);
}

}  // namespace tmc::domain

// Token buckets for abuse limits: per session request rate and per address connection admission.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tmc::domain {

// Rate limits run on the monotonic clock; callers pass "now" so the logic is testable (sans-IO).
using SteadyTime = std::chrono::steady_clock::time_point;

// A classic token bucket: holds at most `burst` tokens, refills at `rate_per_second`, starts
// full. Not thread-safe (one owner, or guard it).
class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst, SteadyTime now);

  // Takes one token if available.
  bool try_take(SteadyTime now);
  // Seconds until one token is available (0 when one is).
  double seconds_until_available(SteadyTime now);
  double tokens(SteadyTime now);

 private:
  void refill(SteadyTime now);

  double rate_;
  double burst_;
  double tokens_;
  SteadyTime last_;
};

struct AddressLimits {
  std::size_t max_connections = 256;  // live connections per address; 0: unlimited
  double new_per_second = 50;         // sustained new connections per address; 0: unlimited
  double new_burst = 100;             // connections accepted at once before the rate applies
};

// Admission of new connections by remote address (IP without port): a live count and a token
// bucket per address. Thread-safe. An admitted connection holds a Ticket; destroying the
// ticket (when the connection ends) releases its slot.
class AddressAdmission : public std::enable_shared_from_this<AddressAdmission> {
 public:
  explicit AddressAdmission(AddressLimits limits) : limits_(limits) {}

  class Ticket {
   public:
    Ticket(std::shared_ptr<AddressAdmission> owner, std::string address)
        : owner_(std::move(owner)), address_(std::move(address)) {}
    ~Ticket() { owner_->release(address_); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    std::shared_ptr<AddressAdmission> owner_;
    std::string address_;
  };

  enum class Refusal { none, too_many_connections, too_fast };
  struct Decision {
    std::shared_ptr<Ticket> ticket;  // null when refused
    Refusal refusal = Refusal::none;
  };
  // Decides for one new connection from address. Must be owned by a shared_ptr.
  Decision admit(const std::string& address, SteadyTime now);

  std::size_t live(const std::string& address) const;

 private:
  struct PerAddress {
    std::size_t live = 0;
    std::unique_ptr<TokenBucket> bucket;
    SteadyTime last_used{};
  };
  void release(const std::string& address);
  // Forgets idle addresses whose bucket is full again, so the map stays small.
  void prune_locked(SteadyTime now);

  const AddressLimits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, PerAddress> addresses_;
  SteadyTime last_prune_{};
};

// "10.0.0.1:5555" -> "10.0.0.1", "[::1]:80" -> "::1"; anything else is returned unchanged.
std::string address_without_port(const std::string& remote);

}  // namespace tmc::domain

// Counts the deliveries of each message to its recipients (see delivery_tracker.hpp).
#include "delivery_tracker.hpp"

#include <bit>
#include <stdexcept>

namespace tmc::bench {

DeliveryTracker::DeliveryTracker(std::size_t capacity, std::uint32_t recipients)
    : slots_(std::bit_ceil(capacity < 1 ? std::size_t{1} : capacity)),
      mask_(slots_.size() - 1),
      recipients_(recipients) {
  if (recipients == 0) throw std::invalid_argument("a message needs at least one recipient");
}

void DeliveryTracker::sent(std::uint64_t id) {
  auto& s = slot(id);
  if (s.id != UINT64_MAX && s.arrived < recipients_) --incomplete_;  // forgotten
  s.id = id;
  s.arrived = 0;
  ++incomplete_;
}

bool DeliveryTracker::arrive(std::uint64_t id) {
  auto& s = slot(id);
  if (s.id != id || s.arrived >= recipients_) return false;
  if (++s.arrived < recipients_) return false;
  --incomplete_;
  return true;
}

}  // namespace tmc::bench

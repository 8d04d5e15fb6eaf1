// Counts the deliveries of each message to its recipients, to time the last one (fanout).
#pragma once

#include <cstdint>
#include <vector>

namespace tmc::bench {

// Messages are registered when sent and counted as their copies arrive; arrive() answers true
// exactly once per message, for the copy that completes it. A fixed ring of slots indexed by
// message id: ids must grow by one per message (per tracker), and at most `capacity` messages
// (rounded up to a power of two) may be in flight, else the oldest are forgotten. Copies of
// unknown or forgotten messages, and copies beyond the expected count, are ignored. Never
// allocates after construction. Not thread-safe.
class DeliveryTracker {
 public:
  DeliveryTracker(std::size_t capacity, std::uint32_t recipients);

  // Starts counting the copies of message `id`.
  void sent(std::uint64_t id);
  // One copy of message `id` arrived; true when it was the last expected one.
  bool arrive(std::uint64_t id);
  // Messages sent but not yet delivered to every recipient (among the remembered ones).
  std::uint64_t incomplete() const { return incomplete_; }
  std::uint32_t recipients() const { return recipients_; }

 private:
  struct Slot {
    std::uint64_t id = UINT64_MAX;  // UINT64_MAX: empty
    std::uint32_t arrived = 0;
  };
  Slot& slot(std::uint64_t id) { return slots_[id & mask_]; }

  std::vector<Slot> slots_;
  std::uint64_t mask_;
  std::uint32_t recipients_;
  std::uint64_t incomplete_ = 0;
};

}  // namespace tmc::bench

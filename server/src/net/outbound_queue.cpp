// Per-session two-lane outbound queue with a byte bound (no I/O; used on the session strand).
#include "net/outbound_queue.hpp"

namespace tmc::net {

void FrameRing::grow() {
  std::vector<Frame> slots(slots_.empty() ? 4 : slots_.size() * 2);
  for (std::size_t i = 0; i < count_; ++i) {
    slots[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
  }
  slots_.swap(slots);
  head_ = 0;
}

bool OutboundQueue::push(Frame frame, api::Lane lane) {
  if (!frame) return true;
  const auto queued = queued_bytes();
  if (frame->size() > limit_bytes_ || queued > limit_bytes_ - frame->size()) return false;
  (lane == api::Lane::control ? control_ : bulk_).push_back(std::move(frame));
  return true;
}

OutboundQueue::Frame OutboundQueue::pop() {
  auto& lane = !control_.empty() ? control_ : bulk_;
  if (lane.empty()) return nullptr;
  return lane.pop_front();
}

const std::string* OutboundQueue::peek() const {
  const auto& lane = !control_.empty() ? control_ : bulk_;
  return lane.empty() ? nullptr : lane.front().get();
}

}  // namespace tmc::net

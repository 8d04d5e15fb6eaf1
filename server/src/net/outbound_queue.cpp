// Per-session two-lane outbound queue with a byte bound (no I/O; used on the session strand).
#include "net/outbound_queue.hpp"

namespace tmc::net {
namespace {

std::size_t bytes_of(const std::deque<OutboundQueue::Frame>& lane) {
  std::size_t total = 0;
  for (const auto& frame : lane) total += frame->size();
  return total;
}

}  // namespace

bool OutboundQueue::push(Frame frame, api::Lane lane) {
  if (!frame) return true;
  if (frame->size() > limit_bytes_ || queued_bytes_ > limit_bytes_ - frame->size()) return false;
  queued_bytes_ += frame->size();
  (lane == api::Lane::control ? control_ : bulk_).push_back(std::move(frame));
  return true;
}

OutboundQueue::Frame OutboundQueue::pop() {
  auto& lane = !control_.empty() ? control_ : bulk_;
  if (lane.empty()) return nullptr;
  Frame frame = std::move(lane.front());
  lane.pop_front();
  queued_bytes_ -= frame->size();
  return frame;
}

const std::string* OutboundQueue::peek() const {
  const auto& lane = !control_.empty() ? control_ : bulk_;
  return lane.empty() ? nullptr : lane.front().get();
}

void OutboundQueue::drop_bulk() {
  queued_bytes_ -= bytes_of(bulk_);
  bulk_.clear();
}

void OutboundQueue::clear() {
  control_.clear();
  bulk_.clear();
  queued_bytes_ = 0;
}

}  // namespace tmc::net

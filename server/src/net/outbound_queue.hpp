// Per-session two-lane outbound queue with a byte bound (no I/O; used on the session strand).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "api/transport.hpp"

namespace tmc::net {

// Control frames always leave before bulk frames; within a lane, order is kept. Not
// thread-safe: the owning session touches it only on its strand.
class OutboundQueue {
 public:
  using Frame = std::shared_ptr<const std::string>;

  explicit OutboundQueue(std::size_t limit_bytes) : limit_bytes_(limit_bytes) {}

  // Queues frame; false (and nothing queued) when the queued bytes would exceed the limit.
  [[nodiscard]] bool push(Frame frame, api::Lane lane);
  // The next frame to write (control lane first), or null when both lanes are empty.
  Frame pop();
  // The frame pop() would return, left queued (null when both lanes are empty).
  const std::string* peek() const;
  // Drops the bulk lane (a closing session only flushes control frames).
  void drop_bulk();
  // Drops everything.
  void clear();

  bool empty() const { return control_.empty() && bulk_.empty(); }
  // Bytes queued and not yet handed to pop().
  std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  std::size_t limit_bytes_;
  std::size_t queued_bytes_ = 0;
  std::deque<Frame> control_;
  std::deque<Frame> bulk_;
};

}  // namespace tmc::net

// Per-session two-lane outbound queue with a byte bound (no I/O; used on the session strand).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "api/transport.hpp"

namespace tmc::net {

// One lane's frames, oldest first: a ring that doubles when full. It holds only the slots its
// largest burst needed (a std::deque allocates its map and a 512-byte block at construction and
// keeps them while empty, 1.2 KiB for two lanes of an idle session), and gives them back once
// drained if that burst was larger than kept_slots.
class FrameRing {
 public:
  using Frame = std::shared_ptr<const std::string>;
  static constexpr std::size_t kept_slots = 32;

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return bytes_; }  // of the frames held
  std::size_t capacity() const { return slots_.size(); }

  // Requires !empty().
  const Frame& front() const { return slots_[head_]; }

  void push_back(Frame frame) {
    if (count_ == slots_.size()) grow();
    bytes_ += frame->size();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(frame);
    ++count_;
  }

  // Requires !empty().
  Frame pop_front() {
    Frame frame = std::move(slots_[head_]);
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
    bytes_ -= frame->size();
    if (count_ == 0) drained();
    return frame;
  }

  void clear() {
    for (auto& slot : slots_) slot.reset();
    count_ = 0;
    bytes_ = 0;
    drained();
  }

 private:
  void grow();
  void drained() {
    head_ = 0;
    if (slots_.size() > kept_slots) std::vector<Frame>().swap(slots_);
  }

  std::vector<Frame> slots_;  // size is 0 or a power of two; unused slots are null
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

// Control frames always leave before bulk frames; within a lane, order is kept. Not
// thread-safe: the owning session touches it only on its strand.
class OutboundQueue {
 public:
  using Frame = FrameRing::Frame;

  explicit OutboundQueue(std::size_t limit_bytes) : limit_bytes_(limit_bytes) {}

  // Queues frame; false (and nothing queued) when the queued bytes would exceed the limit.
  [[nodiscard]] bool push(Frame frame, api::Lane lane);
  // The next frame to write (control lane first), or null when both lanes are empty.
  Frame pop();
  // The frame pop() would return, left queued (null when both lanes are empty).
  const std::string* peek() const;
  // Drops the bulk lane (a closing session only flushes control frames).
  void drop_bulk() { bulk_.clear(); }
  // Drops everything.
  void clear() {
    control_.clear();
    bulk_.clear();
  }

  bool empty() const { return control_.empty() && bulk_.empty(); }
  // Bytes queued and not yet handed to pop().
  std::size_t queued_bytes() const { return control_.bytes() + bulk_.bytes(); }

 private:
  std::size_t limit_bytes_;
  FrameRing control_;
  FrameRing bulk_;
};

}  // namespace tmc::net

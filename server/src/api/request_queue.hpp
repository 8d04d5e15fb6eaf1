// The requests waiting on one lane of a connection, oldest first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>

#include "telemed/v1/frames.pb.h"

namespace tmc::api {

// A FIFO of requests with the bytes each took as received and its place among all of its
// connection's requests. Empty, it holds no memory: a std::deque keeps a 512-byte block and its
// map even when empty, and most connections are idle (two lanes' queues were 2.4 KiB of an idle
// session's 27). Not thread-safe; the connection's mutex guards it.
class RequestQueue {
 public:
  struct Entry {
    telemed::v1::ClientFrame frame;
    std::size_t bytes = 0;       // as received
    std::uint64_t arrival = 0;   // the connection's count of requests when it arrived
  };

  bool empty() const { return !entries_; }
  std::size_t size() const { return entries_ ? entries_->size() : 0; }
  std::size_t bytes() const { return bytes_; }  // of the queued requests, as received

  // Requires !empty().
  const Entry& front() const { return entries_->front(); }
  // i-th from the front; requires i < size().
  const Entry& operator[](std::size_t i) const { return (*entries_)[i]; }

  void push_back(Entry entry) {
    if (!entries_) entries_ = std::make_unique<std::deque<Entry>>();
    bytes_ += entry.bytes;
    entries_->push_back(std::move(entry));
  }

  // Takes the oldest request off; requires !empty().
  Entry pop_front() {
    Entry entry = std::move(entries_->front());
    entries_->pop_front();
    bytes_ -= entry.bytes;
    if (entries_->empty()) entries_.reset();
    return entry;
  }

  void clear() {
    entries_.reset();
    bytes_ = 0;
  }

 private:
  std::unique_ptr<std::deque<Entry>> entries_;  // null when empty
  std::size_t bytes_ = 0;
};

}  // namespace tmc::api

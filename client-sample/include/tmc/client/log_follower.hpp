// Sans-IO bookkeeping for following one consultation's log live: order, duplicates, gaps, acks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "telemed/v1/messaging.pb.h"

namespace tmc::client {

// Merges the entries of sync_consultation answers and MessagePosted events (delivered
// at-least-once, possibly racing each other and reordered around a reconnect) into one
// gap-free, duplicate-free sequence to display, and tracks what to acknowledge.
// Typical loop: feed every entry to add() and display what it returns; when has_gap(), sync
// from last_seen(); after displaying, ack ack_due() and report it with acknowledged().
// Not thread-safe.
class LogFollower {
 public:
  // last_seen: entries up to this seq were already displayed (0: none).
  explicit LogFollower(std::string consultation_id, std::uint64_t last_seen = 0);

  // Offers one entry. Returns the entries now ready to display, in seq order: none for a
  // duplicate, an entry of another consultation or one held back behind a gap; several when
  // this entry fills a gap. Entries with seq 0 (relayed signals, never stored) are returned at
  // once and leave last_seen() unchanged.
  std::vector<telemed::v1::LogEntry> add(telemed::v1::LogEntry entry);

  // The highest seq displayed: every entry up to it was returned by add() exactly once (or was
  // before the starting point).
  std::uint64_t last_seen() const { return last_seen_; }

  // True while entries after a missing seq are held back: sync from last_seen() to fill it.
  bool has_gap() const { return !held_.empty(); }

  // The seq to acknowledge, if entries were displayed beyond the last acknowledged one.
  std::optional<std::uint64_t> ack_due() const;
  // The server accepted an acknowledgement up to seq.
  void acknowledged(std::uint64_t seq);

  const std::string& consultation_id() const { return consultation_id_; }

 private:
  std::string consultation_id_;
  std::uint64_t last_seen_;
  std::uint64_t acknowledged_;
  std::map<std::uint64_t, telemed::v1::LogEntry> held_;  // seq > last_seen_ + 1
};

}  // namespace tmc::client

// Sans-IO bookkeeping for following one consultation's log live: order, duplicates, gaps, acks.
#include "tmc/client/log_follower.hpp"

#include <algorithm>
#include <utility>

namespace tmc::client {

using telemed::v1::LogEntry;

LogFollower::LogFollower(std::string consultation_id, std::uint64_t last_seen)
    : consultation_id_(std::move(consultation_id)),
      last_seen_(last_seen),
      acknowledged_(last_seen) {}

std::vector<LogEntry> LogFollower::add(LogEntry entry) {
  std::vector<LogEntry> ready;
  if (entry.consultation_id() != consultation_id_) return ready;
  if (entry.seq() == 0) {
    ready.push_back(std::move(entry));
    return ready;
  }
  if (entry.seq() <= last_seen_) return ready;
  const std::uint64_t seq = entry.seq();
  held_.try_emplace(seq, std::move(entry));
  // Release the run that now continues last_seen_.
  for (auto it = held_.begin(); it != held_.end() && it->first == last_seen_ + 1;
       it = held_.erase(it)) {
    last_seen_ = it->first;
    ready.push_back(std::move(it->second));
  }
  return ready;
}

std::optional<std::uint64_t> LogFollower::ack_due() const {
  if (last_seen_ > acknowledged_) return last_seen_;
  return std::nullopt;
}

void LogFollower::acknowledged(std::uint64_t seq) { acknowledged_ = std::max(acknowledged_, seq); }

}  // namespace tmc::client

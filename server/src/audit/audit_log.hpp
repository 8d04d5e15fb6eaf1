// Appends audit records (Merkle leaves) and signs tree heads inside store transactions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/merkle.hpp"
#include "audit/signing_key.hpp"
#include "audit/tree_head.hpp"
#include "common/clock.hpp"
#include "domain/audit_hook.hpp"
#include "store/store.hpp"

namespace tmc::audit {

// An event with the time it was reported to the hook.
struct TimedEvent {
  TimePoint time{};
  domain::AuditEvent event;
};

// The writing side of the log. Keeps the log's compact Merkle range in memory; every call first
// checks it against the store (size and last leaf hash) and catches up when another process
// (tmc-admin) appended, or rebuilds it when a batch of ours was rolled back. A rebuild (and the
// first call after a start) resumes from the frontier stored with the latest signed head and
// reads only the records after it, so a restart does not re-read the whole log. Not
// thread-safe: one writer (the hook's thread) at a time. Store errors propagate as StoreError.
class AuditLog {
 public:
  explicit AuditLog(const SigningKey& key) : key_(key) {}

  // Appends the events, in order, at the end of the log (writable Tx). An event without a
  // patient reference gets the one of the first consultation named among its object ids.
  void append(store::Tx& tx, const std::vector<TimedEvent>& events);

  // Signs and stores a head for the whole log as of tx, unless the latest stored head already
  // has this size. Returns the new head, if any.
  std::optional<SignedTreeHead> sign_head(store::Tx& tx, TimePoint now);

 private:
  void synchronize(store::Tx& tx);
  void rebuild(store::Tx& tx, std::int64_t from);
  // Restores range_ from the stored frontier when it matches the signed head of its size;
  // returns the index to read on from (0 when there is none to trust).
  std::int64_t resume_from_frontier(store::Tx& tx);
  std::string patient_reference_of(store::Tx& tx, const domain::AuditEvent& event);

  const SigningKey& key_;
  CompactRange range_;
  std::string last_leaf_hash_;  // of record range_.size() - 1
};

// Reads every leaf hash of the log from from_index on, in pages, calling fn(row) in index order.
// Used by the writer to catch up and by the verifier.
template <class Fn>
void for_each_record(store::Tx& tx, std::int64_t from_index, Fn&& fn) {
  constexpr int page = 2048;
  for (std::int64_t next = from_index;;) {
    auto rows = tx.list_audit_records(next, page);
    for (const auto& row : rows) fn(row);
    if (static_cast<int>(rows.size()) < page) return;
    next = rows.back().index + 1;
  }
}

}  // namespace tmc::audit

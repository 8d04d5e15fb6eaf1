// Appends audit records (Merkle leaves) and signs tree heads inside store transactions.
#include "audit/audit_log.hpp"


#include "audit/canonical_record.hpp"

namespace tmc::audit {

void AuditLog::synchronize(store::Tx& tx) {
  const auto size = tx.audit_log_size();
  if (size == range_.size()) {
    if (size == 0) return;
    const auto last = tx.list_audit_records(size - 1, 1);
    if (!last.empty() && last.front().leaf_hash == last_leaf_hash_) return;
    rebuild(tx, 0);  // same size, other content: our last batch was rolled back
  } else if (size > range_.size()) {
    // Another process appended. Our tree is the stored log's prefix only if its last leaf is
    // there: a batch of ours rolled back since leaves leaves that were never stored, and the
    // others' records may outnumber them.
    const auto ours = range_.size() > 0 ? tx.list_audit_records(range_.size() - 1, 1)
                                        : std::vector<store::AuditRow>{};
    const bool prefix =
        range_.size() == 0 || (!ours.empty() && ours.front().leaf_hash == last_leaf_hash_);
    rebuild(tx, prefix ? range_.size() : 0);
  } else {
    rebuild(tx, 0);  // our last batch was rolled back
  }
}

void AuditLog::rebuild(store::Tx& tx, std::int64_t from) {
  if (from == 0) {
    range_ = CompactRange();
    last_leaf_hash_.clear();
    from = resume_from_frontier(tx);
  }
  // The stored leaf hashes are taken as they are: checking them is the verifier's job.
  for_each_record(tx, from, [&](const store::AuditRow& row) {
    range_.append(row.leaf_hash);
    last_leaf_hash_ = row.leaf_hash;
  });
}

std::int64_t AuditLog::resume_from_frontier(store::Tx& tx) {
  const auto frontier = tx.find_audit_frontier();
  if (!frontier || frontier->tree_size <= 0) return 0;
  auto range = CompactRange::restore(frontier->tree_size, frontier->subtrees);
  // Only a frontier that gives the root of the signed head of its size is taken: a damaged one
  // would have every later head signed over a wrong root.
  const auto head = tx.latest_audit_head();
  if (!range || !head || head->tree_size != frontier->tree_size ||
      head->root_hash != range->root()) {
    return 0;
  }
  const auto last = tx.list_audit_records(frontier->tree_size - 1, 1);
  if (last.empty() || last.front().index != frontier->tree_size - 1) return 0;
  range_ = std::move(*range);
  last_leaf_hash_ = last.front().leaf_hash;
  return range_.size();
}

std::string AuditLog::patient_reference_of(store::Tx& tx, const domain::AuditEvent& event) {
  if (!event.patient_reference.empty()) return event.patient_reference;
  for (const auto& id : event.object_ids) {
    // No consultation's id has a NUL byte, and PostgreSQL takes no text with one: looking it up
    // would fail this record, and every one queued behind it, on every retry.
    if (id.rfind("con_", 0) != 0 || id.find('\0') != std::string::npos) continue;
    if (auto consultation = tx.find_consultation(id, store::SealedTexts::skip)) {
      return consultation->patient_reference;
    }
  }
  return {};
}

void AuditLog::append(store::Tx& tx, const std::vector<TimedEvent>& events) {
  synchronize(tx);
  for (const auto& timed : events) {
    domain::AuditEvent event = timed.event;
    event.patient_reference = patient_reference_of(tx, event);
    store::AuditRow row;
    row.index = range_.size();
    row.time = timed.time;
    row.actor_id = event.actor_id;
    row.action = event.action;
    row.patient_reference = event.patient_reference;
    row.record = encode_record(row.index, row.index == 0 ? zero_hash() : last_leaf_hash_,
                               timed.time, event);
    row.leaf_hash = leaf_hash(row.record);
    tx.append_audit_record(row);
    range_.append(row.leaf_hash);
    last_leaf_hash_ = row.leaf_hash;
  }
}

std::optional<SignedTreeHead> AuditLog::sign_head(store::Tx& tx, TimePoint now) {
  synchronize(tx);
  if (range_.size() == 0) return std::nullopt;
  if (const auto latest = tx.latest_audit_head(); latest && latest->tree_size == range_.size()) {
    return std::nullopt;
  }
  auto head = sign_tree_head(key_, range_.size(), range_.root(), now);
  tx.insert_audit_head(head);
  tx.save_audit_frontier({range_.size(), range_.serialize()});
  return head;
}

}  // namespace tmc::audit

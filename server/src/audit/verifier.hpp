// The reading side of the audit log: full verification (tree, chain, signed heads) and export.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/tree_head.hpp"
#include "store/store.hpp"

namespace tmc::audit {

struct VerifyReport {
  std::int64_t records = 0;        // rows in the log
  std::int64_t heads_checked = 0;  // stored heads (and the --head file) examined
  std::int64_t signed_records = 0;  // records covered by the largest valid signed head
  // Lowest index at which the log is known to differ from what was written; set iff !ok().
  std::optional<std::int64_t> first_bad_index;
  std::vector<std::string> problems;  // one line each; empty when the log verifies

  bool ok() const { return problems.empty(); }
};

// Verifies the whole log in one read snapshot:
//  - records are numbered 0..n-1 without gaps (a deleted record is missing at its index);
//  - each record begins with its own index and the leaf hash of its predecessor (a moved,
//    reordered or inserted record breaks this where it happened; a record whose predecessor
//    appears one place late marks an insertion just before it);
//  - each stored leaf hash is SHA-256(0x00 || record) (a flipped byte);
//  - every stored signed head is signed by a trusted public key and its root equals the RFC 9162
//    MTH of the first tree_size records; a head larger than the log means truncation;
//  - external_head (kept off the host) likewise: today's log must extend it;
//  - each record's indexed columns (time, actor, action, patient reference) say what the record
//    says, and the store's search structures hold every record (Tx::find_audit_search_gaps),
//    so that no record can be kept out of a filtered export.
// A consistent rewrite that recomputes every hash is caught by the signed heads: the first bad
// index is then the size of the largest earlier head that still matches. Throws StoreError
// only when the store itself fails.
VerifyReport verify_log(store::Store& store, std::string_view trusted_public_key,
                        const std::optional<SignedTreeHead>& external_head = std::nullopt);
// The same with several trusted keys: the current one and earlier ones (heads signed before the
// signing key was replaced, e.g. by a restore without it).
VerifyReport verify_log(store::Store& store, const std::vector<std::string>& trusted_public_keys,
                        const std::optional<SignedTreeHead>& external_head = std::nullopt);

// The latest stored signed head, if any.
std::optional<SignedTreeHead> latest_head(store::Store& store);

// Calls line(record) for every record matching filter (its limit is the page size), in index
// order, and returns how many there were. The records are the canonical JSON lines.
std::int64_t export_records(store::Store& store, store::AuditQuery filter,
                            const std::function<void(const std::string& record)>& line);

}  // namespace tmc::audit

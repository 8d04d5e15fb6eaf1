// Bulk indexing of the audit log's search tables (see audit_index.hpp).
#include "store/sqlite/audit_index.hpp"

#include <algorithm>

#include "store/store.hpp"

namespace tmc::store::sqlite {
namespace {

struct Range {
  std::int64_t from = 0;  // first unindexed record
  std::int64_t end = 0;   // one past the last record
};

Range unindexed_range(Connection& db) {
  auto query = db.query(
      "SELECT (SELECT next_idx FROM audit_indexed),"
      " (SELECT coalesce(max(idx) + 1, 0) FROM audit_records)");
  if (!query.step()) throw StoreError("sqlite: cannot read the audit index position");
  return {query.int64(0), query.int64(1)};
}

}  // namespace

std::int64_t unindexed_audit_records(Connection& db) {
  const auto range = unindexed_range(db);
  return std::max<std::int64_t>(range.end - range.from, 0);
}

std::int64_t index_audit_records(Connection& db, std::int64_t limit) {
  const auto range = unindexed_range(db);
  const auto to = std::min(range.end, range.from + std::max<std::int64_t>(limit, 0));
  if (to <= range.from) return 0;
  // OR IGNORE: entries of a record indexed before are the same entries (a record never changes).
  db.query(
        "INSERT OR IGNORE INTO audit_by_actor(actor_id, time, idx)"
        " SELECT actor_id, time, idx FROM audit_records WHERE idx >= ?1 AND idx < ?2")
      .bind_all(range.from, to)
      .run();
  db.query(
        "INSERT OR IGNORE INTO audit_by_patient(patient_reference, time, idx)"
        " SELECT patient_reference, time, idx FROM audit_records"
        " WHERE idx >= ?1 AND idx < ?2 AND patient_reference <> ''")
      .bind_all(range.from, to)
      .run();
  db.query("UPDATE audit_indexed SET next_idx = ?1").bind_all(to).run();
  return to - range.from;
}

}  // namespace tmc::store::sqlite

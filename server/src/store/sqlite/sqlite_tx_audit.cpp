// SQL for the audit log on SQLite: records (Merkle leaves) and signed tree heads.
#include <string>

#include "store/record_rows.hpp"
#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {
namespace {

constexpr auto read_audit_row = &rows::read_audit_row<Query>;
constexpr auto read_audit_head = &rows::read_audit_head<Query>;

const std::string audit_record_select =
    std::string("SELECT ") + rows::audit_record_columns + " FROM audit_records ";

std::vector<AuditRow> collect_audit_rows(Query& query) {
  std::vector<AuditRow> rows;
  while (query.step()) rows.push_back(read_audit_row(query));
  return rows;
}

// The search of find_audit_records, parameters ?1 after_index, ?2 from, ?3 to, ?4 actor,
// ?5 patient, ?6 limit. With a search table (by actor or by patient) the candidates are its
// entries, which cover the indexed part of the log, and a scan of the records not indexed yet
// (audit_index.hpp); every condition is then applied to the records themselves. Without one the
// log is walked in order.
std::string audit_search_sql(const char* table, const char* column, const char* key) {
  std::string sql = audit_record_select + "WHERE ";
  if (table != nullptr) {
    sql += std::string("idx IN (SELECT idx FROM ") + table + " WHERE " + column + " = " + key +
           " AND time >= ?2 AND time < ?3 AND idx > ?1 UNION ALL SELECT idx FROM audit_records" +
           " WHERE idx >= (SELECT next_idx FROM audit_indexed) AND idx > ?1 AND " + column +
           " = " + key + ") AND ";
  }
  return sql +
         "idx > ?1 AND time >= ?2 AND time < ?3 AND (?4 = '' OR actor_id = ?4)"
         " AND (?5 = '' OR patient_reference = ?5) ORDER BY idx LIMIT ?6";
}

const std::string audit_head_select =
    std::string("SELECT ") + rows::audit_head_columns + " FROM audit_heads ";

}  // namespace

std::int64_t SqliteTx::audit_log_size() {
  auto query = db_.query("SELECT coalesce(max(idx) + 1, 0) FROM audit_records");
  if (!query.step()) throw StoreError("sqlite: cannot read audit log size");
  return query.int64(0);
}

void SqliteTx::append_audit_record(const AuditRow& row) {
  require_writable(Remembered::unchanged);
  db_.query(
         "INSERT INTO audit_records(idx, time, actor_id, action, patient_reference, record,"
         " leaf_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING")
      .bind_all(row.index, row.time, row.actor_id, row.action, row.patient_reference, row.record,
                Blob{row.leaf_hash})
      .run();
  if (db_.changes() != 1) {
    throw StoreError("audit record index " + std::to_string(row.index) + " is already taken");
  }
}

std::vector<AuditRow> SqliteTx::list_audit_records(std::int64_t from_index, int limit) {
  auto query =
      db_.query(std::string(audit_record_select) + "WHERE idx >= ?1 ORDER BY idx LIMIT ?2");
  query.bind_all(from_index, limit);
  return collect_audit_rows(query);
}

std::vector<AuditRow> SqliteTx::find_audit_records(const AuditQuery& filter) {
  static const std::string by_actor = audit_search_sql("audit_by_actor", "actor_id", "?4");
  static const std::string by_patient =
      audit_search_sql("audit_by_patient", "patient_reference", "?5");
  static const std::string in_order = audit_search_sql(nullptr, nullptr, nullptr);
  const auto& sql = !filter.actor_id.empty()             ? by_actor
                    : !filter.patient_reference.empty() ? by_patient
                                                        : in_order;
  auto query = db_.query(sql);
  query.bind_all(filter.after_index, filter.from, filter.to, filter.actor_id,
                 filter.patient_reference, filter.limit);
  return collect_audit_rows(query);
}

// Each record of the indexed part must be in audit_by_actor, and in audit_by_patient when it
// names a patient, under the time and values it has (a search reads those tables only).
AuditSearchGaps SqliteTx::find_audit_search_gaps() {
  auto query = db_.query(
      "SELECT count(*), coalesce(min(idx), -1) FROM audit_records r"
      " WHERE idx < (SELECT next_idx FROM audit_indexed) AND (NOT EXISTS (SELECT 1 FROM"
      " audit_by_actor a WHERE a.actor_id = r.actor_id AND a.time = r.time AND a.idx = r.idx)"
      " OR (patient_reference <> '' AND NOT EXISTS (SELECT 1 FROM audit_by_patient p WHERE"
      " p.patient_reference = r.patient_reference AND p.time = r.time AND p.idx = r.idx)))");
  if (!query.step()) throw StoreError("sqlite: cannot check the audit search tables");
  return {query.int64(0), query.int64(1)};
}

void SqliteTx::insert_audit_head(const AuditHeadRow& head) {
  require_writable();
  db_.query(
         "INSERT INTO audit_heads(tree_size, signed_at, root_hash, public_key, signature)"
         " VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(head.tree_size, head.signed_at, Blob{head.root_hash}, Blob{head.public_key},
                Blob{head.signature})
      .run();
}

std::vector<AuditHeadRow> SqliteTx::list_audit_heads() {
  auto query = db_.query(std::string(audit_head_select) + "ORDER BY tree_size, signed_at, id");
  std::vector<AuditHeadRow> heads;
  while (query.step()) heads.push_back(read_audit_head(query));
  return heads;
}

std::optional<AuditHeadRow> SqliteTx::latest_audit_head() {
  auto query = db_.query(std::string(audit_head_select) +
                         "ORDER BY tree_size DESC, signed_at DESC, id DESC LIMIT 1");
  if (!query.step()) return std::nullopt;
  return read_audit_head(query);
}

void SqliteTx::save_audit_frontier(const AuditFrontierRow& frontier) {
  require_writable();
  db_.query(
         "INSERT INTO audit_frontier(id, tree_size, subtrees) VALUES (1, ?1, ?2)"
         " ON CONFLICT (id) DO UPDATE SET tree_size = excluded.tree_size,"
         " subtrees = excluded.subtrees")
      .bind_all(frontier.tree_size, Blob{frontier.subtrees})
      .run();
}

std::optional<AuditFrontierRow> SqliteTx::find_audit_frontier() {
  auto query = db_.query("SELECT tree_size, subtrees FROM audit_frontier WHERE id = 1");
  if (!query.step()) return std::nullopt;
  return AuditFrontierRow{query.int64(0), query.blob(1)};
}

}  // namespace tmc::store::sqlite

// SQL for the audit log on PostgreSQL: records (Merkle leaves) and signed tree heads.
#include <string>

#include "store/postgres/postgres_tx.hpp"
#include "store/record_rows.hpp"

namespace tmc::store::postgres {
namespace {

constexpr auto read_audit_row = &rows::read_audit_row<Row>;
constexpr auto read_audit_head = &rows::read_audit_head<Row>;

const std::string audit_record_select =
    std::string("SELECT ") + rows::audit_record_columns + " FROM audit_records ";

const std::string audit_head_select =
    std::string("SELECT ") + rows::audit_head_columns + " FROM audit_heads ";

}  // namespace

std::int64_t PostgresTx::audit_log_size() {
  const auto result = db_.query("SELECT coalesce(max(idx) + 1, 0)::bigint FROM audit_records");
  if (result.empty()) throw StoreError("postgres: cannot read audit log size");
  return result.int64(0, 0);
}

void PostgresTx::append_audit_record(const AuditRow& row) {
  require_writable();
  const auto result = db_.query(
      "INSERT INTO audit_records(idx, time, actor_id, action, patient_reference, record,"
      " leaf_hash) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
      Params::of(row.index, row.time, row.actor_id, row.action, row.patient_reference, row.record,
                 Bytes{row.leaf_hash}));
  if (result.affected() != 1) {
    throw StoreError("audit record index " + std::to_string(row.index) + " is already taken");
  }
}

std::vector<AuditRow> PostgresTx::list_audit_records(std::int64_t from_index, int limit) {
  static const std::string sql =
      std::string(audit_record_select) + "WHERE idx >= $1 ORDER BY idx LIMIT $2";
  return collect_rows<AuditRow>(db_.query(sql, Params::of(from_index, limit)), read_audit_row);
}

// One statement per kind of search, with the actor or patient as a plain equality: a prepared
// statement of the form ($4 = '' OR actor_id = $4) cannot use the index on actor_id once
// PostgreSQL switches it to a generic plan. The patient search repeats the partial index's
// condition so that the planner can use that index.
std::vector<AuditRow> PostgresTx::find_audit_records(const AuditQuery& filter) {
  static const std::string common = std::string(audit_record_select) +
                                    "WHERE idx > $1 AND time >= $2 AND time < $3"
                                    " AND ($4::text = '' OR actor_id = $4::text)"
                                    " AND ($5::text = '' OR patient_reference = $5::text) ";
  static const std::string order = "ORDER BY idx LIMIT $6";
  static const std::string by_actor = common + "AND actor_id = $4::text " + order;
  static const std::string by_patient =
      common + "AND patient_reference = $5::text AND patient_reference <> '' " + order;
  static const std::string in_order = common + order;
  const auto& sql = !filter.actor_id.empty()             ? by_actor
                    : !filter.patient_reference.empty() ? by_patient
                                                        : in_order;
  return collect_rows<AuditRow>(
      db_.query(sql, Params::of(filter.after_index, filter.from, filter.to, filter.actor_id,
                                filter.patient_reference, filter.limit)),
      read_audit_row);
}

void PostgresTx::insert_audit_head(const AuditHeadRow& head) {
  require_writable();
  db_.query(
      "INSERT INTO audit_heads(tree_size, signed_at, root_hash, public_key, signature)"
      " VALUES ($1, $2, $3, $4, $5)",
      Params::of(head.tree_size, head.signed_at, Bytes{head.root_hash}, Bytes{head.public_key},
                 Bytes{head.signature}));
}

// The audit columns are searched through ordinary indexes, which PostgreSQL keeps itself.
AuditSearchGaps PostgresTx::find_audit_search_gaps() { return {}; }

std::vector<AuditHeadRow> PostgresTx::list_audit_heads() {
  static const std::string sql =
      std::string(audit_head_select) + "ORDER BY tree_size, signed_at, id";
  return collect_rows<AuditHeadRow>(db_.query(sql), read_audit_head);
}

std::optional<AuditHeadRow> PostgresTx::latest_audit_head() {
  static const std::string sql =
      std::string(audit_head_select) + "ORDER BY tree_size DESC, signed_at DESC, id DESC LIMIT 1";
  return first_row<AuditHeadRow>(db_.query(sql), read_audit_head);
}

void PostgresTx::save_audit_frontier(const AuditFrontierRow& frontier) {
  require_writable();
  db_.query(
      "INSERT INTO audit_frontier(id, tree_size, subtrees) VALUES (1, $1, $2)"
      " ON CONFLICT (id) DO UPDATE SET tree_size = excluded.tree_size,"
      " subtrees = excluded.subtrees",
      Params::of(frontier.tree_size, Bytes{frontier.subtrees}));
}

std::optional<AuditFrontierRow> PostgresTx::find_audit_frontier() {
  return first_row<AuditFrontierRow>(
      db_.query("SELECT tree_size, subtrees FROM audit_frontier WHERE id = 1"),
      [](const Row& row) { return AuditFrontierRow{row.int64(0), row.blob(1)}; });
}

}  // namespace tmc::store::postgres

// SQL for key rotation on SQLite: every wrapped data key (found by column name) and TOTP secret;
// state counts.
#include <string>

#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {
namespace {

// Table names come from sqlite_schema; only plain identifiers are ever put into SQL text.
bool plain_identifier(const std::string& name) {
  if (name.empty()) return false;
  for (char ch : name) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

std::vector<WrappedKeyRow> SqliteTx::list_wrapped_keys() {
  // Tables with both an id and a wrapped_key column, so later tables are rotated too.
  std::vector<std::string> tables;
  {
    auto query = db_.query(
        "SELECT m.name FROM sqlite_schema AS m"
        " WHERE m.type = 'table'"
        " AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'wrapped_key')"
        " AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'id')"
        " ORDER BY m.name");
    while (query.step()) {
      auto name = query.text(0);
      if (plain_identifier(name)) tables.push_back(std::move(name));
    }
  }
  std::vector<WrappedKeyRow> rows;
  for (const auto& table : tables) {
    auto query = db_.query("SELECT id, wrapped_key FROM " + table + " ORDER BY id");
    while (query.step()) rows.push_back({table, query.text(0), query.blob(1)});
  }
  auto totp = db_.query("SELECT user_id, wrapped_secret FROM user_totp ORDER BY user_id");
  while (totp.step()) rows.push_back({"user_totp", totp.text(0), totp.text(1)});
  return rows;
}

bool SqliteTx::set_wrapped_key(const WrappedKeyRow& row) {
  require_writable();
  if (row.table == "user_totp") {
    db_.query("UPDATE user_totp SET wrapped_secret = ?1 WHERE user_id = ?2")
        .bind_all(std::string_view(row.wrapped_key), std::string_view(row.id))
        .run();
    return db_.changes() == 1;
  }
  if (!plain_identifier(row.table)) return false;
  bool known = false;
  {
    auto query = db_.query(
        "SELECT 1 FROM sqlite_schema AS m WHERE m.type = 'table' AND m.name = ?1"
        " AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'wrapped_key')");
    query.bind(1, row.table);
    known = query.step();
  }
  if (!known) return false;
  db_.query("UPDATE " + row.table + " SET wrapped_key = ?1 WHERE id = ?2")
      .bind_all(Blob{row.wrapped_key}, std::string_view(row.id))
      .run();
  return db_.changes() == 1;
}

std::vector<std::pair<ConsultationState, std::int64_t>> SqliteTx::count_consultations_by_state() {
  std::vector<std::pair<ConsultationState, std::int64_t>> counts;
  auto query = db_.query("SELECT state, count(*) FROM consultations GROUP BY state ORDER BY state");
  while (query.step()) {
    counts.emplace_back(static_cast<ConsultationState>(query.int32(0)), query.int64(1));
  }
  return counts;
}

}  // namespace tmc::store::sqlite

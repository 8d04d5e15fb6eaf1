// SQL for key rotation on PostgreSQL: every wrapped data key (found by column name) and TOTP
// secret; state counts.
#include <string>

#include "store/postgres/postgres_tx.hpp"

namespace tmc::store::postgres {
namespace {

// Table names come from the catalog; only plain identifiers are ever put into SQL text.
bool plain_identifier(const std::string& name) {
  if (name.empty()) return false;
  for (char ch : name) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

// Tables of the store's schema (the first on search_path) with an id and a wrapped_key column.
constexpr const char* wrapped_key_tables =
    "SELECT k.table_name::text COLLATE \"C\" AS name FROM information_schema.columns k"
    " JOIN information_schema.tables t ON t.table_schema = k.table_schema"
    "  AND t.table_name = k.table_name AND t.table_type = 'BASE TABLE'"
    " WHERE k.table_schema = current_schema() AND k.column_name = 'wrapped_key'"
    " AND EXISTS (SELECT 1 FROM information_schema.columns i WHERE i.table_schema = k.table_schema"
    "  AND i.table_name = k.table_name AND i.column_name = 'id')";

}  // namespace

std::vector<WrappedKeyRow> PostgresTx::list_wrapped_keys() {
  std::vector<std::string> tables;
  {
    static const std::string sql = std::string(wrapped_key_tables) + " ORDER BY name";
    const auto result = db_.query(sql);
    for (int row = 0; row < result.rows(); ++row) {
      auto name = result.bytes(row, 0);
      if (plain_identifier(name)) tables.push_back(std::move(name));
    }
  }
  std::vector<WrappedKeyRow> rows;
  for (const auto& table : tables) {
    // id as text: some ids are integers (event_outbox), which binary results give as raw bytes.
    const auto result =
        db_.query("SELECT id::text, wrapped_key FROM " + table + " ORDER BY id");
    for (int row = 0; row < result.rows(); ++row) {
      rows.push_back({table, result.bytes(row, 0), result.bytes(row, 1)});
    }
  }
  const auto totp = db_.query(
      "SELECT user_id, wrapped_secret FROM user_totp ORDER BY user_id COLLATE \"C\"");
  for (int row = 0; row < totp.rows(); ++row) {
    rows.push_back({"user_totp", totp.bytes(row, 0), totp.bytes(row, 1)});
  }
  return rows;
}

bool PostgresTx::set_wrapped_key(const WrappedKeyRow& row) {
  require_writable();
  if (row.table == "user_totp") {
    return db_.query("UPDATE user_totp SET wrapped_secret = $1 WHERE user_id = $2",
                     Params::of(Bytes{row.wrapped_key}, row.id))
               .affected() == 1;
  }
  if (!plain_identifier(row.table)) return false;
  static const std::string known_sql =
      std::string(wrapped_key_tables) + " AND k.table_name::text = $1";
  if (db_.query(known_sql, Params::of(row.table)).empty()) return false;
  return db_.query("UPDATE " + row.table + " SET wrapped_key = $1 WHERE id = $2",
                   Params::of(Bytes{row.wrapped_key}, row.id))
             .affected() == 1;
}

std::vector<std::pair<ConsultationState, std::int64_t>> PostgresTx::count_consultations_by_state() {
  const auto result =
      db_.query("SELECT state, count(*) FROM consultations GROUP BY state ORDER BY state");
  return collect_rows<std::pair<ConsultationState, std::int64_t>>(result, [](const Row& row) {
    return std::make_pair(static_cast<ConsultationState>(row.int32(0)), row.int64(1));
  });
}

}  // namespace tmc::store::postgres

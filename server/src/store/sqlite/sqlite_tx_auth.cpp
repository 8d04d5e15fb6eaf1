// SQL for authentication on SQLite: TOTP enrolments and session activity/validity checks.
#include <string>
#include <unordered_set>

#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {
namespace {

// Token hashes are looked up in fixed-size batches so one cached statement serves every call;
// unused placeholders are bound to NULL, which matches nothing.
constexpr int session_batch = 64;

std::string placeholders(int first, int count) {
  std::string list;
  for (int i = 0; i < count; ++i) {
    if (i != 0) list += ", ";
    list += '?';
    list += std::to_string(first + i);
  }
  return list;
}

const std::string& valid_sessions_sql() {
  static const std::string sql =
      "SELECT s.token_hash, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id"
      " WHERE s.revoked = 0 AND u.disabled = 0 AND s.expires_at > ?1"
      " AND coalesce(s.last_seen_at, s.created_at) >= ?2 AND s.token_hash IN (" +
      placeholders(3, session_batch) + ")";
  return sql;
}

const std::string& touch_sessions_sql() {
  static const std::string sql =
      "UPDATE sessions SET last_seen_at = ?1 WHERE token_hash IN (" +
      placeholders(2, session_batch) + ") AND coalesce(last_seen_at, created_at) < ?1";
  return sql;
}

// Binds hashes[from, from + session_batch) as blobs from parameter first on, NULL beyond the end.
void bind_batch(Query& query, int first, const std::vector<std::string>& hashes,
                std::size_t from) {
  for (int i = 0; i < session_batch; ++i) {
    const std::size_t at = from + static_cast<std::size_t>(i);
    if (at < hashes.size()) {
      query.bind(first + i, Blob{hashes[at]});
    } else {
      query.bind_null(first + i);
    }
  }
}

}  // namespace

std::optional<TotpEnrollment> SqliteTx::find_totp(std::string_view user_id) {
  auto query = db_.query(
      "SELECT user_id, wrapped_secret, last_used_step, enrolled_at FROM user_totp"
      " WHERE user_id = ?1");
  query.bind(1, user_id);
  if (!query.step()) return std::nullopt;
  TotpEnrollment enrollment;
  enrollment.user_id = query.text(0);
  enrollment.wrapped_secret = query.text(1);
  enrollment.last_used_step = query.int64(2);
  enrollment.enrolled_at = query.time(3);
  return enrollment;
}

void SqliteTx::put_totp(const TotpEnrollment& enrollment) {
  require_writable();
  db_.query(
         "INSERT INTO user_totp(user_id, wrapped_secret, last_used_step, enrolled_at)"
         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(user_id) DO UPDATE SET"
         " wrapped_secret = excluded.wrapped_secret, last_used_step = excluded.last_used_step,"
         " enrolled_at = excluded.enrolled_at")
      .bind_all(enrollment.user_id, enrollment.wrapped_secret, enrollment.last_used_step,
                enrollment.enrolled_at)
      .run();
}

bool SqliteTx::delete_totp(std::string_view user_id) {
  require_writable();
  db_.query("DELETE FROM user_totp WHERE user_id = ?1").bind(1, user_id).run();
  return db_.changes() == 1;
}

bool SqliteTx::use_totp_step(std::string_view user_id, std::int64_t step) {
  require_writable();
  db_.query("UPDATE user_totp SET last_used_step = ?2 WHERE user_id = ?1 AND last_used_step < ?2")
      .bind_all(user_id, step)
      .run();
  return db_.changes() == 1;
}

void SqliteTx::touch_sessions(const std::vector<std::string>& token_hashes, TimePoint at) {
  require_writable();
  for (std::size_t from = 0; from < token_hashes.size(); from += session_batch) {
    auto query = db_.query(touch_sessions_sql());
    query.bind(1, at);
    bind_batch(query, 2, token_hashes, from);
    query.run();
  }
}

std::optional<TimePoint> SqliteTx::find_session_last_seen(std::string_view token_hash) {
  auto query = db_.query(
      "SELECT coalesce(last_seen_at, created_at) FROM sessions WHERE token_hash = ?1");
  query.bind(1, Blob{token_hash});
  if (!query.step()) return std::nullopt;
  return query.time(0);
}

std::vector<SessionExpiry> SqliteTx::list_valid_sessions(
    const std::vector<std::string>& token_hashes, TimePoint now, TimePoint idle_before) {
  std::vector<SessionExpiry> valid;
  std::unordered_set<std::string> found;
  for (std::size_t from = 0; from < token_hashes.size(); from += session_batch) {
    auto query = db_.query(valid_sessions_sql());
    query.bind(1, now);
    query.bind(2, idle_before);
    bind_batch(query, 3, token_hashes, from);
    while (query.step()) {
      auto hash = query.blob(0);
      if (found.insert(hash).second) valid.push_back({std::move(hash), query.time(1)});
    }
  }
  return valid;
}

std::int64_t SqliteTx::session_epoch() {
  auto query = db_.query("SELECT value FROM session_epoch WHERE id = 1");
  return query.step() ? query.int64(0) : 0;
}

}  // namespace tmc::store::sqlite

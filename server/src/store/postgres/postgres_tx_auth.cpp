// SQL for authentication on PostgreSQL: TOTP enrolments and session activity/validity checks.
#include <string>

#include "store/postgres/postgres_tx.hpp"

namespace tmc::store::postgres {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// The token hashes as a text[] literal of hex strings, decoded to bytea in SQL, so a whole
// batch of any size is one parameter of one prepared statement.
std::string hex_array(const std::vector<std::string>& hashes) {
  std::string literal = "{";
  for (const auto& hash : hashes) {
    if (literal.size() > 1) literal += ',';
    for (unsigned char byte : hash) {
      literal += hex_digits[byte >> 4];
      literal += hex_digits[byte & 0x0f];
    }
  }
  return literal + "}";
}

}  // namespace

std::optional<TotpEnrollment> PostgresTx::find_totp(std::string_view user_id) {
  return first_row<TotpEnrollment>(
      db_.query("SELECT user_id, wrapped_secret, last_used_step, enrolled_at FROM user_totp"
                " WHERE user_id = $1",
                Params::of(user_id)),
      [](const Row& row) {
        TotpEnrollment enrollment;
        enrollment.user_id = row.text(0);
        enrollment.wrapped_secret = row.blob(1);
        enrollment.last_used_step = row.int64(2);
        enrollment.enrolled_at = row.time(3);
        return enrollment;
      });
}

void PostgresTx::put_totp(const TotpEnrollment& enrollment) {
  require_writable();
  db_.query(
      "INSERT INTO user_totp(user_id, wrapped_secret, last_used_step, enrolled_at)"
      " VALUES ($1, $2, $3, $4) ON CONFLICT(user_id) DO UPDATE SET"
      " wrapped_secret = excluded.wrapped_secret, last_used_step = excluded.last_used_step,"
      " enrolled_at = excluded.enrolled_at",
      Params::of(enrollment.user_id, Bytes{enrollment.wrapped_secret}, enrollment.last_used_step,
                 enrollment.enrolled_at));
}

bool PostgresTx::delete_totp(std::string_view user_id) {
  require_writable();
  return db_.query("DELETE FROM user_totp WHERE user_id = $1", Params::of(user_id)).affected() == 1;
}

bool PostgresTx::use_totp_step(std::string_view user_id, std::int64_t step) {
  require_writable();
  return db_.query(
                "UPDATE user_totp SET last_used_step = $2 WHERE user_id = $1"
                " AND last_used_step < $2",
                Params::of(user_id, step))
             .affected() == 1;
}

void PostgresTx::touch_sessions(const std::vector<std::string>& token_hashes, TimePoint at) {
  require_writable();
  if (token_hashes.empty()) return;
  db_.query(
      "UPDATE sessions SET last_seen_at = $1 WHERE token_hash IN"
      " (SELECT decode(h, 'hex') FROM unnest($2::text[]) AS h)"
      " AND coalesce(last_seen_at, created_at) < $1",
      Params::of(at, hex_array(token_hashes)));
}

std::optional<TimePoint> PostgresTx::find_session_last_seen(std::string_view token_hash) {
  return first_row<TimePoint>(
      db_.query("SELECT coalesce(last_seen_at, created_at) FROM sessions WHERE token_hash = $1",
                Params::of(Bytes{token_hash})),
      [](const Row& row) { return row.time(0); });
}

std::vector<SessionExpiry> PostgresTx::list_valid_sessions(
    const std::vector<std::string>& token_hashes, TimePoint now, TimePoint idle_before) {
  if (token_hashes.empty()) return {};
  const auto result = db_.query(
      "SELECT s.token_hash, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id"
      " WHERE NOT s.revoked AND NOT u.disabled AND s.expires_at > $1"
      " AND coalesce(s.last_seen_at, s.created_at) >= $2 AND s.token_hash IN"
      " (SELECT decode(h, 'hex') FROM unnest($3::text[]) AS h)",
      Params::of(now, idle_before, hex_array(token_hashes)));
  return collect_rows<SessionExpiry>(
      result, [](const Row& row) { return SessionExpiry{row.blob(0), row.time(1)}; });
}

std::int64_t PostgresTx::session_epoch() {
  const auto result = db_.query("SELECT value FROM session_epoch WHERE id = 1");
  return result.empty() ? 0 : result.int64(0, 0);
}

}  // namespace tmc::store::postgres

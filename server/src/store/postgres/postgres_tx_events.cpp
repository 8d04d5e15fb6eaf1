// SQL for the cluster event log on PostgreSQL. An appended event also notifies the listening
// nodes; PostgreSQL delivers the NOTIFY only when (and if) the transaction commits.
#include <string>

#include "store/postgres/event_waiter.hpp"
#include "store/postgres/postgres_tx.hpp"
#include "store/record_rows.hpp"

namespace tmc::store::postgres {

std::int64_t PostgresTx::append_event(const EventRow& row) {
  require_writable();
  static const std::string sql =
      std::string("WITH added AS (INSERT INTO event_outbox (origin, created_at, recipients,"
                  " wrapped_key, sealed_event) VALUES ($1, $2, $3, $4, $5) RETURNING id)"
                  " SELECT id, pg_notify(") +
      event_channel_sql + ", id::text) FROM added";
  const auto result =
      db_.query(sql, Params::of(row.origin, row.created_at, rows::join_recipients(row.recipients),
                                Bytes{row.wrapped_key}, Bytes{row.sealed_event}));
  return result.int64(0, 0);
}

std::vector<EventRow> PostgresTx::list_events_after(std::int64_t after_id, int limit) {
  static const std::string sql = std::string("SELECT ") + rows::event_columns +
                                 " FROM event_outbox WHERE id > $1 ORDER BY id LIMIT $2";
  return collect_rows<EventRow>(db_.query(sql, Params::of(after_id, limit)),
                                &rows::read_event<Row>);
}

std::int64_t PostgresTx::last_event_id() {
  return db_.query("SELECT coalesce(max(id), 0)::bigint FROM event_outbox").int64(0, 0);
}

int PostgresTx::delete_events_before(TimePoint before) {
  require_writable();
  return static_cast<int>(
      db_.query("DELETE FROM event_outbox WHERE created_at < $1", Params::of(before)).affected());
}

}  // namespace tmc::store::postgres

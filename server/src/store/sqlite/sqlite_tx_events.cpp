// SQL for the cluster event log on SQLite (one server per database: nobody else reads it).
#include <string>

#include "store/record_rows.hpp"
#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {

std::int64_t SqliteTx::append_event(const EventRow& row) {
  require_writable(Remembered::unchanged);
  auto query = db_.query(
      "INSERT INTO event_outbox (origin, created_at, recipients, wrapped_key, sealed_event)"
      " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
  query.bind_all(row.origin, row.created_at, rows::join_recipients(row.recipients),
                 Blob{row.wrapped_key}, Blob{row.sealed_event});
  if (!query.step()) throw StoreError("sqlite: event insert returned no id");
  return query.int64(0);
}

std::vector<EventRow> SqliteTx::list_events_after(std::int64_t after_id, int limit) {
  auto query = db_.query(std::string("SELECT ") + rows::event_columns +
                         " FROM event_outbox WHERE id > ?1 ORDER BY id LIMIT ?2");
  query.bind_all(after_id, limit);
  std::vector<EventRow> out;
  while (query.step()) out.push_back(rows::read_event(query));
  return out;
}

std::int64_t SqliteTx::last_event_id() {
  auto query = db_.query("SELECT coalesce(max(id), 0) FROM event_outbox");
  return query.step() ? query.int64(0) : 0;
}

int SqliteTx::delete_events_before(TimePoint before) {
  require_writable();
  auto query = db_.query("DELETE FROM event_outbox WHERE created_at < ?1");
  query.bind(1, before).run();
  return db_.changes();
}

}  // namespace tmc::store::sqlite

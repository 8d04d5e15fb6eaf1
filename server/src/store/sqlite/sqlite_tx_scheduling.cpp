// SQL for scheduling on SQLite: availability rules, slots, appointments and reminder bookkeeping.
#include <string>

#include "store/record_rows.hpp"
#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {
namespace {

template <class Record, class Reader>
std::vector<Record> collect_rows(Query& query, Reader read) {
  std::vector<Record> rows;
  while (query.step()) rows.push_back(read(query));
  return rows;
}

template <class Record, class Reader>
std::optional<Record> first_row(Query& query, Reader read) {
  if (!query.step()) return std::nullopt;
  return read(query);
}

// A JSON array of strings for json_each(); ids are URL-safe, but quote marks are escaped anyway.
std::string json_array(const std::vector<std::string>& values) {
  std::string json = "[";
  for (const auto& value : values) {
    if (json.size() > 1) json += ',';
    json += '"';
    for (char ch : value) {
      if (ch == '"' || ch == '\\') json += '\\';
      json += ch;
    }
    json += '"';
  }
  return json + "]";
}

// ---- slots ----

using rows::join_weekdays;
constexpr auto read_slot = &rows::read_slot<Query>;
constexpr auto read_appointment = &rows::read_appointment<Query>;
constexpr auto read_pending = &rows::read_pending_reminder<Query>;

const std::string slot_select = std::string("SELECT ") + rows::slot_columns + " FROM slots ";

// ---- appointments ----

// Column order shared by SELECT (read_appointment), INSERT and UPDATE (bind_appointment).
std::string appointment_select(const char* tail) {
  return std::string("SELECT ") + rows::appointment_columns + " FROM appointments a " + tail;
}

void bind_appointment(Query& query, const Appointment& a) {
  query.bind_all(a.id, a.slot_id, a.consultation_id, a.specialist_id, a.booked_by, a.starts_at,
                 a.ends_at, static_cast<int>(a.state));
  query.bind(9, a.next_reminder_at).bind(10, a.created_at).bind(11, a.updated_at);
}

}  // namespace

// ---- rules ----

std::vector<AvailabilityRuleRecord> SqliteTx::list_availability_rules(
    std::string_view specialist_id) {
  static const std::string sql = std::string("SELECT ") + rows::availability_rule_columns +
                                 " FROM availability_rules WHERE specialist_id = ?1"
                                 " ORDER BY position";
  auto query = db_.query(sql);
  query.bind(1, specialist_id);
  return collect_rows<AvailabilityRuleRecord>(query, &rows::read_availability_rule<Query>);
}

void SqliteTx::replace_availability_rules(std::string_view specialist_id,
                                          const std::vector<AvailabilityRuleRecord>& rules,
                                          TimePoint expanded_until) {
  require_writable();
  db_.query("DELETE FROM availability_rules WHERE specialist_id = ?1")
      .bind(1, specialist_id)
      .run();
  int position = 0;
  for (const auto& rule : rules) {
    db_.query(
           "INSERT INTO availability_rules(specialist_id, position, weekdays, local_start,"
           " local_end, time_zone, slot_minutes, capacity, valid_from, valid_until)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .bind_all(specialist_id, ++position, join_weekdays(rule.weekdays), rule.local_start,
                  rule.local_end, rule.time_zone, rule.slot_minutes, rule.capacity,
                  rule.valid_from, rule.valid_until)
        .run();
  }
  set_rules_expanded_until(specialist_id, expanded_until);
}

std::vector<std::string> SqliteTx::list_specialists_expanded_before(TimePoint until, int limit) {
  auto query = db_.query(
      "SELECT h.specialist_id FROM availability_horizons h WHERE h.expanded_until < ?1"
      " AND EXISTS (SELECT 1 FROM availability_rules r WHERE r.specialist_id = h.specialist_id)"
      " ORDER BY h.expanded_until LIMIT ?2");
  query.bind_all(until, limit);
  return collect_rows<std::string>(query, [](const Query& row) { return row.text(0); });
}

std::optional<TimePoint> SqliteTx::find_rules_expanded_until(std::string_view specialist_id) {
  auto query =
      db_.query("SELECT expanded_until FROM availability_horizons WHERE specialist_id = ?1");
  query.bind(1, specialist_id);
  return first_row<TimePoint>(query, [](const Query& row) { return row.time(0); });
}

void SqliteTx::set_rules_expanded_until(std::string_view specialist_id, TimePoint until) {
  require_writable();
  db_.query(
         "INSERT INTO availability_horizons(specialist_id, expanded_until) VALUES (?1, ?2)"
         " ON CONFLICT(specialist_id) DO UPDATE SET expanded_until = excluded.expanded_until")
      .bind_all(specialist_id, until)
      .run();
}

// ---- slots ----

std::optional<SlotRecord> SqliteTx::find_slot(std::string_view id) {
  static const std::string sql = std::string(slot_select) + "WHERE id = ?1";
  auto query = db_.query(sql);
  query.bind(1, id);
  return first_row<SlotRecord>(query, read_slot);
}

std::vector<SlotRecord> SqliteTx::list_specialist_slots(std::string_view specialist_id,
                                                        TimePoint ends_after) {
  static const std::string sql = std::string(slot_select) +
                                 "WHERE specialist_id = ?1 AND ends_at > ?2 ORDER BY starts_at";
  auto query = db_.query(sql);
  query.bind_all(specialist_id, ends_after);
  return collect_rows<SlotRecord>(query, read_slot);
}

std::vector<SlotRecord> SqliteTx::list_slots(const SlotQuery& filter) {
  static const std::string sql =
      std::string(slot_select) +
      "WHERE specialist_id IN (SELECT value FROM json_each(?1)) AND starts_at >= ?2"
      " AND starts_at < ?3 AND (?4 = 0 OR booked < capacity) ORDER BY starts_at, id LIMIT ?5";
  auto query = db_.query(sql);
  query.bind_all(json_array(filter.specialist_ids), filter.from, filter.to, filter.only_free,
                 filter.limit);
  return collect_rows<SlotRecord>(query, read_slot);
}

bool SqliteTx::insert_slot(const SlotRecord& slot) {
  require_writable();
  db_.query(
         "INSERT INTO slots(id, specialist_id, starts_at, ends_at, capacity, booked, from_rule)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING")
      .bind_all(slot.id, slot.specialist_id, slot.starts_at, slot.ends_at, slot.capacity,
                slot.booked, slot.from_rule)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::delete_unbooked_slot(std::string_view id) {
  require_writable();
  db_.query("DELETE FROM slots WHERE id = ?1 AND booked = 0").bind(1, id).run();
  return db_.changes() == 1;
}

bool SqliteTx::set_slot_capacity(std::string_view id, int capacity) {
  require_writable();
  db_.query("UPDATE slots SET capacity = ?2 WHERE id = ?1 AND booked <= ?2")
      .bind_all(id, capacity)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::take_slot_place(std::string_view id) {
  require_writable();
  // One conditional statement, so the check and the increment cannot be split by another
  // writer on any backend.
  db_.query("UPDATE slots SET booked = booked + 1 WHERE id = ?1 AND booked < capacity")
      .bind(1, id)
      .run();
  return db_.changes() == 1;
}

bool SqliteTx::release_slot_place(std::string_view id) {
  require_writable();
  db_.query("UPDATE slots SET booked = booked - 1 WHERE id = ?1 AND booked > 0").bind(1, id).run();
  return db_.changes() == 1;
}

// ---- appointments ----

std::optional<Appointment> SqliteTx::find_appointment(std::string_view id) {
  static const std::string sql = appointment_select("WHERE a.id = ?1");
  auto query = db_.query(sql);
  query.bind(1, id);
  return first_row<Appointment>(query, read_appointment);
}

void SqliteTx::insert_appointment(const Appointment& appointment) {
  require_writable();
  auto query = db_.query(
      "INSERT INTO appointments(id, slot_id, consultation_id, specialist_id, booked_by,"
      " starts_at, ends_at, state, next_reminder_at, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  bind_appointment(query, appointment);
  query.run();
}

void SqliteTx::update_appointment(const Appointment& appointment) {
  require_writable();
  auto query = db_.query(
      "UPDATE appointments SET slot_id = ?2, consultation_id = ?3, specialist_id = ?4,"
      " booked_by = ?5, starts_at = ?6, ends_at = ?7, state = ?8, next_reminder_at = ?9,"
      " created_at = ?10, updated_at = ?11 WHERE id = ?1");
  bind_appointment(query, appointment);
  query.run();
  if (db_.changes() != 1) throw StoreError("update_appointment: unknown appointment");
}

std::vector<Appointment> SqliteTx::list_appointments(const AppointmentQuery& filter) {
  static const std::string sql = appointment_select(
      "WHERE a.starts_at >= ?3 AND a.starts_at < ?4 AND ("
      " a.booked_by = ?1 OR a.specialist_id = ?1"
      " OR EXISTS (SELECT 1 FROM consultation_participants p"
      "   WHERE p.consultation_id = a.consultation_id AND p.user_id = ?1)"
      " OR (?2 <> '' AND (EXISTS (SELECT 1 FROM consultations c"
      "   WHERE c.id = a.consultation_id AND c.requesting_organization_id = ?2)"
      "  OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.specialist_id"
      "   AND u.organization_id = ?2))))"
      " ORDER BY a.starts_at, a.id LIMIT ?5");
  auto query = db_.query(sql);
  query.bind_all(filter.user_id, filter.coordinator_organization_id, filter.from, filter.to,
                 filter.limit);
  return collect_rows<Appointment>(query, read_appointment);
}

bool SqliteTx::has_booked_appointment(std::string_view slot_id, std::string_view consultation_id) {
  auto query = db_.query(
      "SELECT 1 FROM appointments WHERE slot_id = ?1 AND consultation_id = ?2 AND state = 1");
  query.bind_all(slot_id, consultation_id);
  return query.step();
}

std::vector<Appointment> SqliteTx::list_booked_appointments_of(std::string_view consultation_id) {
  static const std::string sql = appointment_select(
      "WHERE a.consultation_id = ?1 AND a.state = 1 ORDER BY a.starts_at, a.id");
  auto query = db_.query(sql);
  query.bind(1, consultation_id);
  return collect_rows<Appointment>(query, read_appointment);
}

std::vector<std::string> SqliteTx::list_ended_consultations_with_booked_reviews(TimePoint now,
                                                                                int limit) {
  auto query = db_.query(
      "SELECT DISTINCT a.consultation_id FROM appointments a JOIN consultations c"
      " ON c.id = a.consultation_id WHERE a.state = 1 AND a.starts_at > ?1"
      " AND c.state IN (6, 7, 8, 9) ORDER BY a.consultation_id LIMIT ?2");
  query.bind_all(now, limit);
  return collect_rows<std::string>(query, [](const Query& row) { return row.text(0); });
}

std::vector<std::string> SqliteTx::list_consultations_with_reviews_of_disabled_specialists(
    TimePoint now, int limit) {
  // Few users are disabled: from them to their appointments by appointments_by_specialist.
  auto query = db_.query(
      "SELECT DISTINCT a.consultation_id FROM users u JOIN appointments a"
      " ON a.specialist_id = u.id AND a.starts_at > ?1 WHERE u.disabled = 1 AND a.state = 1"
      " ORDER BY a.consultation_id LIMIT ?2");
  query.bind_all(now, limit);
  return collect_rows<std::string>(query, [](const Query& row) { return row.text(0); });
}

std::vector<Appointment> SqliteTx::list_overlapping_appointments(std::string_view specialist_id,
                                                                 TimePoint from, TimePoint to,
                                                                 std::string_view except_slot_id) {
  static const std::string sql = appointment_select(
      "WHERE a.specialist_id = ?1 AND a.state = 1 AND a.starts_at < ?3 AND a.ends_at > ?2"
      " AND a.slot_id <> ?4 ORDER BY a.starts_at");
  auto query = db_.query(sql);
  query.bind_all(specialist_id, from, to, except_slot_id);
  return collect_rows<Appointment>(query, read_appointment);
}

std::vector<Appointment> SqliteTx::list_reminder_due_appointments(TimePoint now, int limit) {
  static const std::string sql = appointment_select(
      "WHERE a.state = 1 AND a.next_reminder_at IS NOT NULL AND a.next_reminder_at <= ?1"
      " ORDER BY a.next_reminder_at LIMIT ?2");
  auto query = db_.query(sql);
  query.bind_all(now, limit);
  return collect_rows<Appointment>(query, read_appointment);
}

// ---- reminders ----

std::vector<int> SqliteTx::list_sent_reminders(std::string_view appointment_id) {
  auto query = db_.query(
      "SELECT lead_minutes FROM appointment_reminders_sent WHERE appointment_id = ?1"
      " ORDER BY lead_minutes");
  query.bind(1, appointment_id);
  return collect_rows<int>(query, [](const Query& row) { return row.int32(0); });
}

void SqliteTx::mark_reminders_sent(std::string_view appointment_id,
                                   const std::vector<int>& lead_minutes, TimePoint at) {
  require_writable();
  for (int lead : lead_minutes) {
    db_.query(
           "INSERT INTO appointment_reminders_sent(appointment_id, lead_minutes, sent_at)"
           " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
        .bind_all(appointment_id, lead, at)
        .run();
  }
}

void SqliteTx::clear_sent_reminders(std::string_view appointment_id) {
  require_writable();
  db_.query("DELETE FROM appointment_reminders_sent WHERE appointment_id = ?1")
      .bind(1, appointment_id)
      .run();
}

void SqliteTx::queue_reminder(const PendingReminder& reminder) {
  require_writable();
  db_.query(
         "INSERT INTO pending_reminders(user_id, appointment_id, lead_minutes, queued_at)"
         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")
      .bind_all(reminder.user_id, reminder.appointment_id, reminder.lead_minutes,
                reminder.queued_at)
      .run();
}

std::vector<PendingReminder> SqliteTx::list_pending_reminders(std::string_view user_id) {
  static const std::string sql =
      std::string("SELECT ") + rows::pending_reminder_columns +
      " FROM pending_reminders WHERE user_id = ?1 ORDER BY queued_at, appointment_id";
  auto query = db_.query(sql);
  query.bind(1, user_id);
  return collect_rows<PendingReminder>(query, read_pending);
}

std::vector<std::string> SqliteTx::list_users_with_pending_reminders(std::string_view after,
                                                                     int limit) {
  auto query = db_.query(
      "SELECT DISTINCT user_id FROM pending_reminders WHERE user_id > ?1"
      " ORDER BY user_id LIMIT ?2");
  query.bind_all(after, limit);
  return collect_rows<std::string>(query, [](const Query& row) { return row.text(0); });
}

bool SqliteTx::delete_pending_reminder(const PendingReminder& reminder) {
  require_writable();
  db_.query(
         "DELETE FROM pending_reminders WHERE user_id = ?1 AND appointment_id = ?2"
         " AND lead_minutes = ?3")
      .bind_all(reminder.user_id, reminder.appointment_id, reminder.lead_minutes)
      .run();
  return db_.changes() == 1;
}

void SqliteTx::delete_pending_reminders_of(std::string_view appointment_id) {
  require_writable();
  db_.query("DELETE FROM pending_reminders WHERE appointment_id = ?1")
      .bind(1, appointment_id)
      .run();
}

// Walks the queue (small: reminders nobody took yet), not the appointments (every past one).
int SqliteTx::delete_stale_pending_reminders(TimePoint now) {
  require_writable();
  db_.query(
         "DELETE FROM pending_reminders WHERE NOT EXISTS (SELECT 1 FROM appointments a"
         " WHERE a.id = pending_reminders.appointment_id AND a.state = 1 AND a.starts_at > ?1)")
      .bind_all(now)
      .run();
  return db_.changes();
}

}  // namespace tmc::store::sqlite

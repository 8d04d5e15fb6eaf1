// SQL for scheduling on PostgreSQL: availability rules, slots, appointments and reminders.
#include <string>

#include "store/postgres/postgres_tx.hpp"
#include "store/record_rows.hpp"

namespace tmc::store::postgres {
namespace {

// ---- slots ----

using rows::join_weekdays;
constexpr auto read_slot = &rows::read_slot<Row>;
constexpr auto read_appointment = &rows::read_appointment<Row>;
constexpr auto read_pending = &rows::read_pending_reminder<Row>;

const std::string slot_select = std::string("SELECT ") + rows::slot_columns + " FROM slots ";

// ---- appointments ----

// Column order shared by SELECT (read_appointment), INSERT and UPDATE (appointment_params).
std::string appointment_select(const char* tail) {
  return std::string("SELECT ") + rows::appointment_columns + " FROM appointments a " + tail;
}

Params appointment_params(const Appointment& a) {
  auto params = Params::of(a.id, a.slot_id, a.consultation_id, a.specialist_id, a.booked_by,
                           a.starts_at, a.ends_at, static_cast<int>(a.state));
  params.add(a.next_reminder_at).add(a.created_at).add(a.updated_at);
  return params;
}

std::string read_text(const Row& row) { return row.text(0); }

}  // namespace

// ---- rules ----

std::vector<AvailabilityRuleRecord> PostgresTx::list_availability_rules(
    std::string_view specialist_id) {
  static const std::string sql = std::string("SELECT ") + rows::availability_rule_columns +
                                 " FROM availability_rules WHERE specialist_id = $1"
                                 " ORDER BY position";
  return collect_rows<AvailabilityRuleRecord>(db_.query(sql, Params::of(specialist_id)),
                                              &rows::read_availability_rule<Row>);
}

void PostgresTx::replace_availability_rules(std::string_view specialist_id,
                                            const std::vector<AvailabilityRuleRecord>& rules,
                                            TimePoint expanded_until) {
  require_writable();
  db_.query("DELETE FROM availability_rules WHERE specialist_id = $1", Params::of(specialist_id));
  int position = 0;
  for (const auto& rule : rules) {
    db_.query(
        "INSERT INTO availability_rules(specialist_id, position, weekdays, local_start,"
        " local_end, time_zone, slot_minutes, capacity, valid_from, valid_until)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        Params::of(specialist_id, ++position, join_weekdays(rule.weekdays), rule.local_start,
                   rule.local_end, rule.time_zone, rule.slot_minutes, rule.capacity,
                   rule.valid_from, rule.valid_until));
  }
  set_rules_expanded_until(specialist_id, expanded_until);
}

std::vector<std::string> PostgresTx::list_specialists_expanded_before(TimePoint until, int limit) {
  return collect_rows<std::string>(
      db_.query("SELECT h.specialist_id FROM availability_horizons h WHERE h.expanded_until < $1"
                " AND EXISTS (SELECT 1 FROM availability_rules r"
                "  WHERE r.specialist_id = h.specialist_id)"
                " ORDER BY h.expanded_until LIMIT $2",
                Params::of(until, limit)),
      read_text);
}

std::optional<TimePoint> PostgresTx::find_rules_expanded_until(std::string_view specialist_id) {
  return first_row<TimePoint>(
      db_.query("SELECT expanded_until FROM availability_horizons WHERE specialist_id = $1",
                Params::of(specialist_id)),
      [](const Row& row) { return row.time(0); });
}

void PostgresTx::set_rules_expanded_until(std::string_view specialist_id, TimePoint until) {
  require_writable();
  db_.query(
      "INSERT INTO availability_horizons(specialist_id, expanded_until) VALUES ($1, $2)"
      " ON CONFLICT(specialist_id) DO UPDATE SET expanded_until = excluded.expanded_until",
      Params::of(specialist_id, until));
}

// ---- slots ----

std::optional<SlotRecord> PostgresTx::find_slot(std::string_view id) {
  static const std::string sql = std::string(slot_select) + "WHERE id = $1";
  return first_row<SlotRecord>(db_.query(sql, Params::of(id)), read_slot);
}

std::vector<SlotRecord> PostgresTx::list_specialist_slots(std::string_view specialist_id,
                                                          TimePoint ends_after) {
  static const std::string sql =
      std::string(slot_select) + "WHERE specialist_id = $1 AND ends_at > $2 ORDER BY starts_at";
  return collect_rows<SlotRecord>(db_.query(sql, Params::of(specialist_id, ends_after)), read_slot);
}

std::vector<SlotRecord> PostgresTx::list_slots(const SlotQuery& filter) {
  static const std::string sql =
      std::string(slot_select) +
      "WHERE specialist_id = ANY($1::text[]) AND starts_at >= $2 AND starts_at < $3"
      " AND (NOT $4::boolean OR booked < capacity) ORDER BY starts_at, id LIMIT $5";
  return collect_rows<SlotRecord>(
      db_.query(sql, Params::of(text_array(filter.specialist_ids), filter.from, filter.to,
                                filter.only_free, filter.limit)),
      read_slot);
}

bool PostgresTx::insert_slot(const SlotRecord& slot) {
  require_writable();
  return db_.query(
                "INSERT INTO slots(id, specialist_id, starts_at, ends_at, capacity, booked,"
                " from_rule) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(id) DO NOTHING",
                Params::of(slot.id, slot.specialist_id, slot.starts_at, slot.ends_at, slot.capacity,
                           slot.booked, slot.from_rule))
             .affected() == 1;
}

bool PostgresTx::delete_unbooked_slot(std::string_view id) {
  require_writable();
  return db_.query("DELETE FROM slots WHERE id = $1 AND booked = 0", Params::of(id)).affected() ==
         1;
}

bool PostgresTx::set_slot_capacity(std::string_view id, int capacity) {
  require_writable();
  return db_.query("UPDATE slots SET capacity = $2 WHERE id = $1 AND booked <= $2",
                   Params::of(id, capacity))
             .affected() == 1;
}

bool PostgresTx::take_slot_place(std::string_view id) {
  require_writable();
  // One conditional statement: the row lock it takes makes check and increment atomic across
  // every writer of the database, not only this process.
  return db_.query("UPDATE slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity",
                   Params::of(id))
             .affected() == 1;
}

bool PostgresTx::release_slot_place(std::string_view id) {
  require_writable();
  return db_.query("UPDATE slots SET booked = booked - 1 WHERE id = $1 AND booked > 0",
                   Params::of(id))
             .affected() == 1;
}

// ---- appointments ----

std::optional<Appointment> PostgresTx::find_appointment(std::string_view id) {
  static const std::string sql = appointment_select("WHERE a.id = $1");
  return first_row<Appointment>(db_.query(sql, Params::of(id)), read_appointment);
}

void PostgresTx::insert_appointment(const Appointment& appointment) {
  require_writable();
  db_.query(
      "INSERT INTO appointments(id, slot_id, consultation_id, specialist_id, booked_by,"
      " starts_at, ends_at, state, next_reminder_at, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      appointment_params(appointment));
}

void PostgresTx::update_appointment(const Appointment& appointment) {
  require_writable();
  const auto result = db_.query(
      "UPDATE appointments SET slot_id = $2, consultation_id = $3, specialist_id = $4,"
      " booked_by = $5, starts_at = $6, ends_at = $7, state = $8, next_reminder_at = $9,"
      " created_at = $10, updated_at = $11 WHERE id = $1",
      appointment_params(appointment));
  if (result.affected() != 1) throw StoreError("update_appointment: unknown appointment");
}

std::vector<Appointment> PostgresTx::list_appointments(const AppointmentQuery& filter) {
  static const std::string sql = appointment_select(
      "WHERE a.starts_at >= $3 AND a.starts_at < $4 AND ("
      " a.booked_by = $1::text OR a.specialist_id = $1::text"
      " OR EXISTS (SELECT 1 FROM consultation_participants p"
      "   WHERE p.consultation_id = a.consultation_id AND p.user_id = $1::text)"
      " OR ($2::text <> '' AND (EXISTS (SELECT 1 FROM consultations c"
      "   WHERE c.id = a.consultation_id AND c.requesting_organization_id = $2::text)"
      "  OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.specialist_id"
      "   AND u.organization_id = $2::text))))"
      " ORDER BY a.starts_at, a.id LIMIT $5");
  return collect_rows<Appointment>(
      db_.query(sql, Params::of(filter.user_id, filter.coordinator_organization_id, filter.from,
                                filter.to, filter.limit)),
      read_appointment);
}

bool PostgresTx::has_booked_appointment(std::string_view slot_id,
                                        std::string_view consultation_id) {
  return !db_.query(
                 "SELECT 1 FROM appointments WHERE slot_id = $1 AND consultation_id = $2"
                 " AND state = 1",
                 Params::of(slot_id, consultation_id))
              .empty();
}

std::vector<Appointment> PostgresTx::list_booked_appointments_of(
    std::string_view consultation_id) {
  static const std::string sql = appointment_select(
      "WHERE a.consultation_id = $1 AND a.state = 1 ORDER BY a.starts_at, a.id");
  return collect_rows<Appointment>(db_.query(sql, Params::of(consultation_id)), read_appointment);
}

std::vector<std::string> PostgresTx::list_ended_consultations_with_booked_reviews(TimePoint now,
                                                                                  int limit) {
  return collect_rows<std::string>(
      db_.query("SELECT DISTINCT a.consultation_id FROM appointments a JOIN consultations c"
                " ON c.id = a.consultation_id WHERE a.state = 1 AND a.starts_at > $1"
                " AND c.state IN (6, 7, 8, 9) ORDER BY a.consultation_id LIMIT $2",
                Params::of(now, limit)),
      read_text);
}

std::vector<std::string> PostgresTx::list_consultations_with_reviews_of_disabled_specialists(
    TimePoint now, int limit) {
  return collect_rows<std::string>(
      db_.query("SELECT DISTINCT a.consultation_id FROM users u JOIN appointments a"
                " ON a.specialist_id = u.id AND a.starts_at > $1 WHERE u.disabled AND a.state = 1"
                " ORDER BY a.consultation_id LIMIT $2",
                Params::of(now, limit)),
      read_text);
}

std::vector<Appointment> PostgresTx::list_overlapping_appointments(
    std::string_view specialist_id, TimePoint from, TimePoint to, std::string_view except_slot_id) {
  static const std::string sql = appointment_select(
      "WHERE a.specialist_id = $1 AND a.state = 1 AND a.starts_at < $3 AND a.ends_at > $2"
      " AND a.slot_id <> $4 ORDER BY a.starts_at");
  return collect_rows<Appointment>(
      db_.query(sql, Params::of(specialist_id, from, to, except_slot_id)), read_appointment);
}

std::vector<Appointment> PostgresTx::list_reminder_due_appointments(TimePoint now, int limit) {
  static const std::string sql = appointment_select(
      "WHERE a.state = 1 AND a.next_reminder_at IS NOT NULL AND a.next_reminder_at <= $1"
      " ORDER BY a.next_reminder_at LIMIT $2");
  return collect_rows<Appointment>(db_.query(sql, Params::of(now, limit)), read_appointment);
}

// ---- reminders ----

std::vector<int> PostgresTx::list_sent_reminders(std::string_view appointment_id) {
  return collect_rows<int>(
      db_.query("SELECT lead_minutes FROM appointment_reminders_sent WHERE appointment_id = $1"
                " ORDER BY lead_minutes",
                Params::of(appointment_id)),
      [](const Row& row) { return row.int32(0); });
}

void PostgresTx::mark_reminders_sent(std::string_view appointment_id,
                                     const std::vector<int>& lead_minutes, TimePoint at) {
  require_writable();
  for (int lead : lead_minutes) {
    db_.query(
        "INSERT INTO appointment_reminders_sent(appointment_id, lead_minutes, sent_at)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        Params::of(appointment_id, lead, at));
  }
}

void PostgresTx::clear_sent_reminders(std::string_view appointment_id) {
  require_writable();
  db_.query("DELETE FROM appointment_reminders_sent WHERE appointment_id = $1",
            Params::of(appointment_id));
}

void PostgresTx::queue_reminder(const PendingReminder& reminder) {
  require_writable();
  db_.query(
      "INSERT INTO pending_reminders(user_id, appointment_id, lead_minutes, queued_at)"
      " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
      Params::of(reminder.user_id, reminder.appointment_id, reminder.lead_minutes,
                 reminder.queued_at));
}

std::vector<PendingReminder> PostgresTx::list_pending_reminders(std::string_view user_id) {
  static const std::string sql =
      std::string("SELECT ") + rows::pending_reminder_columns +
      " FROM pending_reminders WHERE user_id = $1 ORDER BY queued_at, appointment_id";
  return collect_rows<PendingReminder>(db_.query(sql, Params::of(user_id)), read_pending);
}

std::vector<std::string> PostgresTx::list_users_with_pending_reminders(std::string_view after,
                                                                       int limit) {
  return collect_rows<std::string>(
      db_.query("SELECT DISTINCT user_id FROM pending_reminders WHERE user_id > $1"
                " ORDER BY user_id LIMIT $2",
                Params::of(after, limit)),
      read_text);
}

bool PostgresTx::delete_pending_reminder(const PendingReminder& reminder) {
  require_writable();
  return db_.query(
                "DELETE FROM pending_reminders WHERE user_id = $1 AND appointment_id = $2"
                " AND lead_minutes = $3",
                Params::of(reminder.user_id, reminder.appointment_id, reminder.lead_minutes))
             .affected() == 1;
}

void PostgresTx::delete_pending_reminders_of(std::string_view appointment_id) {
  require_writable();
  db_.query("DELETE FROM pending_reminders WHERE appointment_id = $1", Params::of(appointment_id));
}

// Walks the queue (small: reminders nobody took yet), not the appointments (every past one).
int PostgresTx::delete_stale_pending_reminders(TimePoint now) {
  require_writable();
  return db_.query(
                "DELETE FROM pending_reminders p WHERE NOT EXISTS (SELECT 1 FROM appointments a"
                " WHERE a.id = p.appointment_id AND a.state = 1 AND a.starts_at > $1)",
                Params::of(now))
      .affected();
}

}  // namespace tmc::store::postgres

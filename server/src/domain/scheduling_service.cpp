// Specialist review scheduling: published availability, slot listing, bookings and reminders.
#include "domain/scheduling_service.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <set>

#include "crypto/random.hpp"
#include "domain/consultation_machine.hpp"

namespace tmc::domain {

using store::Appointment;
using store::AppointmentState;
using store::SlotRecord;

namespace {

constexpr int kNoticeAppointmentChanged = 5;  // SYSTEM_NOTICE_KIND_APPOINTMENT_CHANGED
constexpr auto kDefaultWindow = std::chrono::days(30);
constexpr int kListLimit = 1000;
constexpr std::size_t kMaxReasonBytes = 1024;

Error consultation_not_found() { return make_error(Code::not_found, "consultation not found"); }
Error slot_not_found() { return make_error(Code::not_found, "slot not found"); }
Error appointment_not_found() { return make_error(Code::not_found, "appointment not found"); }
Error slot_full() { return make_error(Code::aborted, "the slot is full"); }

template <class T>
Status status_of(const Result<T>& result) {
  if (result) return ok();
  return result.error();
}

void append_unique(std::vector<std::string>& to, const std::string& id) {
  if (!id.empty() && std::find(to.begin(), to.end(), id) == to.end()) to.push_back(id);
}

store::AvailabilityRuleRecord to_record(const AvailabilityRule& rule) {
  store::AvailabilityRuleRecord record;
  for (auto day : rule.weekdays) record.weekdays.push_back(static_cast<int>(day));
  record.local_start = rule.local_start;
  record.local_end = rule.local_end;
  record.time_zone = rule.time_zone;
  record.slot_minutes = rule.slot_minutes;
  record.capacity = rule.capacity;
  record.valid_from = rule.valid_from;
  record.valid_until = rule.valid_until;
  return record;
}

AvailabilityRule from_record(const store::AvailabilityRuleRecord& record) {
  AvailabilityRule rule;
  for (int day : record.weekdays) rule.weekdays.push_back(static_cast<Weekday>(day));
  rule.local_start = record.local_start;
  rule.local_end = record.local_end;
  rule.time_zone = record.time_zone;
  rule.slot_minutes = record.slot_minutes;
  rule.capacity = record.capacity;
  rule.valid_from = record.valid_from;
  rule.valid_until = record.valid_until;
  return rule;
}

SlotSpan span_of(const SlotRecord& slot) { return {slot.starts_at, slot.ends_at, slot.capacity}; }

std::string describe(const SlotSpan& span) {
  return format_utc(span.starts_at) + "-" + format_utc(span.ends_at);
}

SlotRecord new_slot(const std::string& specialist_id, const SlotSpan& span, bool from_rule) {
  return {crypto::random_id("slt"), specialist_id, span.starts_at, span.ends_at, span.capacity,
          0, from_rule};
}

// The caller's organisation and every organisation paired with it (either side).
std::set<std::string> reachable_organizations(store::Tx& tx, const std::string& organization_id) {
  std::set<std::string> reachable{organization_id};
  for (const auto& pairing : tx.list_pairings()) {
    if (pairing.county_organization_id == organization_id) {
      reachable.insert(pairing.partner_organization_id);
    }
    if (pairing.partner_organization_id == organization_id) {
      reachable.insert(pairing.county_organization_id);
    }
  }
  return reachable;
}

std::vector<int> to_minutes(const std::vector<std::chrono::minutes>& leads) {
  std::vector<int> minutes;
  for (auto lead : leads) minutes.push_back(static_cast<int>(lead.count()));
  return minutes;
}

std::vector<std::chrono::minutes> from_minutes(const std::vector<int>& minutes) {
  std::vector<std::chrono::minutes> leads;
  for (int lead : minutes) leads.emplace_back(lead);
  return leads;
}

}  // namespace

SchedulingService::SchedulingService(store::Store& store, const Clock& clock, AuditHook& audit,
                                     const ConsultationService& consultations,
                                     SchedulingOptions options)
    : store_(store),
      clock_(clock),
      audit_(audit),
      consultations_(consultations),
      options_(std::move(options)) {}

void SchedulingService::audit(const Caller& caller, const char* action, const std::string& id,
                              bool allowed) {
  audit_.record({caller.user.id, caller.user.organization_id, action, {id},
                 allowed ? AuditOutcome::success : AuditOutcome::denied, caller.remote_address});
}

void SchedulingService::audit(const Caller& caller, const char* action,
                              std::vector<std::string> ids, const Status& status) {
  auto outcome = AuditOutcome::success;
  if (!status) {
    const auto code = status.error().code;
    outcome = code == Code::not_found || code == Code::permission_denied ? AuditOutcome::denied
                                                                          : AuditOutcome::failed;
  }
  std::erase(ids, std::string{});
  audit_.record({caller.user.id, caller.user.organization_id, action, std::move(ids), outcome,
                 caller.remote_address});
}

Appointment SchedulingService::presented(Appointment appointment, TimePoint now) const {
  if (appointment.state == AppointmentState::booked && appointment.ends_at <= now) {
    appointment.state = AppointmentState::completed;
  }
  return appointment;
}

// ---- availability -----------------------------------------------------------------------------

Result<std::vector<SlotRecord>> SchedulingService::publish(const Caller& caller,
                                                           const PublishAvailability& request) {
  const auto& user = caller.user;
  if (user.role != store::Role::specialist && user.role != store::Role::coordinator) {
    audit(caller, "availability.publish", request.specialist_id, false);
    return make_error(Code::permission_denied,
                      "only specialists and their coordinators publish availability");
  }
  const bool replace_rules = !request.rules.empty() || request.withdraw_rules;
  if (!replace_rules && request.slots.empty()) {
    return make_error(Code::invalid_argument,
                      "nothing to publish: give rules or slots, or withdraw the rules");
  }
  const auto now = clock_.now();
  const TimePoint until = now + options_.slot_horizon;

  std::vector<SlotSpan> desired;  // expanded rules
  // One specialist's slots never overlap, so no more of them fit before `until` than of the
  // shortest length (plus a few cut short where clocks jump). Rules that give more overlap;
  // stopping there keeps a request of thousands of copies of a rule from expanding them all.
  const auto most_slots = static_cast<std::size_t>(
      (until - now) / std::chrono::minutes(min_slot_minutes) + 1000);
  for (std::size_t i = 0; i < request.rules.size(); ++i) {
    auto expanded = expand_rule(request.rules[i], now, until);
    if (!expanded) {
      return make_error(Code::invalid_argument,
                        "rule " + std::to_string(i + 1) + ": " + expanded.error().message);
    }
    desired.insert(desired.end(), expanded->begin(), expanded->end());
    if (desired.size() > most_slots) {
      return make_error(Code::invalid_argument,
                        "rules 1-" + std::to_string(i + 1) + " give more slots than fit in " +
                            std::to_string(options_.slot_horizon.count()) +
                            " days: their slots overlap");
    }
  }
  std::sort(desired.begin(), desired.end(),
            [](const auto& a, const auto& b) { return a.starts_at < b.starts_at; });
  if (request.rules.size() > 1) {
    // Rules that clash only past the horizon (one valid from a later date) would have their
    // slots cut short there without a word when availability rolls forward: clashes are looked
    // for a year past it too, which covers every week and daylight-saving season.
    constexpr std::chrono::days kClashYear{371};
    std::vector<SlotSpan> later;
    for (const auto& rule : request.rules) {
      auto expanded = expand_rule(rule, until, until + kClashYear);
      if (!expanded) return make_error(Code::invalid_argument, expanded.error().message);
      later.insert(later.end(), expanded->begin(), expanded->end());
      if (later.size() > static_cast<std::size_t>(kClashYear / std::chrono::minutes(
                                                                   min_slot_minutes)) +
                             1000) {
        return make_error(Code::invalid_argument, "the rules' slots overlap");
      }
    }
    if (const auto clash = find_batch_overlap({}, later)) {
      return make_error(Code::invalid_argument,
                        "the rules give overlapping slots " + describe(later[clash->candidate]) +
                            " and " + describe(later[clash->other]));
    }
  }
  for (std::size_t i = 0; i < request.slots.size(); ++i) {
    const auto& slot = request.slots[i];
    const auto label = "slot " + std::to_string(i + 1) + ": ";
    if (auto valid = validate_slot(slot); !valid) {
      return make_error(Code::invalid_argument, label + valid.error().message);
    }
    if (slot.starts_at <= now) {
      return make_error(Code::invalid_argument, label + "starts in the past");
    }
  }

  const std::string specialist_id = request.specialist_id.empty() ? user.id
                                                                  : request.specialist_id;
  std::optional<Result<std::vector<SlotRecord>>> result;
  store_.write([&](store::Tx& tx) {
    const auto specialist = tx.find_user(specialist_id);
    if (!specialist || specialist->role != store::Role::specialist || specialist->disabled) {
      result.emplace(make_error(Code::not_found, "specialist not found"));
      return false;
    }
    const bool allowed =
        specialist->id == user.id ||
        (user.role == store::Role::coordinator &&
         user.organization_id == specialist->organization_id);
    if (!allowed) {
      // Another hospital's staff are not the caller's to probe: as unknown as a wrong id.
      result.emplace(specialist->organization_id != user.organization_id
                         ? make_error(Code::not_found, "specialist not found")
                         : make_error(Code::permission_denied,
                                      "only the specialist or a coordinator of their hospital "
                                      "may publish their availability"));
      return false;
    }
    auto fail = [&](Error error) {
      result.emplace(std::move(error));
      return false;
    };

    // Stored slots still to come: those derived from rules are re-planned when rules are given
    // or withdrawn; the rest (single slots, and everything when only single slots are
    // published) stay.
    const auto stored = tx.list_specialist_slots(specialist_id, now);
    std::vector<SlotRecord> staying;
    std::vector<ExistingSlot> replanned;
    for (const auto& slot : stored) {
      if (slot.from_rule && replace_rules) {
        replanned.push_back({slot.id, span_of(slot), slot.booked});
      } else {
        staying.push_back(slot);
      }
    }
    std::vector<SlotRecord> created;
    if (replace_rules) {
      auto plan = plan_republish(replanned, desired, now, until);
      if (!plan) {
        const auto& error = plan.error();
        return fail(error.code == Code::failed_precondition
                        ? make_error(Code::already_exists, error.message)
                        : error);
      }
      for (const auto& slot : replanned) {
        const bool removed =
            std::find(plan->remove.begin(), plan->remove.end(), slot.id) != plan->remove.end();
        if (removed) continue;
        staying.push_back({slot.id, specialist_id, slot.span.starts_at, slot.span.ends_at,
                           slot.span.capacity, slot.booked, true});
      }
      for (const auto& span : plan->add) created.push_back(new_slot(specialist_id, span, true));
      // The planner checked the rule slots among themselves; the single slots are checked here.
      std::vector<SlotSpan> singles;
      for (const auto& slot : staying) {
        if (!slot.from_rule) singles.push_back(span_of(slot));
      }
      if (auto clash = find_batch_overlap(singles, plan->add)) {
        const auto& other = std::find_if(staying.begin(), staying.end(), [&](const auto& s) {
          return !s.from_rule && span_of(s) == singles[clash->other];
        });
        return fail(make_error(Code::already_exists,
                               "slot " + describe(plan->add[clash->candidate]) +
                                   " overlaps existing slot " + other->id + " (" +
                                   describe(singles[clash->other]) + ")"));
      }
      for (const auto& stale : plan->remove) {
        if (!tx.delete_unbooked_slot(stale)) throw store::StoreError("slot changed while planned");
      }
      for (const auto& change : plan->change_capacity) {
        if (!tx.set_slot_capacity(change.id, change.capacity)) {
          throw store::StoreError("slot changed while planned");
        }
      }
      std::vector<store::AvailabilityRuleRecord> records;
      for (const auto& rule : request.rules) records.push_back(to_record(rule));
      tx.replace_availability_rules(specialist_id, records, until);
    }

    if (!request.slots.empty()) {
      std::vector<SlotRecord> kept = staying;
      kept.insert(kept.end(), created.begin(), created.end());
      std::sort(kept.begin(), kept.end(),
                [](const auto& a, const auto& b) { return a.starts_at < b.starts_at; });
      std::vector<SlotSpan> kept_spans;
      for (const auto& slot : kept) kept_spans.push_back(span_of(slot));
      if (auto clash = find_batch_overlap(kept_spans, request.slots)) {
        const auto& candidate = request.slots[clash->candidate];
        if (!clash->with_existing) {
          return fail(make_error(Code::invalid_argument,
                                 "slot " + describe(candidate) + " overlaps slot " +
                                     describe(request.slots[clash->other]) + " of this request"));
        }
        return fail(make_error(Code::already_exists,
                               "slot " + describe(candidate) + " overlaps existing slot " +
                                   kept[clash->other].id + " (" +
                                   describe(kept_spans[clash->other]) + ")"));
      }
      for (const auto& span : request.slots) created.push_back(new_slot(specialist_id, span, false));
    }
    for (const auto& slot : created) {
      if (!tx.insert_slot(slot)) throw store::StoreError("slot id collision");
    }
    std::sort(created.begin(), created.end(),
              [](const auto& a, const auto& b) { return a.starts_at < b.starts_at; });
    result.emplace(std::move(created));
    return true;
  });
  audit(caller, "availability.publish", specialist_id, result->has_value());
  return std::move(*result);
}

Result<std::vector<SlotRecord>> SchedulingService::list_slots(const Caller& caller,
                                                              const SlotFilter& filter) {
  if (caller.user.role == store::Role::admin) {
    return make_error(Code::permission_denied, "administrators do not book reviews");
  }
  const auto now = clock_.now();
  const auto from = filter.from.value_or(now);
  const auto to = filter.to.value_or(from + kDefaultWindow);
  if (to <= from) return make_error(Code::invalid_argument, "to must be after from");
  std::vector<SlotRecord> slots;
  // A slot that has begun can no longer be booked: it is not free, whatever the window asked.
  if (to <= now) return slots;
  store_.read([&](store::Tx& tx) {
    const auto reachable = reachable_organizations(tx, caller.user.organization_id);
    store::UserFilter users;
    users.role = store::Role::specialist;
    users.specialty = filter.specialty;
    store::SlotQuery query;
    for (const auto& specialist : tx.list_users(users)) {
      if (!reachable.count(specialist.organization_id)) continue;
      if (!filter.specialist_id.empty() && specialist.id != filter.specialist_id) continue;
      query.specialist_ids.push_back(specialist.id);
    }
    if (query.specialist_ids.empty()) return;
    query.from = std::max(from, now);
    query.to = to;
    query.only_free = true;
    query.limit = kListLimit;
    slots = tx.list_slots(query);
  });
  return slots;
}

// ---- appointments -----------------------------------------------------------------------------

Status SchedulingService::add_notice(store::Tx& tx, const Appointment& appointment,
                                     const std::string& text, TimePoint now,
                                     std::vector<Notification>& notifications,
                                     const std::string& also) const {
  std::string when = format_utc(appointment.starts_at);
  const auto consultation =
      tx.find_consultation(appointment.consultation_id, store::SealedTexts::skip);
  if (!consultation) return consultation_not_found();
  if (auto org = tx.find_organization(consultation->requesting_organization_id)) {
    when = format_local_range(appointment.starts_at, appointment.ends_at, org->time_zone);
  }
  std::string with;
  if (auto specialist = tx.find_user(appointment.specialist_id)) {
    with = " with " + specialist->display_name;
  }
  auto appended = consultations_.append_system_notice(
      tx, appointment.consultation_id, kNoticeAppointmentChanged, text + with + ": " + when,
      appointment.id, now, notifications);
  if (!appended) return appended;
  // Participants, the reviewing specialist and whoever booked hear of the change.
  std::vector<std::string> recipients;
  for (const auto& p : tx.list_participants(appointment.consultation_id)) {
    append_unique(recipients, p.user_id);
  }
  append_unique(recipients, appointment.specialist_id);
  append_unique(recipients, appointment.booked_by);
  if (!also.empty()) append_unique(recipients, also);
  Notification changed;
  changed.kind = Notification::Kind::appointment_changed;
  changed.recipients = std::move(recipients);
  changed.appointment = presented(appointment, now);
  notifications.push_back(std::move(changed));
  return ok();
}

Result<Outcome<Appointment>> SchedulingService::book(const Caller& caller,
                                                     const std::string& slot_id,
                                                     const std::string& consultation_id) {
  if (caller.user.role == store::Role::admin) {
    Status refused = make_error(Code::permission_denied, "administrators do not book reviews");
    audit(caller, "appointment.book", {consultation_id}, refused);
    return refused.error();
  }
  std::optional<Result<Outcome<Appointment>>> result;
  store_.write([&](store::Tx& tx) {
    // Read when the writer runs the booking, not when it was queued: behind a long queue (or
    // another node's transaction) a slot may have begun meanwhile.
    const auto now = clock_.now();
    auto fail = [&](Error error) {
      result.emplace(std::move(error));
      return false;
    };
    const auto access = consultations_.access(tx, caller, consultation_id);
    if (!access) return fail(consultation_not_found());
    const auto& record = access->record;
    const bool allowed = access->actor.is_participant ||
                         (caller.user.role == store::Role::coordinator &&
                          caller.user.organization_id == record.requesting_organization_id);
    if (!allowed) {
      if (!access->actor.is_related()) return fail(consultation_not_found());
      return fail(make_error(Code::permission_denied,
                             "only participants of the consultation book its review"));
    }
    if (is_read_only(record.state)) {
      return fail(make_error(Code::failed_precondition,
                             "the consultation is " + std::string(state_name(record.state))));
    }
    const auto slot = tx.find_slot(slot_id);
    if (!slot) return fail(slot_not_found());
    const auto specialist = tx.find_user(slot->specialist_id);
    if (!specialist || specialist->disabled ||  // listings leave a disabled one's slots out
        !reachable_organizations(tx, record.requesting_organization_id)
             .count(specialist->organization_id)) {
      return fail(slot_not_found());
    }
    if (slot->starts_at <= now) {
      return fail(make_error(Code::failed_precondition, "the slot has already started"));
    }
    if (auto reviewer = reviewer_can_open(tx, *specialist, consultation_id); !reviewer) {
      return fail(reviewer.error());
    }
    // A retry of a booking whose answer was lost finds its own place, not a full slot.
    if (tx.has_booked_appointment(slot_id, consultation_id)) {
      return fail(make_error(Code::already_exists,
                             "the consultation already has a review booked in this slot"));
    }
    if (slot->booked >= slot->capacity) return fail(slot_full());
    if (!tx.list_overlapping_appointments(slot->specialist_id, slot->starts_at, slot->ends_at,
                                          slot_id)
             .empty()) {
      return fail(make_error(Code::failed_precondition,
                             "the specialist already has a review at that time"));
    }
    // The check and the decrement are one statement: exactly one of racing bookings wins.
    if (!tx.take_slot_place(slot_id)) return fail(slot_full());
    Appointment appointment;
    appointment.id = crypto::random_id("apt");
    appointment.slot_id = slot_id;
    appointment.consultation_id = consultation_id;
    appointment.specialist_id = slot->specialist_id;
    appointment.booked_by = caller.user.id;
    appointment.starts_at = slot->starts_at;
    appointment.ends_at = slot->ends_at;
    appointment.state = AppointmentState::booked;
    appointment.next_reminder_at =
        next_reminder_time(slot->starts_at, now, {}, options_.reminders);
    appointment.created_at = now;
    appointment.updated_at = now;
    tx.insert_appointment(appointment);
    Outcome<Appointment> outcome{presented(appointment, now), {}};
    if (auto noticed = add_notice(tx, appointment, "Review booked", now, outcome.notifications);
        !noticed) {
      return fail(noticed.error());
    }
    result.emplace(std::move(outcome));
    return true;
  });
  audit(caller, "appointment.book",
        {result->has_value() ? (*result)->value.id : std::string{}, consultation_id},
        status_of(*result));
  return std::move(*result);
}

Result<Outcome<Appointment>> SchedulingService::change(
    const Caller& caller, const std::string& appointment_id, const char* action,
    const std::function<Status(store::Tx&, Appointment&, std::string& notice, std::string& also)>&
        apply) {
  if (caller.user.role == store::Role::admin) {
    Status refused = make_error(Code::permission_denied, "administrators do not book reviews");
    audit(caller, action, {appointment_id}, refused);
    return refused.error();
  }
  std::optional<Result<Outcome<Appointment>>> result;
  std::string consultation_id;
  store_.write([&](store::Tx& tx) {
    const auto now = clock_.now();  // as for a booking: when the writer runs the change
    auto fail = [&](Error error) {
      result.emplace(std::move(error));
      return false;
    };
    auto appointment = tx.find_appointment(appointment_id);
    if (!appointment) return fail(appointment_not_found());
    consultation_id = appointment->consultation_id;
    const auto access = consultations_.access(tx, caller, appointment->consultation_id);
    bool allowed = appointment->booked_by == caller.user.id ||
                   appointment->specialist_id == caller.user.id;
    if (!allowed && caller.user.role == store::Role::coordinator) {
      // The organisations involved in the consultation (requesting, and the accepting
      // specialist's), and the reviewing specialist's.
      const auto specialist = tx.find_user(appointment->specialist_id);
      allowed = (access && access->actor.is_coordinator_of_involved_org) ||
                (specialist && specialist->organization_id == caller.user.organization_id);
    }
    if (!allowed) {
      if (!access || !access->actor.is_related()) return fail(appointment_not_found());
      return fail(make_error(Code::permission_denied,
                             "only who booked it, the specialist or a coordinator may change it"));
    }
    if (presented(*appointment, now).state != AppointmentState::booked) {
      return fail(make_error(Code::failed_precondition, "the appointment is no longer booked"));
    }
    std::string notice;
    std::string also;
    if (auto applied = apply(tx, *appointment, notice, also); !applied) {
      return fail(applied.error());
    }
    appointment->updated_at = now;
    tx.update_appointment(*appointment);
    tx.delete_pending_reminders_of(appointment->id);  // reminders of the old time are stale
    Outcome<Appointment> outcome{presented(*appointment, now), {}};
    if (auto noticed = add_notice(tx, *appointment, notice, now, outcome.notifications, also);
        !noticed) {
      return fail(noticed.error());
    }
    result.emplace(std::move(outcome));
    return true;
  });
  audit(caller, action, {appointment_id, consultation_id}, status_of(*result));
  return std::move(*result);
}

Result<Outcome<Appointment>> SchedulingService::cancel(const Caller& caller,
                                                       const std::string& appointment_id,
                                                       const std::string& reason) {
  if (reason.size() > kMaxReasonBytes) {
    return make_error(Code::invalid_argument, "reason is over 1 KiB");
  }
  return change(caller, appointment_id, "appointment.cancel",
                [&](store::Tx& tx, Appointment& appointment, std::string& notice,
                    std::string&) -> Status {
                  release_place(tx, appointment.slot_id);
                  appointment.state = AppointmentState::cancelled;
                  appointment.next_reminder_at.reset();
                  notice = reason.empty() ? "Review cancelled" : "Review cancelled (" + reason + ")";
                  return ok();
                });
}

void SchedulingService::release_place(store::Tx& tx, const std::string& slot_id) const {
  if (!tx.release_slot_place(slot_id)) throw store::StoreError("booked slot holds no place");
  const auto slot = tx.find_slot(slot_id);
  if (!slot || !slot->from_rule) return;
  // A rule slot the specialist's rules no longer give was kept only for its bookings.
  for (const auto& record : tx.list_availability_rules(slot->specialist_id)) {
    const auto spans = expand_rule(from_record(record), slot->starts_at,
                                   slot->starts_at + std::chrono::microseconds(1));
    if (!spans) continue;
    const auto offered = std::find_if(spans->begin(), spans->end(), [&](const SlotSpan& span) {
      return span.starts_at == slot->starts_at && span.ends_at == slot->ends_at;
    });
    if (offered == spans->end()) continue;
    // Still offered: the place is free for another booking, unless the rule now gives fewer
    // places than the slot kept for its bookings.
    const int capacity = std::max(offered->capacity, slot->booked);
    if (capacity != slot->capacity) tx.set_slot_capacity(slot_id, capacity);
    return;
  }
  if (slot->booked == 0) {
    tx.delete_unbooked_slot(slot_id);
  } else {
    tx.set_slot_capacity(slot_id, slot->booked);
  }
}

void SchedulingService::cancel_booked(store::Tx& tx, Appointment& appointment,
                                      const std::string& notice, TimePoint now,
                                      std::vector<Notification>& notifications) const {
  release_place(tx, appointment.slot_id);
  appointment.state = AppointmentState::cancelled;
  appointment.next_reminder_at.reset();
  appointment.updated_at = now;
  tx.update_appointment(appointment);
  tx.delete_pending_reminders_of(appointment.id);
  if (auto noticed = add_notice(tx, appointment, notice, now, notifications); !noticed) {
    throw store::StoreError("the review's consultation is gone: " + noticed.error().message);
  }
}

void SchedulingService::cancel_reviews_of_ended(store::Tx& tx, const std::string& consultation_id,
                                                std::string_view state, TimePoint now,
                                                std::vector<Notification>& notifications) const {
  std::string why{state};
  std::transform(why.begin(), why.end(), why.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (auto& appointment : tx.list_booked_appointments_of(consultation_id)) {
    // A review that has begun is left to finish (and then shows COMPLETED): a report written
    // during the review often closes the consultation before the review's end.
    if (appointment.starts_at <= now) continue;
    cancel_booked(tx, appointment, "Review cancelled (consultation " + why + ")", now,
                  notifications);
  }
}

int SchedulingService::cancel_reviews_without_reviewer(
    store::Tx& tx, const std::string& consultation_id, TimePoint now,
    std::vector<Notification>& notifications) const {
  int cancelled = 0;
  for (auto& appointment : tx.list_booked_appointments_of(consultation_id)) {
    if (appointment.starts_at <= now) continue;  // begun: left to finish, as above
    const auto specialist = tx.find_user(appointment.specialist_id);
    std::string why;
    if (!specialist || specialist->disabled) {
      why = "the specialist is no longer available";
    } else if (!reviewer_can_open(tx, *specialist, consultation_id)) {
      why = "the specialist no longer takes part in the consultation";
    } else {
      continue;
    }
    cancel_booked(tx, appointment, "Review cancelled (" + why + ")", now, notifications);
    ++cancelled;
  }
  return cancelled;
}

Outcome<int> SchedulingService::cancel_reviews_of_disabled_specialists(TimePoint now) {
  constexpr int kPage = 100;
  Outcome<int> outcome{0, {}};
  // Called every reminder check, and almost always there is none: a read costs no writer turn.
  bool any = false;
  store_.read([&](store::Tx& tx) {
    any = !tx.list_consultations_with_reviews_of_disabled_specialists(now, 1).empty();
  });
  for (bool more = any; more;) {
    std::size_t listed = 0;
    int cancelled = 0;
    std::vector<Notification> page;
    store_.write([&](store::Tx& tx) {
      const auto ids = tx.list_consultations_with_reviews_of_disabled_specialists(now, kPage);
      listed = ids.size();
      cancelled = 0;
      page.clear();
      for (const auto& id : ids) cancelled += cancel_reviews_without_reviewer(tx, id, now, page);
      return cancelled > 0;
    });
    outcome.value += cancelled;
    std::move(page.begin(), page.end(), std::back_inserter(outcome.notifications));
    more = listed == kPage && cancelled > 0;  // a full page that changed something: look again
  }
  return outcome;
}

int SchedulingService::cancel_reviews_of_ended_consultations(TimePoint now) {
  constexpr int kPage = 100;
  int cancelled = 0;
  for (bool more = true; more;) {
    int done = 0;
    std::size_t listed = 0;
    store_.write([&](store::Tx& tx) {
      const auto ids = tx.list_ended_consultations_with_booked_reviews(now, kPage);
      listed = ids.size();
      done = 0;
      std::vector<Notification> notifications;  // nobody is connected yet; the notices stay
      for (const auto& id : ids) {
        const auto consultation = tx.find_consultation(id, store::SealedTexts::skip);
        if (!consultation) continue;
        cancel_reviews_of_ended(tx, id, state_name(consultation->state), now, notifications);
        ++done;
      }
      return done > 0;
    });
    cancelled += done;
    more = listed == kPage && done > 0;  // a full page that changed something: look again
  }
  return cancelled;
}

Status SchedulingService::reviewer_can_open(store::Tx& tx, const store::User& specialist,
                                            const std::string& consultation_id) const {
  const auto access = consultations_.access(tx, Caller{specialist, {}, {}, {}}, consultation_id);
  if (access && decide(access->record.state, ConsultationAction::read, access->actor)) {
    return ok();
  }
  return make_error(Code::failed_precondition,
                    "the slot's specialist takes no part in this consultation; invite them first");
}

Result<Outcome<Appointment>> SchedulingService::reschedule(const Caller& caller,
                                                           const std::string& appointment_id,
                                                           const std::string& new_slot_id) {
  return change(
      caller, appointment_id, "appointment.reschedule",
      [&](store::Tx& tx, Appointment& appointment, std::string& notice,
          std::string& also) -> Status {
        const auto now = clock_.now();
        if (new_slot_id == appointment.slot_id) {
          return make_error(Code::invalid_argument, "the appointment is already in that slot");
        }
        const auto slot = tx.find_slot(new_slot_id);
        if (!slot) return slot_not_found();
        const auto consultation =
            tx.find_consultation(appointment.consultation_id, store::SealedTexts::skip);
        const auto specialist = tx.find_user(slot->specialist_id);
        if (!consultation || !specialist || specialist->disabled ||
            !reachable_organizations(tx, consultation->requesting_organization_id)
                 .count(specialist->organization_id)) {
          return slot_not_found();
        }
        if (is_read_only(consultation->state)) {
          return make_error(Code::failed_precondition,
                            "the consultation is " + std::string(state_name(consultation->state)));
        }
        if (slot->starts_at <= now) {
          return make_error(Code::failed_precondition, "the slot has already started");
        }
        if (slot->specialist_id != appointment.specialist_id) {
          if (auto reviewer = reviewer_can_open(tx, *specialist, appointment.consultation_id);
              !reviewer) {
            return reviewer;
          }
        }
        if (tx.has_booked_appointment(new_slot_id, appointment.consultation_id)) {
          return make_error(Code::already_exists,
                            "the consultation already has a review booked in that slot");
        }
        const auto clashes = tx.list_overlapping_appointments(
            slot->specialist_id, slot->starts_at, slot->ends_at, new_slot_id);
        if (std::any_of(clashes.begin(), clashes.end(),
                        [&](const auto& other) { return other.id != appointment.id; })) {
          return make_error(Code::failed_precondition,
                            "the specialist already has a review at that time");
        }
        // Take the new place first: when the slot is full nothing has been changed yet.
        if (!tx.take_slot_place(new_slot_id)) return slot_full();
        release_place(tx, appointment.slot_id);
        if (appointment.specialist_id != slot->specialist_id) also = appointment.specialist_id;
        appointment.slot_id = new_slot_id;
        appointment.specialist_id = slot->specialist_id;
        appointment.starts_at = slot->starts_at;
        appointment.ends_at = slot->ends_at;
        tx.clear_sent_reminders(appointment.id);  // the new time gets its own reminders
        appointment.next_reminder_at =
            next_reminder_time(slot->starts_at, now, {}, options_.reminders);
        notice = "Review moved";
        return ok();
      });
}

Result<std::vector<Appointment>> SchedulingService::list_appointments(
    const Caller& caller, std::optional<TimePoint> from, std::optional<TimePoint> to) {
  if (caller.user.role == store::Role::admin) {
    return make_error(Code::permission_denied, "administrators do not book reviews");
  }
  const auto now = clock_.now();
  store::AppointmentQuery query;
  query.user_id = caller.user.id;
  if (caller.user.role == store::Role::coordinator) {
    query.coordinator_organization_id = caller.user.organization_id;
  }
  // By default the list starts with the reviews under way: the one that began ten minutes ago is
  // the one both sides look for.
  query.from = from.value_or(now - std::chrono::minutes(max_slot_minutes));
  query.to = to.value_or((from ? *from : now) + kDefaultWindow);
  query.limit = kListLimit;
  if (query.to <= query.from) return make_error(Code::invalid_argument, "to must be after from");
  std::vector<Appointment> appointments;
  store_.read([&](store::Tx& tx) { appointments = tx.list_appointments(query); });
  if (!from) {
    std::erase_if(appointments, [&](const Appointment& appointment) {
      return appointment.ends_at <= now;
    });
  }
  for (auto& appointment : appointments) appointment = presented(std::move(appointment), now);
  return appointments;
}

// ---- background work --------------------------------------------------------------------------

int SchedulingService::extend_availability(TimePoint now) {
  const TimePoint until = now + options_.slot_horizon;
  // Roll forward a day at a time rather than on every tick.
  std::vector<std::string> specialists;
  store_.read([&](store::Tx& tx) {
    specialists = tx.list_specialists_expanded_before(until - std::chrono::days(1), 100);
  });
  int created = 0;
  for (const auto& specialist_id : specialists) {
    store_.write([&](store::Tx& tx) {
      const auto expanded_until = tx.find_rules_expanded_until(specialist_id);
      const TimePoint from = std::max(expanded_until.value_or(now), now);
      if (from >= until - std::chrono::days(1)) return false;  // another tick did it
      const auto stored = tx.list_specialist_slots(specialist_id, from - std::chrono::days(1));
      std::vector<SlotSpan> taken;
      for (const auto& slot : stored) taken.push_back(span_of(slot));
      for (const auto& record : tx.list_availability_rules(specialist_id)) {
        auto spans = expand_rule(from_record(record), from, until);
        if (!spans) continue;  // validated when published; a tz database change may refuse it
        for (const auto& span : *spans) {
          if (find_overlap(taken, span)) continue;  // a single slot published since wins
          if (!tx.insert_slot(new_slot(specialist_id, span, true))) continue;
          taken.push_back(span);
          ++created;
        }
      }
      tx.set_rules_expanded_until(specialist_id, until);
      return true;
    });
  }
  return created;
}

int SchedulingService::apply_reminder_policy(TimePoint now) {
  // Every appointment belongs to the consultation of some organisation, so the organisations'
  // listings together cover them all.
  std::set<std::string> seen;
  std::vector<std::string> upcoming;
  store_.read([&](store::Tx& tx) {
    for (const auto& organization : tx.list_organizations()) {
      store::AppointmentQuery query;
      query.coordinator_organization_id = organization.id;
      query.from = now;
      query.to = TimePoint::max();
      while (true) {
        const auto page = tx.list_appointments(query);
        for (const auto& appointment : page) {
          if (appointment.state == AppointmentState::booked && seen.insert(appointment.id).second) {
            upcoming.push_back(appointment.id);
          }
        }
        if (static_cast<int>(page.size()) < query.limit) break;
        // Resume at the last start; appointments sharing it come again and are skipped.
        if (page.back().starts_at == query.from) break;
        query.from = page.back().starts_at;
      }
    }
  });
  int changed = 0;
  for (const auto& id : upcoming) {
    store_.write([&](store::Tx& tx) {
      auto appointment = tx.find_appointment(id);
      if (!appointment || appointment->state != AppointmentState::booked) return false;
      const auto next = next_reminder_time(appointment->starts_at, now,
                                           from_minutes(tx.list_sent_reminders(id)),
                                           options_.reminders);
      if (next == appointment->next_reminder_at) return false;
      appointment->next_reminder_at = next;
      tx.update_appointment(*appointment);
      ++changed;
      return true;
    });
  }
  return changed;
}

int SchedulingService::queue_due_reminders(TimePoint now) {
  std::vector<Appointment> due;
  store_.read([&](store::Tx& tx) { due = tx.list_reminder_due_appointments(now, 200); });
  int queued = 0;
  for (const auto& candidate : due) {
    store_.write([&](store::Tx& tx) {
      auto appointment = tx.find_appointment(candidate.id);
      if (!appointment || appointment->state != AppointmentState::booked) return false;
      auto sent = from_minutes(tx.list_sent_reminders(appointment->id));
      const auto decision = due_reminders(appointment->starts_at, now, sent, options_.reminders);
      if (decision.send) {
        std::vector<std::string> recipients;
        for (const auto& p : tx.list_participants(appointment->consultation_id)) {
          append_unique(recipients, p.user_id);
        }
        append_unique(recipients, appointment->specialist_id);
        const int lead = static_cast<int>(decision.send->count());
        for (const auto& user_id : recipients) {
          tx.queue_reminder({user_id, appointment->id, lead, now});
        }
        ++queued;
      }
      tx.mark_reminders_sent(appointment->id, to_minutes(decision.mark_sent), now);
      sent.insert(sent.end(), decision.mark_sent.begin(), decision.mark_sent.end());
      appointment->next_reminder_at =
          next_reminder_time(appointment->starts_at, now, sent, options_.reminders);
      tx.update_appointment(*appointment);
      return true;
    });
  }
  return queued;
}

std::vector<std::string> SchedulingService::users_with_pending_reminders(const std::string& after,
                                                                        int limit) {
  std::vector<std::string> users;
  store_.read([&](store::Tx& tx) { users = tx.list_users_with_pending_reminders(after, limit); });
  return users;
}

int SchedulingService::drop_stale_reminders(TimePoint now) {
  int dropped = 0;
  store_.write([&](store::Tx& tx) {
    dropped = tx.delete_stale_pending_reminders(now);
    return dropped > 0;
  });
  return dropped;
}

std::vector<Notification> SchedulingService::take_pending_reminders(
    const std::vector<std::string>& user_ids, TimePoint now) {
  std::vector<Notification> notifications;
  if (user_ids.empty()) return notifications;
  // Every session start asks; almost always nothing is waiting, and a read costs no commit.
  bool waiting = false;
  store_.read([&](store::Tx& tx) {
    waiting = std::any_of(user_ids.begin(), user_ids.end(), [&](const std::string& user_id) {
      return !tx.list_pending_reminders(user_id).empty();
    });
  });
  if (!waiting) return notifications;
  store_.write([&](store::Tx& tx) {
    notifications.clear();
    bool changed = false;
    for (const auto& user_id : user_ids) {
      // Offline through two lead times (24 h, then 15 min), a user has two queued for the same
      // review; both would now say "starts in 10 minutes". One is sent, both are taken.
      std::set<std::string> reminded;
      for (const auto& pending : tx.list_pending_reminders(user_id)) {
        if (!tx.delete_pending_reminder(pending)) continue;
        changed = true;
        if (!reminded.insert(pending.appointment_id).second) continue;
        const auto appointment = tx.find_appointment(pending.appointment_id);
        if (!appointment || appointment->state != AppointmentState::booked ||
            appointment->starts_at <= now) {
          continue;  // cancelled or already started: a reminder is useless now
        }
        Notification reminder;
        reminder.kind = Notification::Kind::appointment_reminder;
        reminder.recipients = {user_id};
        reminder.appointment = *appointment;
        reminder.starts_in_seconds =
            std::chrono::duration_cast<std::chrono::seconds>(appointment->starts_at - now).count();
        notifications.push_back(std::move(reminder));
      }
    }
    return changed;
  });
  return notifications;
}

}  // namespace tmc::domain

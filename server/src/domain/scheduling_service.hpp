// Specialist review scheduling: published availability, slot listing, bookings and reminders.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "domain/consultation_service.hpp"
#include "domain/reminders.hpp"
#include "domain/scheduling.hpp"
#include "store/store.hpp"

namespace tmc::domain {

struct SchedulingOptions {
  // Rules are expanded into stored slot rows this far ahead (rolled forward by
  // extend_availability()).
  std::chrono::days slot_horizon = default_slot_horizon;
  ReminderPolicy reminders;
};

// publish_availability: rules replace the specialist's previous rules; single slots are added.
struct PublishAvailability {
  std::string specialist_id;  // empty = the caller
  std::vector<AvailabilityRule> rules;
  std::vector<SlotSpan> slots;
  // Replace the previous rules even when `rules` is empty (withdrawing them all).
  bool withdraw_rules = false;
};

struct SlotFilter {
  std::string specialty;
  std::string specialist_id;
  std::optional<TimePoint> from;  // unset = now
  std::optional<TimePoint> to;    // unset = from + 30 days
};

// Thread-safe; every method blocks on the store, so call it from a worker thread. Failures
// follow ConsultationService: an unrelated consultation or appointment is NOT_FOUND; a related
// caller whose role may not do it is PERMISSION_DENIED; a full slot is ABORTED (the loser of a
// race for the last place); a slot or appointment in the wrong state is FAILED_PRECONDITION.
// Appointments are answered with the state the caller sees: BOOKED turns COMPLETED once ends_at
// has passed.
class SchedulingService {
 public:
  SchedulingService(store::Store& store, const Clock& clock, AuditHook& audit,
                    const ConsultationService& consultations, SchedulingOptions options);

  // Caller: a specialist for themselves or a coordinator of the specialist's organisation.
  // Expands the rules from now up to the horizon; all-or-nothing. When rules are given (or
  // withdraw_rules is set) they replace the specialist's previous rules: unbooked future slots
  // no longer offered are removed, booked ones are kept. Answers the created slots, sorted by
  // start. Errors: INVALID_ARGUMENT (malformed rule or slot, a single slot in the past, nothing
  // to publish, two new slots overlapping), ALREADY_EXISTS (a new slot overlaps a kept slot,
  // which the message names), NOT_FOUND (unknown specialist), PERMISSION_DENIED.
  Result<std::vector<store::SlotRecord>> publish(const Caller& caller,
                                                 const PublishAvailability& request);

  // Slots with free places of specialists at the caller's organisation or one paired with it,
  // starting in [from, to), sorted by start (at most 1000).
  Result<std::vector<store::SlotRecord>> list_slots(const Caller& caller, const SlotFilter& filter);

  // Caller: a participant of the consultation or a coordinator of its requesting organisation.
  Result<Outcome<store::Appointment>> book(const Caller& caller, const std::string& slot_id,
                                           const std::string& consultation_id);
  // Caller: who booked it, the reviewing specialist, or a coordinator of an involved
  // organisation.
  Result<Outcome<store::Appointment>> cancel(const Caller& caller,
                                             const std::string& appointment_id,
                                             const std::string& reason);
  // Atomic: the new slot's place is taken and the old one freed, or nothing changes.
  Result<Outcome<store::Appointment>> reschedule(const Caller& caller,
                                                 const std::string& appointment_id,
                                                 const std::string& new_slot_id);
  // Appointments starting in [from, to) that the caller books, reviews or takes part in (plus
  // their organisation's, for coordinators), sorted by start (at most 1000).
  Result<std::vector<store::Appointment>> list_appointments(const Caller& caller,
                                                            std::optional<TimePoint> from,
                                                            std::optional<TimePoint> to);

  // Inside the transaction that ended the consultation (ConsultationService::on_ended): each of
  // its BOOKED reviews not yet begun is cancelled as by cancel_appointment (its place freed, its
  // queued reminders dropped, a notice in the log, appointment_changed to those concerned).
  void cancel_reviews_of_ended(store::Tx& tx, const std::string& consultation_id,
                               std::string_view state, TimePoint now,
                               std::vector<Notification>& notifications) const;
  // The same for every consultation that has ended with BOOKED reviews still to come (they
  // ended before an ending consultation cancelled its reviews). Call at start-up. Returns how
  // many consultations had some.
  int cancel_reviews_of_ended_consultations(TimePoint now);
  // Inside the transaction of any other change of the consultation (ConsultationService::
  // on_changed): each BOOKED review not yet begun whose specialist can no longer open the case
  // (another specialist accepted the consultation it was on offer to them, they declined it, or
  // their account is disabled) is cancelled as above. Returns how many.
  int cancel_reviews_without_reviewer(store::Tx& tx, const std::string& consultation_id,
                                      TimePoint now,
                                      std::vector<Notification>& notifications) const;
  // The same for every BOOKED review still to come with a specialist whose account has been
  // disabled (by `tmc-admin user disable`, in another process). Call at start-up and
  // periodically; answers how many and the notifications to deliver (after the commit).
  Outcome<int> cancel_reviews_of_disabled_specialists(TimePoint now);

  // Rolls every specialist's rules forward so slots exist up to now + horizon (slots that would
  // clash with a slot published since are skipped). Returns the number of slots created.
  int extend_availability(TimePoint now);

  // Recomputes when each upcoming BOOKED appointment next needs a reminder decision under the
  // current lead times, so lead times changed in the configuration since the appointments were
  // booked apply to them too (a new, longer lead time is not missed). Call at start-up, before
  // queue_due_reminders(). Returns how many appointments changed.
  int apply_reminder_policy(TimePoint now);

  // Decides the reminders due at now, recording each (appointment, lead time) as handled and
  // queueing one pending reminder per recipient in the same transaction. Returns how many
  // appointments got a reminder. Safe to call repeatedly and concurrently.
  int queue_due_reminders(TimePoint now);
  // Users with queued reminders (at most limit).
  // Users with queued reminders whose id sorts after `after`, in id order (at most limit).
  std::vector<std::string> users_with_pending_reminders(const std::string& after = {},
                                                        int limit = 500);
  // Removes these users' queued reminders and answers the notifications to deliver (after the
  // commit); reminders of appointments cancelled or started meanwhile are dropped. Each queued
  // reminder is handed out once, whoever asks first.
  std::vector<Notification> take_pending_reminders(const std::vector<std::string>& user_ids,
                                                   TimePoint now);
  // Drops queued reminders no one will take in time (their appointment has started or is no
  // longer booked): those of users who did not sign in would otherwise stay queued for ever.
  // Returns how many.
  int drop_stale_reminders(TimePoint now);

 private:
  // apply changes the appointment and sets the notice's text, and `also` to someone who hears
  // of the change besides those concerned now.
  Result<Outcome<store::Appointment>> change(
      const Caller& caller, const std::string& appointment_id, const char* action,
      const std::function<Status(store::Tx&, store::Appointment&, std::string& notice,
                                 std::string& also)>& apply);
  // `also` hears of it too (the specialist a review was moved away from).
  Status add_notice(store::Tx& tx, const store::Appointment& appointment,
                    const std::string& text, TimePoint now,
                    std::vector<Notification>& notifications,
                    const std::string& also = {}) const;
  store::Appointment presented(store::Appointment appointment, TimePoint now) const;
  // Cancels a BOOKED appointment for the server (not a caller): its place freed, its queued
  // reminders dropped, the notice in the log. Throws StoreError when its consultation is gone.
  void cancel_booked(store::Tx& tx, store::Appointment& appointment, const std::string& notice,
                     TimePoint now, std::vector<Notification>& notifications) const;
  // FAILED_PRECONDITION unless the specialist can open the consultation they would review (a
  // participant, or a candidate it is on offer to): a review is booked with someone who can read
  // the case, and only they hear of it and are reminded.
  Status reviewer_can_open(store::Tx& tx, const store::User& specialist,
                           const std::string& consultation_id) const;
  // Frees a booked place of the slot. A rule slot its specialist's rules no longer give (kept
  // only for its bookings) does not reopen: its capacity shrinks with them, and it goes with
  // the last.
  void release_place(store::Tx& tx, const std::string& slot_id) const;
  void audit(const Caller& caller, const char* action, const std::string& id, bool allowed);
  // Records a booking or change: ids name the appointment and its consultation (which gives the
  // record its patient); a refusal of access is "denied", any other error "failed".
  void audit(const Caller& caller, const char* action, std::vector<std::string> ids,
             const Status& status);

  store::Store& store_;
  const Clock& clock_;
  AuditHook& audit_;
  const ConsultationService& consultations_;
  SchedulingOptions options_;
};

}  // namespace tmc::domain

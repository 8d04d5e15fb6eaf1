// Scheduling service against a real store (SQLite, or PostgreSQL with TMC_TEST_STORE=postgres)
// and a manual clock: bookings and reminders, including reminders that fall due across a store
// restart; and, needing the same manual clock, the dating of a post queued behind other writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/keyring.hpp"
#include "domain/consultation_service.hpp"
#include "domain/directory_service.hpp"
#include "domain/scheduling_service.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_server.hpp"

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;
using store::Role;

// 2026-12-01T00:00Z, a Tuesday.
const TimePoint kStart = TimePoint(std::chrono::sys_days(std::chrono::year(2026) /
                                                         std::chrono::December / 1)
                                       .time_since_epoch());

// The store of one lifetime: tmc.db in dir, or the test's schema when there is one.
std::unique_ptr<store::Store> open_store(const std::filesystem::path& dir,
                                         const testing::PostgresTestSchema* schema) {
  if (schema != nullptr) {
    store::PostgresOptions options;
    options.conninfo = schema->conninfo();
    options.schema = schema->name();
    return store::open_postgres_store(options);
  }
  store::SqliteOptions options;
  options.path = (dir / "tmc.db").string();
  return store::open_sqlite_store(options);
}

// One "server lifetime": a store and the services over it.
struct Node {
  // Reminders at 24 h and 15 min unless `reminders` says otherwise (as the configuration may).
  Node(std::unique_ptr<store::Store> opened, const Clock& clock, const crypto::KeyRing& keys,
       ReminderPolicy reminders = {})
      : vault(keys), store(std::move(opened)) {
    consultations = std::make_unique<ConsultationService>(*store, clock, audit, vault,
                                                          DeadlinePolicy{});
    SchedulingOptions scheduling_options;
    scheduling_options.reminders = std::move(reminders);
    scheduling = std::make_unique<SchedulingService>(*store, clock, audit, *consultations,
                                                     scheduling_options);
    consultations->on_ended([this](store::Tx& tx, const std::string& consultation_id,
                                   std::string_view state, TimePoint now,
                                   std::vector<Notification>& notifications) {
      scheduling->cancel_reviews_of_ended(tx, consultation_id, state, now, notifications);
    });  // as the server wires them
    consultations->on_changed([this](store::Tx& tx, const std::string& consultation_id,
                                     std::string_view, TimePoint now,
                                     std::vector<Notification>& notifications) {
      scheduling->cancel_reviews_without_reviewer(tx, consultation_id, now, notifications);
    });
  }

  Caller caller(const std::string& username) {
    Caller caller;
    store->read([&](store::Tx& tx) { caller.user = *tx.find_user_by_username(username); });
    return caller;
  }

  NullAuditHook audit;
  Vault vault;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ConsultationService> consultations;
  std::unique_ptr<SchedulingService> scheduling;
};

class ReminderServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.emplace(open_store(dir_.path(), schema_.get()), clock_, keys_);
    DirectoryService directory(*node_->store, clock_, node_->audit);
    ASSERT_TRUE(directory.add_organization(
        {"county", "County", store::OrganizationKind::county_hospital, "K", "Asia/Urumqi"}));
    ASSERT_TRUE(directory.add_organization(
        {"partner", "Partner", store::OrganizationKind::partner_hospital, "S", "Asia/Shanghai"}));
    ASSERT_TRUE(directory.add_pairing("county", "partner"));
    ASSERT_TRUE(directory.add_user({"clin", "Dr. Clin", Role::clinician, "county", {}}, "x"));
    ASSERT_TRUE(directory.add_user({"eye", "Dr. Eye", Role::specialist, "partner",
                                    {"ophthalmology"}}, "x"));
    OpenConsultation open;
    open.urgency = store::Urgency::routine;
    open.specialty = "ophthalmology";
    open.patient_reference = "P-1";
    open.question = "Retinal detachment?";
    auto opened = node_->consultations->open(node_->caller("clin"), open);
    ASSERT_TRUE(opened) << opened.error().message;
    consultation_id_ = opened->value.record.id;
  }

  // Books a 30-minute review starting at starts_at; answers the appointment.
  store::Appointment book_at(TimePoint starts_at) {
    PublishAvailability publish;
    publish.slots.push_back({starts_at, starts_at + 30min, 1});
    auto slots = node_->scheduling->publish(node_->caller("eye"), publish);
    EXPECT_TRUE(slots) << slots.error().message;
    auto booked = node_->scheduling->book(node_->caller("clin"), slots->front().id,
                                          consultation_id_);
    EXPECT_TRUE(booked) << booked.error().message;
    return booked->value;
  }

  std::vector<Notification> take(TimePoint now) {
    return node_->scheduling->take_pending_reminders(
        {node_->caller("clin").user.id, node_->caller("eye").user.id}, now);
  }

  // A new server lifetime on the same store; `reminders` as configured for it.
  void restart(ReminderPolicy reminders = {}) {
    node_.reset();
    node_.emplace(open_store(dir_.path(), schema_.get()), clock_, keys_, std::move(reminders));
  }

  // One rule: Tuesdays from 14:00 to local_end Beijing time, 30-minute slots of capacity places.
  static PublishAvailability tuesday_afternoons(const std::string& local_end, int capacity) {
    AvailabilityRule rule;
    rule.weekdays = {Weekday::tuesday};
    rule.local_start = "14:00";
    rule.local_end = local_end;
    rule.time_zone = "Asia/Shanghai";
    rule.capacity = capacity;
    PublishAvailability rules;
    rules.rules.push_back(rule);
    return rules;
  }

  // Every stored slot of the specialist ending after now.
  std::vector<store::SlotRecord> stored_slots(const std::string& specialist_id) {
    std::vector<store::SlotRecord> slots;
    node_->store->read(
        [&](store::Tx& tx) { slots = tx.list_specialist_slots(specialist_id, clock_.now()); });
    return slots;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PostgresTestSchema> schema_ =
      testing::postgres_requested() ? std::make_unique<testing::PostgresTestSchema>("it_")
                                    : nullptr;
  ManualClock clock_{kStart};
  crypto::KeyRing keys_ = crypto::KeyRing::generate();
  std::optional<Node> node_;
  std::string consultation_id_;

  // Keeps the store's writer busy until released, then runs then() on it; returns once the
  // writer is held, so that writes queued from now on wait behind it.
  void hold_writer(std::future<void> released, std::function<void()> then) {
    std::promise<void> holding;
    node_->store->write_async(
        [&holding, released = std::make_shared<std::future<void>>(std::move(released)),
         then = std::move(then)](store::Tx&) {
          holding.set_value();
          released->wait();
          then();
          return false;
        },
        [](bool, std::exception_ptr) {});
    holding.get_future().wait();
  }
};

TEST_F(ReminderServiceTest, EachLeadTimeIsDeliveredOnceToEveryParticipant) {
  const auto starts = kStart + 48h;
  const auto appointment = book_at(starts);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
  EXPECT_TRUE(take(clock_.now()).empty());

  clock_.set(starts - 24h);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto first = take(clock_.now());
  ASSERT_EQ(first.size(), 2u);  // the clinician and the specialist
  for (const auto& reminder : first) {
    EXPECT_EQ(reminder.kind, Notification::Kind::appointment_reminder);
    EXPECT_EQ(reminder.appointment->id, appointment.id);
    EXPECT_EQ(reminder.starts_in_seconds, 24 * 3600);
  }
  EXPECT_NE(first[0].recipients, first[1].recipients);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now() + 1h), 0);
  EXPECT_TRUE(take(clock_.now()).empty());

  clock_.set(starts - 15min);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto second = take(clock_.now());
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].starts_in_seconds, 15 * 60);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now() + 1min), 0);
  EXPECT_TRUE(take(clock_.now()).empty());
}

TEST_F(ReminderServiceTest, OfflineUserGetsQueuedReminderLaterAndOnlyOnce) {
  const auto starts = kStart + 48h;
  book_at(starts);
  clock_.set(starts - 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  const auto clinician = node_->caller("clin").user.id;
  const auto specialist = node_->caller("eye").user.id;
  // Everyone with a queued reminder is found, page after page, whatever the page size.
  const auto [first, second] = std::minmax(clinician, specialist);
  using Users = std::vector<std::string>;
  EXPECT_EQ(node_->scheduling->users_with_pending_reminders("", 1), Users{first});
  EXPECT_EQ(node_->scheduling->users_with_pending_reminders(first, 1), Users{second});
  EXPECT_TRUE(node_->scheduling->users_with_pending_reminders(second, 1).empty());
  EXPECT_EQ(node_->scheduling->users_with_pending_reminders(), (Users{first, second}));
  // Only the clinician is online now.
  auto online = node_->scheduling->take_pending_reminders({clinician}, clock_.now());
  ASSERT_EQ(online.size(), 1u);
  EXPECT_EQ(online[0].recipients, std::vector<std::string>{clinician});
  // The specialist signs in an hour later.
  clock_.advance(1h);
  auto later = node_->scheduling->take_pending_reminders({specialist}, clock_.now());
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].starts_in_seconds, 23 * 3600);
  EXPECT_TRUE(node_->scheduling->take_pending_reminders({specialist}, clock_.now()).empty());
}

// Offline through both lead times, a user signing in is reminded of the review once, not once
// per lead time.
TEST_F(ReminderServiceTest, AUserOfflineThroughTwoLeadTimesIsRemindedOnce) {
  const auto starts = kStart + 48h;
  const auto appointment = book_at(starts);
  const auto specialist = node_->caller("eye").user.id;
  clock_.set(starts - 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  clock_.set(starts - 15min);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  clock_.set(starts - 10min);
  const auto reminders = node_->scheduling->take_pending_reminders({specialist}, clock_.now());
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(reminders[0].appointment->id, appointment.id);
  EXPECT_EQ(reminders[0].starts_in_seconds, 10 * 60);
  EXPECT_TRUE(node_->scheduling->take_pending_reminders({specialist}, clock_.now()).empty());
}

// Ten minutes into a review: the default list of appointments shows it (both sides look for it
// then), and a slot that has begun is not offered as free, whatever window is asked for.
TEST_F(ReminderServiceTest, TheReviewUnderWayIsListedAndASlotThatBeganIsNotFree) {
  const auto starts = kStart + 48h;
  PublishAvailability publish;
  publish.slots.push_back({starts, starts + 30min, 2});
  publish.slots.push_back({starts + 1h, starts + 90min, 1});
  auto slots = node_->scheduling->publish(node_->caller("eye"), publish);
  ASSERT_TRUE(slots) << slots.error().message;
  const auto& begun = slots->at(0);
  const auto& later = slots->at(1);
  auto booked = node_->scheduling->book(node_->caller("clin"), begun.id, consultation_id_);
  ASSERT_TRUE(booked) << booked.error().message;

  clock_.set(starts + 10min);
  for (const char* username : {"clin", "eye"}) {
    const auto listed = node_->scheduling->list_appointments(node_->caller(username), {}, {});
    ASSERT_TRUE(listed) << listed.error().message;
    ASSERT_EQ(listed->size(), 1u) << username;
    EXPECT_EQ(listed->front().id, booked->value.id);
  }
  SlotFilter filter;
  filter.from = starts - 1h;
  const auto free = node_->scheduling->list_slots(node_->caller("clin"), filter);
  ASSERT_TRUE(free) << free.error().message;
  ASSERT_EQ(free->size(), 1u);
  EXPECT_EQ(free->front().id, later.id);
  filter.to = starts + 20min;  // a window over by now lists nothing, and is no error
  const auto past = node_->scheduling->list_slots(node_->caller("clin"), filter);
  ASSERT_TRUE(past) << past.error().message;
  EXPECT_TRUE(past->empty());

  clock_.set(starts + 40min);  // over: no longer listed by default
  const auto after = node_->scheduling->list_appointments(node_->caller("clin"), {}, {});
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
}

// Reminders queued for users who never sign in are dropped once their review has started, so
// the queue holds only what can still be delivered.
TEST_F(ReminderServiceTest, QueuedRemindersNobodyTookAreDroppedWhenTheReviewStarts) {
  const auto starts = kStart + 48h;
  book_at(starts);
  const auto later = book_at(starts + 1h);
  clock_.set(starts - 23h);  // both within a day
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 2);
  EXPECT_EQ(node_->scheduling->drop_stale_reminders(clock_.now()), 0);
  EXPECT_EQ(node_->scheduling->users_with_pending_reminders().size(), 2u);

  clock_.set(starts);  // the first review begins; the second is an hour away
  EXPECT_EQ(node_->scheduling->drop_stale_reminders(clock_.now()), 2);
  for (const auto& username : {"clin", "eye"}) {
    const auto user_id = node_->caller(username).user.id;
    std::vector<store::PendingReminder> queued;
    node_->store->read([&](store::Tx& tx) { queued = tx.list_pending_reminders(user_id); });
    ASSERT_EQ(queued.size(), 1u) << username;
    EXPECT_EQ(queued[0].appointment_id, later.id);
  }
  EXPECT_EQ(take(clock_.now()).size(), 2u);
}

// A consultation that ended while an earlier version ran kept its booked reviews: the start-up
// repair cancels them as the end of the consultation would now.
TEST_F(ReminderServiceTest, ReviewsOfConsultationsThatEndedEarlierAreCancelledAtStartUp) {
  const auto appointment = book_at(kStart + 48h);
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_ended_consultations(clock_.now()), 0);
  node_->store->write([&](store::Tx& tx) {
    auto record = tx.find_consultation(consultation_id_, store::SealedTexts::skip);
    if (!record) return false;
    record->state = store::ConsultationState::cancelled;  // as the older version left it
    tx.update_consultation(*record);
    return true;
  });
  restart();
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_ended_consultations(clock_.now()), 1);
  std::optional<store::Appointment> stored;
  node_->store->read([&](store::Tx& tx) { stored = tx.find_appointment(appointment.id); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, store::AppointmentState::cancelled);
  const auto slots = stored_slots(node_->caller("eye").user.id);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].booked, 0);  // the place is free again
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_ended_consultations(clock_.now()), 0);
}

// The requester cancels while the review is under way: the review is left to finish.
TEST_F(ReminderServiceTest, EndingTheConsultationKeepsAReviewThatHasBegun) {
  const auto begun = book_at(kStart + 48h);
  const auto later = book_at(kStart + 72h);
  clock_.set(kStart + 48h + 10min);
  ASSERT_TRUE(node_->consultations->cancel(node_->caller("clin"), consultation_id_, "moved"));
  std::optional<store::Appointment> first;
  std::optional<store::Appointment> second;
  node_->store->read([&](store::Tx& tx) {
    first = tx.find_appointment(begun.id);
    second = tx.find_appointment(later.id);
  });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->state, store::AppointmentState::booked);  // COMPLETED once it has ended
  EXPECT_EQ(second->state, store::AppointmentState::cancelled);
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_ended_consultations(clock_.now()), 0);
}

// A cancelled booking frees its place only up to the capacity the rule gives now.
TEST_F(ReminderServiceTest, AFreedPlaceRespectsTheRulesLoweredCapacity) {
  const auto eye = node_->caller("eye");
  const auto clin = node_->caller("clin");
  PublishAvailability rules = tuesday_afternoons("15:00", 2);
  auto slots = node_->scheduling->publish(eye, rules);
  ASSERT_TRUE(slots) << slots.error().message;
  const auto slot_id = slots->front().id;
  std::vector<std::string> consultations{consultation_id_};
  for (const char* patient : {"P-2", "P-3"}) {
    OpenConsultation open;
    open.urgency = store::Urgency::routine;
    open.specialty = "ophthalmology";
    open.patient_reference = patient;
    open.question = "Glaucoma follow-up?";
    auto opened = node_->consultations->open(clin, open);
    ASSERT_TRUE(opened) << opened.error().message;
    consultations.push_back(opened->value.record.id);
  }
  auto first = node_->scheduling->book(clin, slot_id, consultations[0]);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(node_->scheduling->book(clin, slot_id, consultations[1]));

  rules.rules[0].capacity = 1;  // the specialist now takes one review at a time
  ASSERT_TRUE(node_->scheduling->publish(eye, rules));
  ASSERT_TRUE(node_->scheduling->cancel(clin, first->value.id, {}));
  const auto refused = node_->scheduling->book(clin, slot_id, consultations[2]);
  ASSERT_FALSE(refused) << "a second review in a slot the rules give one place";
  EXPECT_EQ(refused.error().code, Code::aborted);
  const auto stored = stored_slots(eye.user.id);
  const auto slot = std::find_if(stored.begin(), stored.end(),
                                 [&](const store::SlotRecord& s) { return s.id == slot_id; });
  ASSERT_NE(slot, stored.end());
  EXPECT_EQ(slot->capacity, 1);
  EXPECT_EQ(slot->booked, 1);
}

// The review was booked with a specialist of another partner hospital while the consultation
// was on offer there too; once a specialist of the first hospital accepts, that specialist can no
// longer open the case and the review is off. They hear of it, and the accepting hospital's
// coordinator, whose organisation is involved, sees that it is no longer booked.
TEST_F(ReminderServiceTest, AReviewAtAnotherHospitalEndsWhenTheOfferThereIsWithdrawn) {
  DirectoryService directory(*node_->store, clock_, node_->audit);
  ASSERT_TRUE(directory.add_organization({"second", "Second Partner",
                                          store::OrganizationKind::partner_hospital, "J",
                                          "Asia/Shanghai"}));
  ASSERT_TRUE(directory.add_pairing("county", "second"));
  ASSERT_TRUE(directory.add_user({"eye2", "Dr. Eye II", Role::specialist, "second",
                                  {"ophthalmology"}}, "x"));
  ASSERT_TRUE(directory.add_user({"coord", "Coordinator", Role::coordinator, "partner", {}}, "x"));
  // Offered to both hospitals: booked with eye2 while on offer, then accepted by eye.
  OpenConsultation open;
  open.urgency = store::Urgency::routine;
  open.specialty = "ophthalmology";
  open.patient_reference = "P-2";
  open.question = "Second eye?";
  const auto opened = node_->consultations->open(node_->caller("clin"), open);
  ASSERT_TRUE(opened) << opened.error().message;
  const auto consultation_id = opened->value.record.id;
  PublishAvailability publish;
  publish.slots.push_back({kStart + 48h, kStart + 48h + 30min, 1});
  auto slots = node_->scheduling->publish(node_->caller("eye2"), publish);
  ASSERT_TRUE(slots) << slots.error().message;
  auto booked = node_->scheduling->book(node_->caller("clin"), slots->front().id, consultation_id);
  ASSERT_TRUE(booked) << booked.error().message;
  auto accepted = node_->consultations->accept(node_->caller("eye"), consultation_id);
  ASSERT_TRUE(accepted) << accepted.error().message;
  const auto eye2 = node_->caller("eye2").user.id;
  EXPECT_TRUE(std::any_of(
      accepted->notifications.begin(), accepted->notifications.end(), [&](const Notification& n) {
        return n.kind == Notification::Kind::appointment_changed &&
               n.appointment->id == booked->value.id &&
               n.appointment->state == store::AppointmentState::cancelled &&
               std::find(n.recipients.begin(), n.recipients.end(), eye2) != n.recipients.end();
      }));
  const auto cancelled = node_->scheduling->cancel(node_->caller("coord"), booked->value.id, {});
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error().code, Code::failed_precondition) << cancelled.error().message;
}

// A review is booked, or moved, only with a specialist who can open the case: otherwise they
// would be told of, and reminded of, a consultation they cannot read.
TEST_F(ReminderServiceTest, AReviewIsBookedOnlyWithASpecialistWhoCanOpenTheCase) {
  DirectoryService directory(*node_->store, clock_, node_->audit);
  ASSERT_TRUE(directory.add_user({"derm", "Dr. Derm", Role::specialist, "partner",
                                  {"dermatology"}}, "x"));
  ASSERT_TRUE(directory.add_user({"eye2", "Dr. Eye II", Role::specialist, "partner",
                                  {"ophthalmology"}}, "x"));
  const auto slot_of = [&](const char* specialist, TimePoint starts_at) {
    PublishAvailability publish;
    publish.slots.push_back({starts_at, starts_at + 30min, 1});
    auto slots = node_->scheduling->publish(node_->caller(specialist), publish);
    EXPECT_TRUE(slots) << slots.error().message;
    return slots->front().id;
  };
  const auto derm_slot = slot_of("derm", kStart + 48h);
  auto refused = node_->scheduling->book(node_->caller("clin"), derm_slot, consultation_id_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::failed_precondition);
  EXPECT_NE(refused.error().message.find("invite them first"), std::string::npos);

  ASSERT_TRUE(node_->consultations->accept(node_->caller("eye"), consultation_id_));
  const auto booked = book_at(kStart + 24h);
  const auto moved = node_->scheduling->reschedule(node_->caller("clin"), booked.id, derm_slot);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, Code::failed_precondition);
  // Invited, a colleague of the consulted hospital can be booked.
  const auto eye2_slot = slot_of("eye2", kStart + 72h);
  EXPECT_FALSE(node_->scheduling->reschedule(node_->caller("clin"), booked.id, eye2_slot));
  const auto invited = node_->consultations->invite(node_->caller("eye"), consultation_id_,
                                                    node_->caller("eye2").user.id);
  ASSERT_TRUE(invited) << invited.error().message;
  EXPECT_TRUE(node_->scheduling->reschedule(node_->caller("clin"), booked.id, eye2_slot));
}

// A review booked with a specialist the consultation was on offer to is off once they can no
// longer open the case: when they decline it, or another specialist accepts it. Those concerned
// hear of it, the log says why, the place is free again; a review that has begun is left to
// finish, and the accepting specialist's own review stands.
TEST_F(ReminderServiceTest, AReviewIsCancelledWhenItsSpecialistLosesTheCase) {
  DirectoryService directory(*node_->store, clock_, node_->audit);
  for (const char* name : {"eye2", "eye3"}) {
    ASSERT_TRUE(directory.add_user({name, std::string("Dr. ") + name, Role::specialist, "partner",
                                    {"ophthalmology"}}, "x"));
  }
  const auto clin = node_->caller("clin");
  OpenConsultation open;
  open.urgency = store::Urgency::routine;
  open.specialty = "ophthalmology";
  open.patient_reference = "P-3";
  open.question = "Macular hole?";
  auto opened = node_->consultations->open(clin, open);  // offered to eye, eye2 and eye3
  ASSERT_TRUE(opened) << opened.error().message;
  const auto id = opened->value.record.id;
  const auto review_with = [&](const char* specialist, TimePoint starts_at) {
    PublishAvailability publish;
    publish.slots.push_back({starts_at, starts_at + 30min, 1});
    auto slots = node_->scheduling->publish(node_->caller(specialist), publish);
    EXPECT_TRUE(slots) << slots.error().message;
    auto booked = node_->scheduling->book(clin, slots->front().id, id);
    EXPECT_TRUE(booked) << booked.error().message;
    return booked->value;
  };
  const auto begun = review_with("eye2", kStart + 1h);
  const auto with_eye2 = review_with("eye2", kStart + 48h);
  const auto with_eye3 = review_with("eye3", kStart + 50h);
  const auto with_eye = review_with("eye", kStart + 52h);
  const auto state_of = [&](const store::Appointment& appointment) {
    std::optional<store::Appointment> stored;
    node_->store->read([&](store::Tx& tx) { stored = tx.find_appointment(appointment.id); });
    return stored ? stored->state : store::AppointmentState::unspecified;
  };
  const auto place_taken = [&](const store::Appointment& appointment) {
    int booked = -1;
    node_->store->read([&](store::Tx& tx) { booked = tx.find_slot(appointment.slot_id)->booked; });
    return booked == 1;
  };
  const auto cancelled_for = [](const std::vector<Notification>& notifications,
                                const store::Appointment& appointment) {
    return std::find_if(notifications.begin(), notifications.end(), [&](const Notification& n) {
      return n.kind == Notification::Kind::appointment_changed && n.appointment &&
             n.appointment->id == appointment.id &&
             n.appointment->state == store::AppointmentState::cancelled;
    });
  };

  auto declined = node_->consultations->decline(node_->caller("eye3"), id, "on leave");
  ASSERT_TRUE(declined) << declined.error().message;
  EXPECT_EQ(state_of(with_eye3), store::AppointmentState::cancelled);
  EXPECT_FALSE(place_taken(with_eye3));
  const auto told = cancelled_for(declined->notifications, with_eye3);
  ASSERT_NE(told, declined->notifications.end());
  for (const char* name : {"clin", "eye3"}) {
    const auto user_id = node_->caller(name).user.id;
    EXPECT_NE(std::find(told->recipients.begin(), told->recipients.end(), user_id),
              told->recipients.end())
        << name;
  }
  EXPECT_EQ(state_of(with_eye2), store::AppointmentState::booked);

  clock_.set(kStart + 70min);  // the first review with eye2 is under way
  auto accepted = node_->consultations->accept(node_->caller("eye"), id);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(state_of(with_eye2), store::AppointmentState::cancelled);
  EXPECT_FALSE(place_taken(with_eye2));
  EXPECT_NE(cancelled_for(accepted->notifications, with_eye2), accepted->notifications.end());
  EXPECT_EQ(state_of(begun), store::AppointmentState::booked);
  EXPECT_EQ(state_of(with_eye), store::AppointmentState::booked);
  EXPECT_TRUE(place_taken(with_eye));

  // The log says why, and the consultation answered is not behind it.
  auto log = node_->consultations->sync(clin, id, 0, 100);
  ASSERT_TRUE(log) << log.error().message;
  std::vector<std::string> cancelled;
  for (const auto& entry : log->entries) {
    if (entry.body.kind == MessageBody::Kind::notice &&
        entry.body.text.find("Review cancelled") != std::string::npos) {
      cancelled.push_back(entry.body.subject_id + ": " + entry.body.text);
    }
  }
  ASSERT_EQ(cancelled.size(), 2u);
  EXPECT_EQ(cancelled[0].rfind(with_eye3.id + ": Review cancelled (the specialist no longer "
                               "takes part in the consultation) with Dr. eye3", 0), 0u)
      << cancelled[0];
  EXPECT_EQ(cancelled[1].rfind(with_eye2.id + ": Review cancelled", 0), 0u) << cancelled[1];
  EXPECT_EQ(accepted->value.record.last_seq, log->entries.back().seq);
}

// A specialist who has left (their account disabled, by tmc-admin in another process) reviews
// nothing more: the periodic check cancels their reviews still to come, queued reminders of them
// included, and the participants are told.
TEST_F(ReminderServiceTest, TheReviewsOfADisabledSpecialistAreCancelled) {
  ASSERT_TRUE(node_->consultations->accept(node_->caller("eye"), consultation_id_));
  const auto starts = kStart + 48h;
  const auto appointment = book_at(starts);
  clock_.set(starts - 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_disabled_specialists(clock_.now()).value, 0);

  DirectoryService directory(*node_->store, clock_, node_->audit);
  ASSERT_TRUE(directory.set_disabled("eye", true));
  const auto outcome = node_->scheduling->cancel_reviews_of_disabled_specialists(clock_.now());
  EXPECT_EQ(outcome.value, 1);
  const auto clinician = node_->caller("clin").user.id;
  EXPECT_TRUE(std::any_of(outcome.notifications.begin(), outcome.notifications.end(),
                          [&](const Notification& n) {
                            return n.kind == Notification::Kind::appointment_changed &&
                                   n.appointment->id == appointment.id &&
                                   n.appointment->state == store::AppointmentState::cancelled &&
                                   std::find(n.recipients.begin(), n.recipients.end(),
                                             clinician) != n.recipients.end();
                          }));
  EXPECT_TRUE(take(clock_.now()).empty());  // the reminder queued for it is dropped
  auto log = node_->consultations->sync(node_->caller("clin"), consultation_id_, 0, 100);
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_NE(log->entries.back().body.text.find("Review cancelled (the specialist is no longer "
                                               "available) with Dr. Eye"),
            std::string::npos)
      << log->entries.back().body.text;
  EXPECT_EQ(node_->scheduling->cancel_reviews_of_disabled_specialists(clock_.now()).value, 0);
}

// (A consultation's log, on the same store and clock.) posted_at is "when the server committed
// it": a post queued behind other writes is dated when the writer stores it, so posted_at never
// falls as seq rises.
TEST_F(ReminderServiceTest, APostIsDatedWhenTheWriterStoresIt) {
  ASSERT_TRUE(node_->consultations->accept(node_->caller("eye"), consultation_id_));
  std::promise<void> release;
  hold_writer(release.get_future(), [] {});
  std::promise<ConsultationService::PostResult> posted;
  MessageBody body;
  body.text = "Swelling since noon.";
  node_->consultations->post_message_async(
      node_->caller("clin"), consultation_id_, "m-1", body, nullptr,
      [&](std::exception_ptr, ConsultationService::PostResult result) {
        posted.set_value(std::move(result));
      });
  clock_.advance(5s);
  release.set_value();
  const auto result = posted.get_future().get();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->has_value()) << result->error().message;
  EXPECT_EQ((*result)->value.posted_at, kStart + 5s);
}

// A booking is decided when the writer runs it: queued behind other writes (or another node's
// transaction) until its slot has begun, it is refused like any booking of a begun slot.
TEST_F(ReminderServiceTest, ABookingQueuedUntilItsSlotBeganIsRefused) {
  const auto starts = kStart + 1h;
  PublishAvailability publish;
  publish.slots.push_back({starts, starts + 30min, 1});
  auto slots = node_->scheduling->publish(node_->caller("eye"), publish);
  ASSERT_TRUE(slots) << slots.error().message;
  std::promise<void> release;
  // The queue ahead takes until the slot has begun.
  hold_writer(release.get_future(), [&] { clock_.set(starts + 1min); });
  const auto clinician = node_->caller("clin");
  std::promise<void> calling;
  auto booked = std::async(std::launch::async, [&] {
    calling.set_value();
    return node_->scheduling->book(clinician, slots->front().id, consultation_id_);
  });
  calling.get_future().wait();
  release.set_value();
  const auto result = booked.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "the slot has already started");
}

// Two rules that clash only from a date past the horizon are refused as two that clash now are:
// otherwise the later one's slots would be cut short unannounced when availability rolls on.
TEST_F(ReminderServiceTest, RulesThatClashOnlyPastTheHorizonAreRefused) {
  auto rules = tuesday_afternoons("16:00", 1);  // 14:00-16:00
  auto later = tuesday_afternoons("17:00", 1).rules.front();
  later.local_start = "15:00";       // 15:00-17:00
  later.valid_from = "2027-09-07";  // a Tuesday some 40 weeks on, past the 8-week horizon
  rules.rules.push_back(later);
  const auto refused = node_->scheduling->publish(node_->caller("eye"), rules);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::invalid_argument);
  EXPECT_NE(refused.error().message.find("overlapping"), std::string::npos)
      << refused.error().message;
  rules.rules.back().local_start = "16:00";  // back to back: no clash
  EXPECT_TRUE(node_->scheduling->publish(node_->caller("eye"), rules));
}

TEST_F(ReminderServiceTest, RestartBetweenDecisionAndDeliveryDeliversExactlyOnce) {
  const auto starts = kStart + 48h;
  book_at(starts);
  clock_.set(starts - 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  restart();  // nothing was delivered before the "crash"
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0) << "decided twice";
  EXPECT_EQ(take(clock_.now()).size(), 2u);
  restart();
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
  EXPECT_TRUE(take(clock_.now()).empty());
}

TEST_F(ReminderServiceTest, DowntimeOverBothLeadTimesSendsOnlyTheNearestOne) {
  const auto starts = kStart + 48h;
  book_at(starts);
  restart();
  clock_.set(starts - 10min);  // the server was down at both due times
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto reminders = take(clock_.now());
  ASSERT_EQ(reminders.size(), 2u);
  EXPECT_EQ(reminders[0].starts_in_seconds, 10 * 60);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
}

TEST_F(ReminderServiceTest, CancelledAppointmentDropsItsQueuedReminders) {
  const auto starts = kStart + 48h;
  const auto appointment = book_at(starts);
  clock_.set(starts - 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto cancelled = node_->scheduling->cancel(node_->caller("clin"), appointment.id, "");
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  EXPECT_EQ(cancelled->value.state, store::AppointmentState::cancelled);
  EXPECT_TRUE(take(clock_.now()).empty());
  clock_.set(starts - 15min);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
}

TEST_F(ReminderServiceTest, RescheduledAppointmentIsRemindedForItsNewTime) {
  const auto appointment = book_at(kStart + 48h);
  clock_.set(kStart + 24h);
  ASSERT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  PublishAvailability publish;
  publish.slots.push_back({kStart + 72h, kStart + 72h + 30min, 1});
  auto slots = node_->scheduling->publish(node_->caller("eye"), publish);
  ASSERT_TRUE(slots) << slots.error().message;
  auto moved = node_->scheduling->reschedule(node_->caller("eye"), appointment.id,
                                             slots->front().id);
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_TRUE(take(clock_.now()).empty()) << "the reminder for the old time is stale";
  clock_.set(kStart + 48h);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto reminders = take(clock_.now());
  ASSERT_EQ(reminders.size(), 2u);
  EXPECT_EQ(reminders[0].starts_in_seconds, 24 * 3600);
}

TEST_F(ReminderServiceTest, ChangedLeadTimesApplyToAppointmentsBookedBeforeARestart) {
  const auto starts = kStart + 72h;
  book_at(starts);  // under the default lead times, 24 h and 15 min
  // The deployment now reminds two days and one hour ahead; the server comes back with that.
  restart(ReminderPolicy{{48h, 60min}});
  node_->scheduling->apply_reminder_policy(clock_.now());  // as the server does at start-up

  clock_.set(starts - 48h);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto early = take(clock_.now());
  ASSERT_EQ(early.size(), 2u);
  EXPECT_EQ(early[0].starts_in_seconds, 48 * 3600);

  clock_.set(starts - 24h);  // no longer a lead time
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
  clock_.set(starts - 60min);
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 1);
  auto late = take(clock_.now());
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].starts_in_seconds, 3600);
  clock_.set(starts - 15min);  // dropped from the configuration
  EXPECT_EQ(node_->scheduling->queue_due_reminders(clock_.now()), 0);
}

TEST_F(ReminderServiceTest, ADisabledSpecialistsSlotIsNotBooked) {
  // Listings leave the slots of a specialist who has left out; an id kept from before must not
  // book them either.
  PublishAvailability publish;
  publish.slots.push_back({kStart + 50h, kStart + 50h + 30min, 1});
  auto slots = node_->scheduling->publish(node_->caller("eye"), publish);
  ASSERT_TRUE(slots) << slots.error().message;
  DirectoryService directory(*node_->store, clock_, node_->audit);
  ASSERT_TRUE(directory.set_disabled("eye", true));
  auto booked = node_->scheduling->book(node_->caller("clin"), slots->front().id, consultation_id_);
  ASSERT_FALSE(booked);
  EXPECT_EQ(booked.error().code, Code::not_found);
}

TEST_F(ReminderServiceTest, WithdrawingRulesRemovesUnbookedRuleSlotsOnly) {
  const auto eye = node_->caller("eye");
  const PublishAvailability rules = tuesday_afternoons("17:00", 2);
  auto rule_slots = node_->scheduling->publish(eye, rules);
  ASSERT_TRUE(rule_slots) << rule_slots.error().message;
  ASSERT_GT(rule_slots->size(), 6u);
  PublishAvailability single;
  single.slots.push_back({kStart + 30h, kStart + 30h + 45min, 1});  // a Wednesday
  auto single_slots = node_->scheduling->publish(eye, single);
  ASSERT_TRUE(single_slots) << single_slots.error().message;
  const auto booked_slot = rule_slots->at(1).id;
  const auto clin = node_->caller("clin");
  auto first = node_->scheduling->book(clin, booked_slot, consultation_id_);
  ASSERT_TRUE(first) << first.error().message;

  // Nothing given and nothing withdrawn is still a mistake.
  EXPECT_EQ(node_->scheduling->publish(eye, PublishAvailability{}).error().code,
            Code::invalid_argument);

  PublishAvailability withdraw;
  withdraw.withdraw_rules = true;
  auto withdrawn = node_->scheduling->publish(eye, withdraw);
  ASSERT_TRUE(withdrawn) << withdrawn.error().message;
  EXPECT_TRUE(withdrawn->empty());
  std::vector<std::string> left;
  for (const auto& slot : stored_slots(eye.user.id)) left.push_back(slot.id);
  EXPECT_EQ(left, (std::vector<std::string>{booked_slot, single_slots->front().id}));

  // The slot kept for its booking is not offered: its free place cannot be booked, and once its
  // booking is cancelled it is gone rather than open again.
  OpenConsultation open;
  open.urgency = store::Urgency::routine;
  open.specialty = "ophthalmology";
  open.patient_reference = "P-2";
  open.question = "Glaucoma follow-up?";
  auto other = node_->consultations->open(clin, open);
  ASSERT_TRUE(other) << other.error().message;
  const auto& other_id = other->value.record.id;
  const auto refusal = [&](const std::string& slot_id) {
    auto booked = node_->scheduling->book(clin, slot_id, other_id);
    return booked ? Code::ok : booked.error().code;
  };
  EXPECT_EQ(refusal(booked_slot), Code::aborted);
  ASSERT_TRUE(node_->scheduling->cancel(clin, first->value.id, "moved to another hospital"));
  left.clear();
  for (const auto& slot : stored_slots(eye.user.id)) left.push_back(slot.id);
  EXPECT_EQ(left, (std::vector<std::string>{single_slots->front().id}));
  EXPECT_EQ(refusal(booked_slot), Code::not_found);
  // A slot the rules still give reopens when its booking is cancelled.
  auto kept_rule = node_->scheduling->publish(eye, rules);
  ASSERT_TRUE(kept_rule) << kept_rule.error().message;
  const auto offered = kept_rule->at(1).id;
  auto again = node_->scheduling->book(clin, offered, other_id);
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_TRUE(node_->scheduling->cancel(clin, again->value.id, {}));
  EXPECT_TRUE(node_->scheduling->book(clin, offered, consultation_id_));
  ASSERT_TRUE(node_->scheduling->publish(eye, withdraw));

  // No rules left to roll forward, even well past the old horizon.
  clock_.set(kStart + 10 * 24h);
  EXPECT_EQ(node_->scheduling->extend_availability(clock_.now() + 70 * 24h), 0);
}

}  // namespace
}  // namespace tmc::domain

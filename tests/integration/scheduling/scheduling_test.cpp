// Scheduling over real TLS: rules to UTC slots, listing, the booking race, reschedule, reminders.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <future>
#include <set>

#include "api/codec.hpp"
#include "domain/directory_service.hpp"
#include "domain/scheduling.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = ::telemed::v1;
using namespace std::chrono_literals;
using Client = client::BlockingClient;

template <class Setter>
v1::ClientFrame frame_with(Setter&& set) {
  v1::ClientFrame frame;
  set(frame);
  return frame;
}

v1::AvailabilityRule tuesday_afternoons() {
  v1::AvailabilityRule rule;
  rule.add_weekdays(v1::WEEKDAY_TUESDAY);
  rule.set_local_start("14:00");
  rule.set_local_end("17:00");
  rule.set_time_zone("Asia/Shanghai");
  rule.set_slot_minutes(30);
  rule.set_capacity(1);
  return rule;
}

v1::Response publish(Client& client, const std::vector<v1::AvailabilityRule>& rules,
                     const std::vector<std::pair<TimePoint, TimePoint>>& slots = {},
                     std::uint32_t capacity = 1) {
  return client.call(frame_with([&](auto& f) {
    auto* request = f.mutable_publish_availability();
    for (const auto& rule : rules) *request->add_rules() = rule;
    for (const auto& [starts, ends] : slots) {
      auto* slot = request->add_slots();
      *slot->mutable_starts_at() = api::to_proto(starts);
      *slot->mutable_ends_at() = api::to_proto(ends);
      slot->set_capacity(capacity);
    }
  }));
}

// Publishes one single slot and answers it.
v1::Slot publish_slot(Client& client, TimePoint starts, std::chrono::minutes length = 30min) {
  auto response = publish(client, {}, {{starts, starts + length}});
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  EXPECT_EQ(response.publish_availability().slots_size(), 1);
  return response.publish_availability().slots(0);
}

std::vector<v1::Slot> list_slots(Client& client, const std::string& specialist_id) {
  auto response = client.call(frame_with([&](auto& f) {
    f.mutable_list_slots()->set_specialist_id(specialist_id);
    *f.mutable_list_slots()->mutable_to() = api::to_proto(
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()) +
        std::chrono::days(120));
  }));
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  return {response.list_slots().slots().begin(), response.list_slots().slots().end()};
}

bool listed(const std::vector<v1::Slot>& slots, const std::string& id) {
  return std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.id() == id; });
}

std::string open_consultation(Client& client) {
  auto response = client.call(frame_with([](auto& f) {
    auto* open = f.mutable_open_consultation();
    open->set_specialty("ophthalmology");
    open->set_urgency(v1::URGENCY_ROUTINE);
    open->mutable_patient()->set_reference("P-2026-0107");
    open->mutable_patient()->set_age_years(61);
    open->set_question("Retinal detachment after trauma: operate?");
  }));
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  return response.consultation().id();
}

v1::Response book(Client& client, const std::string& slot_id, const std::string& consultation) {
  return client.call(frame_with([&](auto& f) {
    f.mutable_book_review()->set_slot_id(slot_id);
    f.mutable_book_review()->set_consultation_id(consultation);
  }));
}

v1::Response reschedule(Client& client, const std::string& appointment_id,
                        const std::string& slot_id) {
  return client.call(frame_with([&](auto& f) {
    f.mutable_reschedule_appointment()->set_appointment_id(appointment_id);
    f.mutable_reschedule_appointment()->set_new_slot_id(slot_id);
  }));
}

v1::Response cancel(Client& client, const std::string& appointment_id) {
  return client.call(frame_with([&](auto& f) {
    f.mutable_cancel_appointment()->set_appointment_id(appointment_id);
    f.mutable_cancel_appointment()->set_reason("patient transferred");
  }));
}

std::vector<v1::Appointment> my_appointments(Client& client) {
  auto response = client.call(frame_with([](auto& f) { f.mutable_list_appointments(); }));
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  return {response.list_appointments().appointments().begin(),
          response.list_appointments().appointments().end()};
}

// Matches the appointment_changed event that says the appointment was cancelled.
std::function<bool(const v1::Event&)> is_cancellation_of(const std::string& appointment_id) {
  return [appointment_id](const v1::Event& e) {
    return e.has_appointment_changed() &&
           e.appointment_changed().appointment().id() == appointment_id &&
           e.appointment_changed().appointment().state() == v1::APPOINTMENT_STATE_CANCELLED;
  };
}

TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// A time a few days ahead, on a whole hour, that no Tuesday-afternoon rule slot touches.
TimePoint free_time(int days_ahead) {
  auto t = std::chrono::floor<std::chrono::hours>(now()) + std::chrono::days(days_ahead);
  const std::chrono::weekday day{std::chrono::floor<std::chrono::days>(t)};
  if (day == std::chrono::Tuesday) t += std::chrono::days(1);
  return t;
}

constexpr int kRacers = 20;

std::string racer(int i) { return "yengisar.racer" + std::to_string(i); }

// The demo network plus a second Yengisar clinician and one clinician per booking racer (each
// user's live sessions are limited).
std::vector<ExtraUser> extra_clinicians() {
  std::vector<ExtraUser> users{{"yengisar.clinician2", store::Role::clinician, "yengisar", {}}};
  for (int i = 0; i < kRacers; ++i) {
    users.push_back({racer(i), store::Role::clinician, "yengisar", {}});
  }
  return users;
}

class SchedulingTest : public ::testing::Test {
 protected:
  TestServer server_{{}, extra_clinicians()};
};

TEST_F(SchedulingTest, RuleInShanghaiYieldsUtcSlotsShownInUrumqiTime) {
  auto eye = server_.login("jining.eye1");
  auto response = publish(*eye, {tuesday_afternoons()});
  ASSERT_EQ(response.status().code(), v1::OK) << response.status().message();
  const auto& slots = response.publish_availability().slots();
  // Eight weeks ahead: 7 or 8 Tuesdays (today's may be over), six 30-minute slots each.
  ASSERT_GE(slots.size(), 6 * 7);
  ASSERT_LE(slots.size(), 6 * 9);
  TimePoint previous{};
  for (const auto& slot : slots) {
    const auto starts = api::from_proto(slot.starts_at());
    const auto ends = api::from_proto(slot.ends_at());
    EXPECT_GT(starts, previous) << "sorted by start";
    previous = starts;
    EXPECT_EQ(ends - starts, 30min);
    const auto day = std::chrono::floor<std::chrono::days>(starts);
    EXPECT_EQ(std::chrono::weekday(day), std::chrono::Tuesday);
    EXPECT_GE(starts - day, 6h);
    EXPECT_LE(ends - day, 9h);
    EXPECT_EQ(slot.specialist_id(), server_.user_id("jining.eye1"));
    EXPECT_EQ(slot.booked(), 0u);
  }
  // 14:00 in Shanghai is 06:00 UTC, which a viewer in Urumqi reads as 12:00.
  const auto first_of_day = std::find_if(slots.begin(), slots.end(), [](const auto& s) {
    const auto t = api::from_proto(s.starts_at());
    return t - std::chrono::floor<std::chrono::days>(t) == 6h;
  });
  ASSERT_NE(first_of_day, slots.end());
  const auto shown = domain::format_local(api::from_proto(first_of_day->starts_at()),
                                          "Asia/Urumqi");
  EXPECT_EQ(shown.substr(10, 7), " 12:00 ") << shown;
  EXPECT_NE(shown.find("UTC+06:00"), std::string::npos) << shown;

  // Listed for the paired county hospital, not for an unpaired one.
  auto yengisar = server_.login("yengisar.clinician");
  EXPECT_TRUE(listed(list_slots(*yengisar, server_.user_id("jining.eye1")), slots[0].id()));
  auto bachu = server_.login("bachu.clinician");
  EXPECT_TRUE(list_slots(*bachu, server_.user_id("jining.eye1")).empty());
}

TEST_F(SchedulingTest, ValidUntilCutsTheRule) {
  auto eye = server_.login("jining.eye2");
  auto rule = tuesday_afternoons();
  for (int day = 1; day <= 7; ++day) {
    if (day != v1::WEEKDAY_TUESDAY) rule.add_weekdays(static_cast<v1::Weekday>(day));
  }
  const auto last_day = domain::format_local(now() + std::chrono::days(10), "Asia/Shanghai")
                            .substr(0, 10);
  rule.set_valid_until(last_day);
  auto response = publish(*eye, {rule});
  ASSERT_EQ(response.status().code(), v1::OK) << response.status().message();
  const auto& slots = response.publish_availability().slots();
  ASSERT_FALSE(slots.empty());
  std::set<std::string> days;
  for (const auto& slot : slots) {
    days.insert(domain::format_local(api::from_proto(slot.starts_at()), "Asia/Shanghai")
                    .substr(0, 10));
  }
  EXPECT_EQ(*days.rbegin(), last_day) << "the last valid day is included";
  EXPECT_GE(days.size(), 10u);
  EXPECT_LE(days.size(), 11u);
}

TEST_F(SchedulingTest, OverlappingSlotIsRefusedNamingTheClash) {
  auto eye = server_.login("jining.eye1");
  const auto first = publish_slot(*eye, free_time(3));
  const auto starts = api::from_proto(first.starts_at());
  auto clash = publish(*eye, {}, {{starts + 15min, starts + 45min}});
  EXPECT_EQ(clash.status().code(), v1::ALREADY_EXISTS);
  EXPECT_NE(clash.status().message().find(first.id()), std::string::npos)
      << clash.status().message();
  // Within one request: INVALID_ARGUMENT, and nothing of it is published.
  auto twice = publish(*eye, {}, {{starts + 2h, starts + 3h}, {starts + 150min, starts + 4h}});
  EXPECT_EQ(twice.status().code(), v1::INVALID_ARGUMENT);
  const auto remaining = list_slots(*eye, server_.user_id("jining.eye1"));
  EXPECT_EQ(remaining.size(), 1u);
  // A clinician cannot publish availability.
  auto clinician = server_.login("yengisar.clinician");
  EXPECT_EQ(publish(*clinician, {tuesday_afternoons()}).status().code(), v1::PERMISSION_DENIED);
}

TEST_F(SchedulingTest, TwentyConcurrentBookingsOfTheLastPlaceOneWins) {
  auto eye = server_.login("jining.eye1");
  const auto slot = publish_slot(*eye, free_time(4));
  constexpr int kClients = kRacers;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> consultations;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(server_.login(racer(i)));
    consultations.push_back(open_consultation(*clients.back()));
  }
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  std::vector<std::future<v1::Response>> results;
  for (int i = 0; i < kClients; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      start.wait();
      return book(*clients[i], slot.id(), consultations[i]);
    }));
  }
  go.set_value();
  int ok = 0;
  int aborted = 0;
  for (auto& result : results) {
    const auto response = result.get();
    if (response.status().code() == v1::OK) ++ok;
    if (response.status().code() == v1::ABORTED) ++aborted;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(aborted, kClients - 1);
  EXPECT_FALSE(listed(list_slots(*eye, server_.user_id("jining.eye1")), slot.id()));
}

TEST_F(SchedulingTest, BookingNotifiesLogsAndCancelFreesThePlace) {
  auto eye = server_.login("jining.eye1");
  auto clinician = server_.login("yengisar.clinician");
  const auto slot = publish_slot(*eye, free_time(5));
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, slot.id(), consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto appointment = booked.appointment();
  EXPECT_EQ(appointment.state(), v1::APPOINTMENT_STATE_BOOKED);
  EXPECT_EQ(appointment.specialist_id(), server_.user_id("jining.eye1"));
  EXPECT_EQ(appointment.starts_at().seconds(), slot.starts_at().seconds());
  // Both the clinician (participant) and the reviewing specialist hear of it.
  for (Client* client : {clinician.get(), eye.get()}) {
    auto event = client->wait_event(
        [&](const v1::Event& e) {
          return e.has_appointment_changed() &&
                 e.appointment_changed().appointment().id() == appointment.id();
        },
        10s);
    EXPECT_TRUE(event.has_value());
  }
  // The booking is in the consultation's log as a system notice.
  auto log = clinician->call(frame_with([&](auto& f) {
    f.mutable_sync_consultation()->set_consultation_id(consultation);
  }));
  ASSERT_EQ(log.status().code(), v1::OK);
  const auto& entries = log.sync_consultation().entries();
  EXPECT_TRUE(std::any_of(entries.begin(), entries.end(), [&](const auto& entry) {
    return entry.body().has_notice() &&
           entry.body().notice().kind() == v1::SYSTEM_NOTICE_KIND_APPOINTMENT_CHANGED &&
           entry.body().notice().subject_id() == appointment.id();
  }));
  EXPECT_FALSE(listed(list_slots(*clinician, server_.user_id("jining.eye1")), slot.id()));
  // The same booking again (its answer lost): the slot is full with this very review, which is
  // ALREADY_EXISTS, not the ABORTED of a lost race that would send the client to another slot.
  EXPECT_EQ(book(*clinician, slot.id(), consultation).status().code(), v1::ALREADY_EXISTS);
  ASSERT_EQ(my_appointments(*clinician).size(), 1u);
  ASSERT_EQ(my_appointments(*eye).size(), 1u);

  auto cancelled = cancel(*clinician, appointment.id());
  ASSERT_EQ(cancelled.status().code(), v1::OK) << cancelled.status().message();
  EXPECT_EQ(cancelled.appointment().state(), v1::APPOINTMENT_STATE_CANCELLED);
  EXPECT_EQ(cancel(*clinician, appointment.id()).status().code(), v1::FAILED_PRECONDITION);
  EXPECT_TRUE(listed(list_slots(*clinician, server_.user_id("jining.eye1")), slot.id()));
  const auto again = open_consultation(*clinician);
  EXPECT_EQ(book(*clinician, slot.id(), again).status().code(), v1::OK);
}

TEST_F(SchedulingTest, CancellingTheConsultationCancelsItsReview) {
  auto eye = server_.login("jining.eye1");
  auto clinician = server_.login("yengisar.clinician");
  const auto slot = publish_slot(*eye, free_time(5));
  const auto spare = publish_slot(*eye, free_time(5) + 2h);
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, slot.id(), consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto id = booked.appointment().id();
  auto cancelled = clinician->call(frame_with([&](auto& f) {
    f.mutable_cancel_consultation()->set_consultation_id(consultation);
    f.mutable_cancel_consultation()->set_reason("patient transferred");
  }));
  ASSERT_EQ(cancelled.status().code(), v1::OK) << cancelled.status().message();
  // The specialist hears that the review is off, the place is free again, and nobody can move
  // the review of a cancelled consultation into another slot.
  auto event = eye->wait_event(is_cancellation_of(id), 10s);
  EXPECT_TRUE(event.has_value());
  EXPECT_TRUE(my_appointments(*eye).empty() ||
              my_appointments(*eye).front().state() == v1::APPOINTMENT_STATE_CANCELLED);
  EXPECT_TRUE(listed(list_slots(*clinician, server_.user_id("jining.eye1")), slot.id()));
  EXPECT_EQ(reschedule(*clinician, id, spare.id()).status().code(), v1::FAILED_PRECONDITION);
  EXPECT_TRUE(listed(list_slots(*clinician, server_.user_id("jining.eye1")), spare.id()));
  // The log says why, after the consultation's own notice, and the answer was not behind it.
  auto log = clinician->call(frame_with([&](auto& f) {
    f.mutable_sync_consultation()->set_consultation_id(consultation);
  }));
  ASSERT_EQ(log.status().code(), v1::OK);
  const auto& entries = log.sync_consultation().entries();
  ASSERT_FALSE(entries.empty());
  const auto& last = entries[entries.size() - 1];
  EXPECT_EQ(last.body().notice().subject_id(), id);
  EXPECT_NE(last.body().notice().text().find("consultation cancelled"), std::string::npos)
      << last.body().notice().text();
  EXPECT_EQ(cancelled.consultation().last_seq(), last.seq());
}

TEST_F(SchedulingTest, RescheduleIsAtomic) {
  auto eye = server_.login("jining.eye1");
  auto clinician = server_.login("yengisar.clinician");
  const auto base = free_time(6);
  const auto first = publish_slot(*eye, base);
  const auto full = publish_slot(*eye, base + 1h);
  const auto spare = publish_slot(*eye, base + 2h);
  const auto mine = open_consultation(*clinician);
  const auto other = open_consultation(*clinician);
  auto booked = book(*clinician, first.id(), mine);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  ASSERT_EQ(book(*clinician, full.id(), other).status().code(), v1::OK);
  const auto id = booked.appointment().id();

  // The target is full: nothing changes, the old booking stays intact.
  EXPECT_EQ(reschedule(*clinician, id, full.id()).status().code(), v1::ABORTED);
  auto appointments = my_appointments(*clinician);
  const auto still = std::find_if(appointments.begin(), appointments.end(),
                                  [&](const auto& a) { return a.id() == id; });
  ASSERT_NE(still, appointments.end());
  EXPECT_EQ(still->slot_id(), first.id());
  EXPECT_EQ(still->state(), v1::APPOINTMENT_STATE_BOOKED);
  auto free_now = list_slots(*clinician, server_.user_id("jining.eye1"));
  EXPECT_FALSE(listed(free_now, first.id()));
  EXPECT_FALSE(listed(free_now, full.id()));

  auto moved = reschedule(*clinician, id, spare.id());
  ASSERT_EQ(moved.status().code(), v1::OK) << moved.status().message();
  EXPECT_EQ(moved.appointment().id(), id);
  EXPECT_EQ(moved.appointment().slot_id(), spare.id());
  EXPECT_EQ(moved.appointment().starts_at().seconds(), spare.starts_at().seconds());
  free_now = list_slots(*clinician, server_.user_id("jining.eye1"));
  EXPECT_TRUE(listed(free_now, first.id()));
  EXPECT_FALSE(listed(free_now, spare.id()));
}

TEST_F(SchedulingTest, AReviewMovedToAnotherSpecialistIsNewsToTheFirst) {
  auto first = server_.login("jining.eye1");
  auto second = server_.login("jining.eye2");
  auto clinician = server_.login("yengisar.clinician");
  const auto mine = publish_slot(*first, free_time(8));
  const auto theirs = publish_slot(*second, free_time(8) + 3h);
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, mine.id(), consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto id = booked.appointment().id();
  auto moved = reschedule(*clinician, id, theirs.id());
  ASSERT_EQ(moved.status().code(), v1::OK) << moved.status().message();
  // The first specialist's calendar must drop the review: they hear where it went.
  auto event = first->wait_event(
      [&](const v1::Event& e) {
        return e.has_appointment_changed() && e.appointment_changed().appointment().id() == id &&
               e.appointment_changed().appointment().slot_id() == theirs.id();
      },
      10s);
  EXPECT_TRUE(event.has_value());
}

// Booked while the consultation was on offer to both Jining ophthalmologists, a review with the
// one who did not accept it is off: that specialist can no longer open the case.
TEST_F(SchedulingTest, AReviewWithTheSpecialistWhoDidNotAcceptIsCancelled) {
  auto first = server_.login("jining.eye1");
  auto second = server_.login("jining.eye2");
  auto clinician = server_.login("yengisar.clinician");
  const auto slot = publish_slot(*second, free_time(9));
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, slot.id(), consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto id = booked.appointment().id();
  auto accepted = first->call(frame_with([&](auto& f) {
    f.mutable_accept_consultation()->set_consultation_id(consultation);
  }));
  ASSERT_EQ(accepted.status().code(), v1::OK) << accepted.status().message();
  for (auto* client : {second.get(), clinician.get()}) {
    auto event = client->wait_event(is_cancellation_of(id), 10s);
    EXPECT_TRUE(event.has_value());
  }
  EXPECT_TRUE(listed(list_slots(*clinician, server_.user_id("jining.eye2")), slot.id()));
}

TEST_F(SchedulingTest, OnlyParticipantsBookForAConsultation) {
  auto eye = server_.login("jining.eye1");
  auto clinician = server_.login("yengisar.clinician");
  const auto slot = publish_slot(*eye, free_time(7));
  const auto consultation = open_consultation(*clinician);
  auto colleague = server_.login("yengisar.clinician2");
  EXPECT_EQ(book(*colleague, slot.id(), consultation).status().code(), v1::NOT_FOUND);
  auto candidate = server_.login("jining.eye2");  // offered, not a participant
  EXPECT_EQ(book(*candidate, slot.id(), consultation).status().code(), v1::PERMISSION_DENIED);
  EXPECT_TRUE(listed(list_slots(*clinician, server_.user_id("jining.eye1")), slot.id()));
}

class SchedulingReminderTest : public ::testing::Test {
 protected:
  TestServer server_{[](app::Config& config) {
    config.reminder_lead_times = {std::chrono::minutes(2)};
    config.reminder_check_interval = std::chrono::milliseconds(100);
  }};
};

TEST_F(SchedulingReminderTest, LiveAndOfflineParticipantsAreRemindedOnce) {
  auto clinician = server_.login("yengisar.clinician");
  std::string slot_id;
  {
    auto eye = server_.login("jining.eye1");
    slot_id = publish_slot(*eye, now() + 2min + 3s, 10min).id();
  }  // the specialist goes offline
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, slot_id, consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto id = booked.appointment().id();
  auto is_reminder = [&](const v1::Event& e) {
    return e.has_appointment_reminder() && e.appointment_reminder().appointment().id() == id;
  };
  auto reminder = clinician->wait_event(is_reminder, 20s);
  ASSERT_TRUE(reminder.has_value()) << "the live participant is reminded";
  EXPECT_LE(reminder->appointment_reminder().starts_in_seconds(), 120);
  EXPECT_GT(reminder->appointment_reminder().starts_in_seconds(), 60);

  // The specialist was offline when it fell due: they get it on their next login, once.
  auto eye = server_.login("jining.eye1");
  EXPECT_TRUE(eye->wait_event(is_reminder, 10s).has_value());
  auto eye_again = server_.login("jining.eye1");
  EXPECT_FALSE(eye_again->wait_event(is_reminder, 1s).has_value());
  EXPECT_FALSE(clinician->wait_event(is_reminder, 500ms).has_value()) << "sent twice";
}

// `tmc-admin user disable` on a specialist who has left, in another process: the server's
// periodic check cancels their reviews still to come, and the participants online hear of it.
TEST_F(SchedulingReminderTest, TheReviewOfASpecialistDisabledInAnotherProcessIsCancelled) {
  auto clinician = server_.login("yengisar.clinician");
  std::string slot_id;
  {
    auto eye = server_.login("jining.eye1");
    slot_id = publish_slot(*eye, free_time(6)).id();
  }
  const auto consultation = open_consultation(*clinician);
  auto booked = book(*clinician, slot_id, consultation);
  ASSERT_EQ(booked.status().code(), v1::OK) << booked.status().message();
  const auto id = booked.appointment().id();
  {
    const auto store = server_.open_store();
    SystemClock clock;
    domain::NullAuditHook audit;
    domain::DirectoryService directory(*store, clock, audit);
    ASSERT_TRUE(directory.set_disabled("jining.eye1", true));
  }
  auto event = clinician->wait_event(is_cancellation_of(id), 10s);
  EXPECT_TRUE(event.has_value());
  const auto appointments = my_appointments(*clinician);
  EXPECT_TRUE(std::none_of(appointments.begin(), appointments.end(), [](const auto& a) {
    return a.state() == v1::APPOINTMENT_STATE_BOOKED;
  }));
}

}  // namespace
}  // namespace tmc::testing

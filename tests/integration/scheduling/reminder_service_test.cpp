// Scheduling service against a real SQLite store and a manual clock: bookings and reminders,
// including reminders that fall due across a store restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <stdlib.h>

#include "crypto/keyring.hpp"
#include "domain/consultation_service.hpp"
#include "domain/directory_service.hpp"
#include "domain/scheduling_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;
using store::Role;

// 2026-12-01T00:00Z, a Tuesday.
const TimePoint kStart = TimePoint(std::chrono::sys_days(std::chrono::year(2026) /
                                                         std::chrono::December / 1)
                                       .time_since_epoch());

// A fresh directory under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tmc-sched-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One "server lifetime": a store on the directory and the services over it.
struct Node {
  Node(const std::filesystem::path& dir, const Clock& clock, const crypto::KeyRing& keys)
      : vault(keys) {
    store::SqliteOptions options;
    options.path = (dir / "tmc.db").string();
    store = store::open_sqlite_store(options);
    consultations = std::make_unique<ConsultationService>(*store, clock, audit, vault,
                                                          DeadlinePolicy{});
    SchedulingOptions scheduling_options;  // reminders at 24 h and 15 min
    scheduling = std::make_unique<SchedulingService>(*store, clock, audit, *consultations,
                                                     scheduling_options);
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
    node_.emplace(dir_.path(), clock_, keys_);
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

  void restart() {
    node_.reset();
    node_.emplace(dir_.path(), clock_, keys_);
  }

  TempDir dir_;
  ManualClock clock_{kStart};
  crypto::KeyRing keys_ = crypto::KeyRing::generate();
  std::optional<Node> node_;
  std::string consultation_id_;
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

}  // namespace
}  // namespace tmc::domain

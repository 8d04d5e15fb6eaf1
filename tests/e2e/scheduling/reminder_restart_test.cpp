// Reminders survive a crash: one decided but undelivered before SIGKILL arrives exactly once.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Counts rows of a table in the server's database (read-only, beside the running server).
int count_rows(const std::filesystem::path& data_dir, const std::string& table) {
  sqlite3* db = nullptr;
  const auto path = (data_dir / "tmc.db").string();
  int count = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* stmt = nullptr;
    const auto sql = "SELECT count(*) FROM " + table;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      count = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return count;
}

google::protobuf::Timestamp timestamp(std::chrono::system_clock::time_point at) {
  google::protobuf::Timestamp out;
  out.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
  return out;
}

v1::Response call_ok(client::BlockingClient& client, v1::ClientFrame frame) {
  auto response = client.call(std::move(frame));
  EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
  return response;
}

TEST(RemindersAcrossRestart, DecidedReminderIsDeliveredOnceAfterSigkill) {
  testing::TempDir dir;
  const auto data_dir = dir.path() / "data";
  const auto logins = seed_demo_data_dir(data_dir);
  ServerProcess server(data_dir, {"--reminder-lead-minutes", "2", "--reminder-check-ms", "100"});
  server.start();

  std::string appointment_id;
  {
    auto eye = sign_in(server.client_options(), logins.at("jining.eye1"));
    v1::ClientFrame publish;
    auto* slot = publish.mutable_publish_availability()->add_slots();
    const auto starts = std::chrono::system_clock::now() + std::chrono::minutes(2) + 8s;
    *slot->mutable_starts_at() = timestamp(starts);
    *slot->mutable_ends_at() = timestamp(starts + std::chrono::minutes(10));
    slot->set_capacity(1);
    const auto published = call_ok(*eye.client, publish);
    ASSERT_EQ(published.publish_availability().slots_size(), 1);

    auto clinician = sign_in(server.client_options(), logins.at("yengisar.clinician"));
    const auto opened = call_for_consultation(
        *clinician.client, open_consultation_frame("ophthalmology", v1::URGENCY_ROUTINE));
    v1::ClientFrame book;
    book.mutable_book_review()->set_slot_id(published.publish_availability().slots(0).id());
    book.mutable_book_review()->set_consultation_id(opened.id());
    appointment_id = call_ok(*clinician.client, book).appointment().id();
    ASSERT_FALSE(appointment_id.empty());
  }  // everybody signs off before the reminder falls due

  // Wait (bounded) until the server has decided the reminder and queued it for both users.
  const auto give_up = SteadyClock::now() + 30s;
  while (count_rows(data_dir, "pending_reminders") < 2 && SteadyClock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(count_rows(data_dir, "pending_reminders"), 2);
  EXPECT_EQ(count_rows(data_dir, "appointment_reminders_sent"), 1);
  const auto killed = server.kill();
  ASSERT_TRUE(killed && killed->signal == SIGKILL) << (killed ? killed->describe() : "no pid");

  server.start();
  auto is_reminder = [&](const v1::Event& event) {
    return event.has_appointment_reminder() &&
           event.appointment_reminder().appointment().id() == appointment_id;
  };
  auto clinician = sign_in(server.client_options(), logins.at("yengisar.clinician"));
  const auto reminder = clinician.client->wait_event(is_reminder, 10s);
  ASSERT_TRUE(reminder.has_value()) << "the queued reminder was lost in the crash";
  EXPECT_GT(reminder->appointment_reminder().starts_in_seconds(), 0);
  EXPECT_LE(reminder->appointment_reminder().starts_in_seconds(), 120);

  // Not decided again after the restart, and not handed out twice.
  auto again = sign_in(server.client_options(), logins.at("yengisar.clinician"));
  EXPECT_FALSE(again.client->wait_event(is_reminder, 1s).has_value());
  EXPECT_FALSE(clinician.client->wait_event(is_reminder, 500ms).has_value());
  EXPECT_EQ(count_rows(data_dir, "appointment_reminders_sent"), 1);
  // The specialist's copy still waits for their login.
  EXPECT_EQ(count_rows(data_dir, "pending_reminders"), 1);
  auto eye = sign_in(server.client_options(), logins.at("jining.eye1"));
  EXPECT_TRUE(eye.client->wait_event(is_reminder, 10s).has_value());
  server.stop();
}

}  // namespace
}  // namespace tmc::e2e

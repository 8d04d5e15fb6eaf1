// tmc-client's consult commands end to end, in process, against a real server over TLS.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "cli_fixture.hpp"

namespace tmc::testing {
namespace {

class ClientCli : public CliTest {};

// The day after tomorrow (UTC), as YYYY-MM-DD: later than today in Beijing and Xinjiang time.
std::string day_after_tomorrow() {
  const std::chrono::year_month_day day{
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
      std::chrono::days{2}};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(day.year()),
                static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
  return text;
}

TEST_F(ClientCli, OpenAcceptChatReportAndRead) {
  login("bachu.clinician");
  login("shanghai.ortho");
  const std::string id = open_emergency();

  const auto offers = run_as("shanghai.ortho", {"consult", "list", "--state", "offered"});
  ASSERT_EQ(offers.exit_code, 0) << offers.err;
  EXPECT_NE(offers.out.find(id), std::string::npos) << offers.out;
  EXPECT_NE(offers.out.find("emergency"), std::string::npos) << offers.out;

  const auto accepted = run_as("shanghai.ortho", {"consult", "accept", id});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_NE(accepted.out.find("is accepted (specialist: Dr. Chen Wei)"), std::string::npos)
      << accepted.out;

  const auto posted =
      run_as("bachu.clinician", {"consult", "post", id, "distal", "pulses", "weak"});
  ASSERT_EQ(posted.exit_code, 0) << posted.err;
  EXPECT_EQ(posted.out.rfind("posted #", 0), 0u) << posted.out;

  // The specialist's chat shows the backlog, posts each line and leaves at /quit.
  const auto chat = run_as("shanghai.ortho", {"consult", "chat", id},
                           "Fasciotomy now.\n\n/quit\nnot sent\n");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  // A specialist cannot look clinicians up: the sender shows as its id.
  EXPECT_NE(chat.out.find(": distal pulses weak\n"), std::string::npos) << chat.out;

  const auto log = run_as("bachu.clinician", {"consult", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  const auto question = log.out.find(": distal pulses weak");
  const auto answer = log.out.find(": Fasciotomy now.");
  ASSERT_NE(question, std::string::npos) << log.out;
  ASSERT_NE(answer, std::string::npos) << log.out;
  EXPECT_LT(question, answer);
  EXPECT_EQ(log.out.find("not sent"), std::string::npos);

  // The chat acknowledged what it showed; the specialist's read position is visible.
  const auto reported = run_as("shanghai.ortho",
                               {"consult", "report", id, "--findings", "compartment syndrome",
                                "--impression", "salvageable"});
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  EXPECT_NE(reported.out.find("is reported"), std::string::npos) << reported.out;

  const auto acked = run_as("bachu.clinician", {"consult", "ack", id});
  ASSERT_EQ(acked.exit_code, 0) << acked.err;
  const auto shown = run_as("shanghai.ortho", {"consult", "show", id});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("salvageable"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("(requester): up to #"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("Dr. Chen Wei (assigned specialist): up to #"), std::string::npos)
      << shown.out;

  const auto json = run_as("bachu.clinician", {"--json", "consult", "show", id});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"state\": \"CONSULTATION_STATE_REPORTED\""), std::string::npos)
      << json.out;
}

TEST_F(ClientCli, RefusalsExitOneWithTheStatus) {
  login("bachu.clinician");
  login("shanghai.cardio");
  const std::string id = open_emergency();
  // Not offered to a cardiologist: the server does not reveal it.
  const auto refused = run_as("shanghai.cardio", {"consult", "accept", id});
  EXPECT_EQ(refused.exit_code, cli::exit_failure);
  EXPECT_EQ(refused.err.rfind("error: NOT_FOUND", 0), 0u) << refused.err;
  // Posting before anyone accepted is a failed precondition.
  const auto early = run_as("bachu.clinician", {"consult", "post", id, "hello"});
  EXPECT_EQ(early.exit_code, cli::exit_failure);
  EXPECT_NE(early.err.find("FAILED_PRECONDITION"), std::string::npos) << early.err;
}

// How many times text occurs in out.
std::size_t occurrences(const std::string& out, const std::string& text) {
  std::size_t count = 0;
  for (auto at = out.find(text); at != std::string::npos; at = out.find(text, at + 1)) ++count;
  return count;
}

// The id a consult post printed on stderr, after "--client-msg-id ".
std::string printed_client_msg_id(const CliOutcome& outcome) {
  const std::string label = "--client-msg-id ";
  const auto at = outcome.err.find(label);
  if (at == std::string::npos) return {};
  const auto start = at + label.size();
  return outcome.err.substr(start, outcome.err.find_first_of(" \n", start) - start);
}

TEST_F(ClientCli, PostPrintsItsClientMsgIdAndARunRepeatedWithItPostsNothingTwice) {
  const std::string id = accepted_emergency();

  const auto first = run_as("bachu.clinician", {"consult", "post", id, "BP", "80/50"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string client_msg_id = printed_client_msg_id(first);
  ASSERT_FALSE(client_msg_id.empty()) << first.err;

  // As if the first run had lost its answer: the same id gets the first post's seq back.
  const auto again = run_as(
      "bachu.clinician", {"consult", "post", id, "BP", "80/50", "--client-msg-id", client_msg_id});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(printed_client_msg_id(again), client_msg_id);
  EXPECT_EQ(again.out.substr(0, again.out.find(" at ")),
            first.out.substr(0, first.out.find(" at ")));
  const auto log = run_as("bachu.clinician", {"consult", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(occurrences(log.out, ": BP 80/50\n"), 1u) << log.out;
}

// Holds the database's write lock, as a long transaction beside the server would: the server's
// writes wait for it in vain and answer UNAVAILABLE. SQLite only (PostgreSQL writers queue).
class WriteLock {
 public:
  explicit WriteLock(const TestServer& server) : store_(server.open_store()) {
    auto held = held_.get_future();
    holder_ = std::thread([this] {
      store_->write([this](store::Tx&) {
        held_.set_value();
        release_.get_future().wait();
        return false;
      });
    });
    held.wait();
  }
  ~WriteLock() {
    release();
    holder_.join();
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  void release() {
    if (released_) return;
    released_ = true;
    release_.set_value();
  }

 private:
  std::unique_ptr<store::Store> store_;
  std::promise<void> held_;
  std::promise<void> release_;
  bool released_ = false;
  std::thread holder_;
};

// How many post_message requests the server has answered UNAVAILABLE (from /metrics).
int unavailable_posts(TestServer& server) {
  std::istringstream metrics(server.app().api().metrics_text());
  for (std::string line; std::getline(metrics, line);) {
    if (line.starts_with("tmc_requests_total{") &&
        line.find("\"post_message\"") != std::string::npos &&
        line.find("\"UNAVAILABLE\"") != std::string::npos) {
      return std::stoi(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

// Runs command on a thread while the write lock is held, and lets the lock go once the server
// has refused a post with UNAVAILABLE: only a retry can carry the post then. Answers the
// command's outcome.
template <class Command>
std::optional<CliOutcome> run_while_posts_are_refused(TestServer& server, const Command& command) {
  std::optional<CliOutcome> outcome;
  WriteLock lock(server);
  std::thread running([&] { outcome = command(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (unavailable_posts(server) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int refused = unavailable_posts(server);
  lock.release();
  running.join();
  EXPECT_GE(refused, 1);
  return outcome;
}

TEST_F(ClientCli, PostIsSentAgainWithTheSameIdWhenTheServerAnswersUnavailable) {
  const std::string id = accepted_emergency();

  const auto posted = run_while_posts_are_refused(server_, [&] {
    return run_as("bachu.clinician", {"consult", "post", id, "pulses", "absent"});
  });
  ASSERT_TRUE(posted.has_value());
  ASSERT_EQ(posted->exit_code, 0) << posted->err;
  EXPECT_NE(posted->err.find("server unavailable (UNAVAILABLE"), std::string::npos) << posted->err;
  EXPECT_EQ(posted->out.rfind("posted #", 0), 0u) << posted->out;
  const auto log = run_as("bachu.clinician", {"consult", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(occurrences(log.out, ": pulses absent\n"), 1u) << log.out;
}

// A chat line the server cannot store for the moment is kept and posted once it can, and the
// chat's acknowledgement waits the same way: neither ends the chat nor loses the line.
TEST_F(ClientCli, ChatKeepsALineTheServerCouldNotStoreAndPostsItLater) {
  const std::string id = accepted_emergency();

  const auto chat = run_while_posts_are_refused(server_, [&] {
    return run_as("shanghai.ortho", {"consult", "chat", id}, "Fasciotomy now.\n/quit\n");
  });
  ASSERT_TRUE(chat.has_value());
  ASSERT_EQ(chat->exit_code, 0) << chat->err;
  EXPECT_NE(chat->err.find("server unavailable (UNAVAILABLE"), std::string::npos) << chat->err;
  EXPECT_EQ(chat->err.find("not posted"), std::string::npos) << chat->err;
  const auto log = run_as("bachu.clinician", {"consult", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(occurrences(log.out, ": Fasciotomy now.\n"), 1u) << log.out;
}

// Lines of out that contain text.
std::vector<std::string> lines_with(const std::string& out, const std::string& text) {
  std::vector<std::string> found;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(text) != std::string::npos) found.push_back(line);
  }
  return found;
}

// Hours published in Beijing time by a Jining specialist and booked from Yengisar: each side
// reads its own clock, with the other's alongside.
TEST_F(ClientCli, ScheduleShowsTimesInTheViewersZoneWithTheSpecialists) {
  login("jining.eye1");
  login("yengisar.clinician");
  const std::string specialist = server_.user_id("jining.eye1");

  // From a later day, so that the first slot is a Tuesday's first whenever the test runs (on a
  // Tuesday afternoon in Beijing, today's first slots are over).
  const auto published = run_as(
      "jining.eye1", {"schedule", "publish", "--weekdays", "tue", "--from", "14:00", "--to",
                      "17:00", "--tz", "Asia/Shanghai", "--slot", "30m", "--capacity", "1",
                      "--valid-from", day_after_tomorrow()});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_NE(published.out.find("for Dr. Kong Jie (Jining Partner Hospital)"), std::string::npos)
      << published.out;
  // The specialist's own organisation is on Beijing time: no second zone to show.
  EXPECT_FALSE(lines_with(published.out, "14:00-14:30 Asia/Shanghai  ").empty())
      << published.out;
  EXPECT_EQ(published.out.find("Asia/Urumqi"), std::string::npos) << published.out;

  const auto opened = run_as(
      "yengisar.clinician",
      {"consult", "open", "--specialty", "ophthalmology", "--urgency", "routine", "--patient",
       "YG-2026-0311", "--age", "58", "--sex", "f", "--question", "Cataract or glaucoma?",
       "--print-id"});
  ASSERT_EQ(opened.exit_code, 0) << opened.err;
  const std::string consultation = opened.out.substr(0, opened.out.find('\n'));

  // Tuesdays 14:00-17:00 Asia/Shanghai are 12:00-15:00 for a viewer in Xinjiang time.
  const auto slots = run_as("yengisar.clinician", {"schedule", "slots", "--specialty",
                                                   "ophthalmology"});
  ASSERT_EQ(slots.exit_code, 0) << slots.err;
  const auto first_slots =
      lines_with(slots.out, "12:00-12:30 Asia/Urumqi (14:00-14:30 Asia/Shanghai)");
  ASSERT_FALSE(first_slots.empty()) << slots.out;
  EXPECT_NE(first_slots.front().find("  Tue 20"), std::string::npos) << first_slots.front();
  EXPECT_FALSE(lines_with(slots.out, "14:30-15:00 Asia/Urumqi (16:30-17:00 Asia/Shanghai)").empty())
      << slots.out;
  EXPECT_TRUE(lines_with(slots.out, "15:00-15:30 Asia/Urumqi").empty()) << slots.out;
  EXPECT_NE(slots.out.find("Dr. Kong Jie (Jining Partner Hospital)"), std::string::npos);

  const auto ids = run_as("yengisar.clinician",
                          {"schedule", "slots", "--specialist", specialist, "--print-ids"});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  std::istringstream id_lines(ids.out);
  std::string first_slot;
  std::string second_slot;
  std::getline(id_lines, first_slot);
  std::getline(id_lines, second_slot);
  ASSERT_FALSE(second_slot.empty()) << ids.out;

  const auto booked = run_as("yengisar.clinician", {"schedule", "book", first_slot,
                                                    "--consultation", consultation});
  ASSERT_EQ(booked.exit_code, 0) << booked.err;
  EXPECT_EQ(booked.out.rfind("booked appointment ", 0), 0u) << booked.out;
  EXPECT_NE(booked.out.find("12:00-12:30 Asia/Urumqi (14:00-14:30 Asia/Shanghai) (booked)"),
            std::string::npos)
      << booked.out;
  const std::string appointment = booked.out.substr(19, booked.out.find(' ', 19) - 19);

  const auto mine = run_as("yengisar.clinician", {"schedule", "list"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  const auto listed = lines_with(mine.out, appointment);
  ASSERT_EQ(listed.size(), 1u) << mine.out;
  EXPECT_NE(listed[0].find("12:00-12:30 Asia/Urumqi (14:00-14:30 Asia/Shanghai)  booked"),
            std::string::npos)
      << listed[0];
  const auto in_beijing_time =
      run_as("yengisar.clinician", {"schedule", "list", "--tz", "Asia/Shanghai"});
  ASSERT_EQ(in_beijing_time.exit_code, 0) << in_beijing_time.err;
  EXPECT_FALSE(lines_with(in_beijing_time.out, "14:00-14:30 Asia/Shanghai  booked").empty())
      << in_beijing_time.out;
  const auto reviewer = run_as("jining.eye1", {"schedule", "list"});
  ASSERT_EQ(reviewer.exit_code, 0) << reviewer.err;
  EXPECT_FALSE(lines_with(reviewer.out, "14:00-14:30 Asia/Shanghai  booked").empty())
      << reviewer.out;

  const auto moved = run_as("yengisar.clinician",
                            {"schedule", "reschedule", appointment, "--slot", second_slot});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_NE(moved.out.find("moved appointment " + appointment), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find("12:30-13:00 Asia/Urumqi (14:30-15:00 Asia/Shanghai)"),
            std::string::npos)
      << moved.out;

  // The first slot is free again; the second is full.
  const auto free = run_as("yengisar.clinician",
                           {"schedule", "slots", "--specialist", specialist, "--print-ids"});
  ASSERT_EQ(free.exit_code, 0) << free.err;
  EXPECT_NE(free.out.find(first_slot + '\n'), std::string::npos) << free.out;
  EXPECT_EQ(free.out.find(second_slot + '\n'), std::string::npos) << free.out;

  const auto cancelled = run_as("jining.eye1", {"schedule", "cancel", appointment, "--reason",
                                                "patient transferred"});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_NE(cancelled.out.find("cancelled appointment " + appointment), std::string::npos)
      << cancelled.out;
  EXPECT_NE(cancelled.out.find("(cancelled)"), std::string::npos) << cancelled.out;

  // Withdrawn hours are no longer offered.
  const auto withdrawn = run_as("jining.eye1", {"schedule", "withdraw"});
  ASSERT_EQ(withdrawn.exit_code, 0) << withdrawn.err;
  const auto none = run_as("yengisar.clinician", {"schedule", "slots", "--specialist", specialist});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "no free slots\n");
}

TEST_F(ClientCli, ScheduleRefusesBadInputBeforeAskingTheServer) {
  login("jining.eye1");
  const auto zone = run_as("jining.eye1", {"schedule", "list", "--tz", "Mars/Olympus"});
  EXPECT_EQ(zone.exit_code, cli::exit_usage);
  EXPECT_NE(zone.err.find("unknown time zone \"Mars/Olympus\""), std::string::npos) << zone.err;
  const auto both = run_as("jining.eye1", {"schedule", "publish", "--weekdays", "tue", "--at",
                                           "2026-12-01 14:00", "--length", "30m"});
  EXPECT_EQ(both.exit_code, cli::exit_usage);
  const auto missing = run_as("jining.eye1", {"schedule", "slots"});
  EXPECT_EQ(missing.exit_code, cli::exit_usage);
  EXPECT_NE(missing.err.find("give --specialty or --specialist"), std::string::npos)
      << missing.err;
  // A single slot in the past is the server's to refuse.
  const auto past = run_as("jining.eye1", {"schedule", "publish", "--at", "2020-01-07 14:00",
                                           "--length", "30m"});
  EXPECT_EQ(past.exit_code, cli::exit_failure);
  EXPECT_NE(past.err.find("INVALID_ARGUMENT"), std::string::npos) << past.err;
}

}  // namespace
}  // namespace tmc::testing

// Graceful stop: SIGTERM tells connected sessions, closes them with 1001 and exits 0.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>
#include <vector>

#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

// A server on a freshly seeded demo data directory, started.
class GracefulStop : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::map<std::string, DemoLogin> logins_ = seed_demo_data_dir(dir_.path() / "data");
  ServerProcess server_{dir_.path() / "data"};

  void SetUp() override { server_.start(); }
  Session sign_in_as(const std::string& username) {
    return sign_in(server_.client_options(), logins_.at(username));
  }
};

TEST_F(GracefulStop, SigtermClosesSessionsWithGoingAwayAndExitsZero) {
  auto clinician = sign_in_as("bachu.clinician");

  const auto stopped = server_.stop();
  EXPECT_TRUE(stopped.exited) << stopped.describe();
  EXPECT_EQ(stopped.code, 0);

  const auto closing = clinician.client->wait_event(
      [](const v1::Event& e) { return e.has_session_closing(); }, 5s);
  ASSERT_TRUE(closing) << "no session_closing event before the close";
  EXPECT_EQ(closing->session_closing().kind(), v1::SESSION_CLOSING_KIND_SERVER_SHUTDOWN);
  const auto closed = clinician.client->wait_closed(5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1001) << closed->reason;

  // As the event says: come back later and resume the same session.
  server_.start();
  client::BlockingClient again(server_.client_options());
  again.connect();
  const auto resumed = again.resume(clinician.token);
  EXPECT_EQ(resumed.status().code(), v1::OK) << resumed.status().message();
  EXPECT_EQ(resumed.login().user().id(), clinician.user_id);
}

// Posts pipelined when SIGTERM arrives: the server still exits 0 (it waits for the posts its
// store has queued), and every post it acknowledged is in the log after the restart, once.
TEST_F(GracefulStop, PostsInFlightAtSigtermAreAnsweredOrRetriableAndNoneAcknowledgedIsLost) {
  auto clinician = sign_in_as("bachu.clinician");
  auto specialist = sign_in_as("shanghai.ortho");
  const auto opened = call_for_consultation(
      *clinician.client, open_consultation_frame("orthopedics", v1::URGENCY_URGENT));
  call_for_consultation(*specialist.client, accept_consultation_frame(opened.id()));

  constexpr int count = 300;
  std::vector<std::future<v1::Response>> posts;
  for (int i = 0; i < count; ++i) {
    posts.push_back(clinician.client->call_async(
        post_text_frame(opened.id(), "stop-" + std::to_string(i), "stop " + std::to_string(i))));
  }
  // The stop comes once the first answers are back, with the rest still on their way.
  std::vector<v1::Response> early;
  for (int i = 0; i < 20; ++i) early.push_back(posts[i].get());
  const auto stopped = server_.stop();
  EXPECT_TRUE(stopped.exited) << stopped.describe();
  EXPECT_EQ(stopped.code, 0);

  std::map<std::uint64_t, std::string> acknowledged;  // seq -> text
  for (int i = 0; i < count; ++i) {
    try {
      const auto response = i < 20 ? early[i] : posts[i].get();
      if (response.status().code() == v1::OK) {
        acknowledged[response.post_message().seq()] = "stop " + std::to_string(i);
      }
    } catch (const client::ClientError&) {
      // Cut off by the shutdown before an answer: the client would retry it.
    }
  }

  server_.start();
  client::BlockingClient again(server_.client_options());
  again.connect();
  ASSERT_EQ(again.resume(clinician.token).status().code(), v1::OK);
  std::map<std::uint64_t, std::string> stored;
  std::map<std::string, int> copies;
  for (const auto& entry : sync_whole_log(again, opened.id())) {
    if (!entry.body().has_text()) continue;
    stored[entry.seq()] = entry.body().text();
    copies[entry.body().text()] += 1;
  }
  for (const auto& [seq, text] : acknowledged) {
    EXPECT_EQ(stored[seq], text) << "acknowledged seq " << seq << " lost or changed";
  }
  for (const auto& [text, n] : copies) EXPECT_EQ(n, 1) << text;
  EXPECT_GE(acknowledged.size(), 20u);
}

}  // namespace
}  // namespace tmc::e2e

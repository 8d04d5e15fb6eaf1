// Graceful stop: SIGTERM tells connected sessions, closes them with 1001 and exits 0.
#include <gtest/gtest.h>

#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

TEST(GracefulStop, SigtermClosesSessionsWithGoingAwayAndExitsZero) {
  testing::TempDir dir;
  const auto data_dir = dir.path() / "data";
  const auto logins = seed_demo_data_dir(data_dir);
  ServerProcess server(data_dir);
  server.start();
  auto clinician = sign_in(server.client_options(), logins.at("bachu.clinician"));

  const auto stopped = server.stop();
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
  server.start();
  client::BlockingClient again(server.client_options());
  again.connect();
  const auto resumed = again.resume(clinician.token);
  EXPECT_EQ(resumed.status().code(), v1::OK) << resumed.status().message();
  EXPECT_EQ(resumed.login().user().id(), clinician.user_id);
}

}  // namespace
}  // namespace tmc::e2e

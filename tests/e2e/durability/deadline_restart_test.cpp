// Routing deadlines survive a crash: an emergency offer still escalates and expires on time.
#include <gtest/gtest.h>

#include <csignal>

#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

using Clock = std::chrono::steady_clock;

bool updated(const v1::Event& event, const std::string& consultation_id) {
  return event.has_consultation_updated() &&
         event.consultation_updated().consultation().id() == consultation_id;
}

TEST(DeadlinesAcrossRestart, EmergencyOfferEscalatesAndExpiresAfterSigkill) {
  testing::TempDir dir;
  const auto data_dir = dir.path() / "data";
  const auto logins = seed_demo_data_dir(data_dir);
  ServerProcess server(data_dir, {"--deadline-emergency-s", "3", "--deadline-check-ms", "100"});
  server.start();

  const auto opened_at = Clock::now();
  std::string id;
  {
    auto clinician = sign_in(server.client_options(), logins.at("bachu.clinician"));
    const auto opened = call_for_consultation(
        *clinician.client, open_consultation_frame("orthopedics", v1::URGENCY_EMERGENCY));
    EXPECT_EQ(opened.state(), v1::CONSULTATION_STATE_OFFERED);
    EXPECT_EQ(opened.candidate_count(), 1u);
    EXPECT_TRUE(opened.has_respond_by());
    EXPECT_FALSE(opened.escalated());
    id = opened.id();
    const auto killed = server.kill();  // right away, the clinician still connected
    ASSERT_TRUE(killed && killed->signal == SIGKILL) << (killed ? killed->describe() : "no pid");
  }
  server.start();

  // The offer itself survived: the only candidate still sees it, still open.
  auto specialist = sign_in(server.client_options(), logins.at("shanghai.ortho"));
  const auto offered = call_for_consultation(*specialist.client, get_consultation_frame(id));
  EXPECT_EQ(offered.state(), v1::CONSULTATION_STATE_OFFERED);
  EXPECT_TRUE(offered.has_respond_by());

  // The clinician watches it escalate (~3 s after opening) and expire (~6 s).
  auto clinician = sign_in(server.client_options(), logins.at("bachu.clinician"));
  const auto give_up = Clock::now() + 30s;
  bool saw_escalated_offer = false;
  v1::Consultation current;
  for (;;) {
    current = call_for_consultation(*clinician.client, get_consultation_frame(id));
    if (current.state() == v1::CONSULTATION_STATE_OFFERED && current.escalated()) {
      saw_escalated_offer = true;
    }
    if (current.state() != v1::CONSULTATION_STATE_OFFERED) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now());
    if (left.count() <= 0) break;
    clinician.client->wait_event([&](const v1::Event& e) { return updated(e, id); }, left);
  }
  const auto expired_after = Clock::now() - opened_at;
  ASSERT_EQ(current.state(), v1::CONSULTATION_STATE_EXPIRED)
      << v1::ConsultationState_Name(current.state());
  EXPECT_TRUE(saw_escalated_offer) << "expired without being seen escalated first";
  EXPECT_TRUE(current.escalated());
  EXPECT_FALSE(current.has_respond_by());
  // Two periods of 3 s: the restart must not have cut them short.
  EXPECT_GE(expired_after, 5500ms);
  std::cout << "expired " << std::chrono::duration<double>(expired_after).count()
            << " s after opening\n";

  // Too late now.
  EXPECT_NE(specialist.client->call(accept_consultation_frame(id)).status().code(), v1::OK);
  specialist.client->close();
  clinician.client->close();
  const auto stopped = server.stop();
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << stopped.describe();
}

}  // namespace
}  // namespace tmc::e2e

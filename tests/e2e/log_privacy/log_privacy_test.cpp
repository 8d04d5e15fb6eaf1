// Privacy of logs: the demo consultation story against a tmc-server process logging at trace
// level into a file; no password, token, second-factor secret or clinical text may appear in it.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "case_file_client.hpp"
#include "crypto/encoding.hpp"
#include "crypto/totp.hpp"
#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

namespace files = testing::files;
using Client = client::BlockingClient;

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The base32 secret in an otpauth:// URI printed by `tmc-admin user totp enroll`.
std::string secret_of(const std::string& uri) {
  const auto at = uri.find("secret=");
  if (at == std::string::npos) return {};
  const auto start = at + 7;
  return uri.substr(start, uri.find('&', start) - start);
}

std::string current_totp(const std::string& raw_secret) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return crypto::totp_code(raw_secret, now.count());
}

v1::Response expect_ok(Client& client, v1::ClientFrame frame) {
  const auto* request = v1::ClientFrame::descriptor()->FindFieldByNumber(frame.request_case());
  const std::string name = request != nullptr ? request->name() : "?";
  auto response = client.call(std::move(frame));
  EXPECT_EQ(response.status().code(), v1::OK) << name << ": " << response.status().message();
  return response;
}

TEST(LogPrivacy, TheDemoStoryLeavesNoSecretOrClinicalTextInTheLog) {
  testing::TempDir dir;
  auto logins = seed_demo_data_dir(dir.path() / "data");
  const auto log_file = dir.path() / "server.log";
  ServerProcess server(dir.path() / "data", {"--log-level", "trace"});
  server.capture_log(log_file);

  // Everything the story sends that must never be written to the log.
  std::vector<std::string> secrets;
  const auto keep = [&](std::string text) {
    secrets.push_back(text);
    return text;
  };

  // The administrator signs in with a second factor (enrolled while the server is down, as an
  // operator would with tmc-admin).
  const auto enrolled = run_process({admin_binary(), "--data-dir", (dir.path() / "data").string(),
                                     "user", "totp", "enroll", "admin"});
  ASSERT_TRUE(enrolled.status.exited && enrolled.status.code == 0) << enrolled.status.describe();
  const auto totp_secret = keep(secret_of(enrolled.out));
  ASSERT_FALSE(totp_secret.empty()) << enrolled.out;
  const auto raw_secret = crypto::base32_decode(totp_secret);
  ASSERT_TRUE(raw_secret.has_value());

  server.start();
  const auto options = server.client_options();

  const auto& clinician_login = logins.at("bachu.clinician");
  const auto& specialist_login = logins.at("shanghai.ortho");
  for (const auto& [username, login] : logins) keep(login.password);

  auto clinician = sign_in(options, clinician_login);
  auto specialist = sign_in(options, specialist_login);
  keep(clinician.token);
  keep(specialist.token);

  // Open with a question and a clinical summary; the specialist accepts.
  auto open = open_consultation_frame("orthopedics", v1::URGENCY_EMERGENCY);
  open.mutable_open_consultation()->set_question(
      keep("QUESTION-7c1f: crush injury of the left leg, amputate or revascularise?"));
  open.mutable_open_consultation()->set_clinical_summary(
      keep("SUMMARY-4be2: 19-year-old wrestler, pulseless foot, six hours since injury."));
  const auto consultation = call_for_consultation(*clinician.client, open);
  call_for_consultation(*specialist.client, accept_consultation_frame(consultation.id()));

  // Chat, a clinical note and a case file with a unique marker in its content.
  expect_ok(*clinician.client,
            post_text_frame(consultation.id(), "m-1", keep("CHAT-91d0: foot is cold and pale")));
  expect_ok(*specialist.client,
            post_text_frame(consultation.id(), "m-2", keep("CHAT-22aa: get a CT angiogram now")));
  v1::ClientFrame note;
  auto* post = note.mutable_post_message();
  post->set_consultation_id(consultation.id());
  post->set_client_msg_id("m-3");
  post->mutable_body()->mutable_note()->set_title(keep("NOTE-TITLE-5e6f vascular status"));
  post->mutable_body()->mutable_note()->set_text(keep("NOTE-0a93: popliteal pulse absent"));
  expect_ok(*specialist.client, note);

  const auto file_content =
      "DICOM-ish header " + keep("FILE-CONTENT-MARKER-3f9b8c2e") + std::string(4096, 'x');
  const auto file_name = keep("tursun-aynur-left-leg.dcm");
  const auto uploaded =
      files::upload(*clinician.client, file_name, file_content, consultation.id());
  ASSERT_EQ(uploaded.status().code(), v1::OK) << uploaded.status().message();
  EXPECT_EQ(files::download(*specialist.client, uploaded.case_file().id(), file_content.size()),
            file_content);

  // The report, then the consultation is read back and closed.
  v1::ClientFrame report;
  report.mutable_submit_report()->set_consultation_id(consultation.id());
  auto* body = report.mutable_submit_report()->mutable_report();
  body->set_findings(keep("FINDINGS-61c7: occluded popliteal artery"));
  body->set_impression(keep("IMPRESSION-0d3e: acute limb ischaemia, salvageable"));
  body->set_recommendations(keep("RECOMMEND-8e15: thrombectomy and fasciotomy"));
  body->set_follow_up(keep("FOLLOWUP-27b4: review in 2 weeks"));
  call_for_consultation(*specialist.client, report);
  expect_ok(*clinician.client, get_consultation_frame(consultation.id()));
  sync_whole_log(*clinician.client, consultation.id());

  // Resume on a new connection, then log out.
  {
    Client resumed(options);
    resumed.connect();
    ASSERT_EQ(resumed.resume(clinician.token).status().code(), v1::OK);
    v1::ClientFrame logout;
    logout.mutable_logout();
    expect_ok(resumed, logout);
  }

  // Failures: a wrong password, an unknown user, a forged token, a second factor that is
  // missing, an outsider's request and an undecodable frame carrying text.
  {
    Client stranger(options);
    stranger.connect();
    EXPECT_EQ(stranger.login("bachu.clinician", keep("WRONG-PASSWORD-b81e")).status().code(),
              v1::UNAUTHENTICATED);
    EXPECT_EQ(
        stranger.login(keep("no-such-user-9d2f"), keep("ANOTHER-PASSWORD-c40a")).status().code(),
        v1::UNAUTHENTICATED);
    EXPECT_EQ(stranger.resume(keep("FORGED-TOKEN-e5a7d0c3b2f1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"))
                  .status()
                  .code(),
              v1::UNAUTHENTICATED);
    EXPECT_EQ(stranger.login("admin", logins.at("admin").password).status().code(),
              v1::UNAUTHENTICATED);
  }
  {
    auto outsider = sign_in(options, logins.at("hotan.clinician"));
    keep(outsider.token);
    EXPECT_EQ(outsider.client->call(get_consultation_frame(consultation.id())).status().code(),
              v1::NOT_FOUND);
    outsider.client->send_raw("\xff\xff\xff" + keep("GARBAGE-FRAME-TEXT-6a0b"), false);
    EXPECT_TRUE(outsider.client->wait_closed(10s).has_value());
  }

  // The administrator's second factor.
  {
    Client admin(options);
    admin.connect();
    auto signed_in = admin.login("admin", logins.at("admin").password, current_totp(*raw_secret));
    if (signed_in.status().code() != v1::OK) {  // the step turned between reading and checking
      signed_in = admin.login("admin", logins.at("admin").password, current_totp(*raw_secret));
    }
    ASSERT_EQ(signed_in.status().code(), v1::OK) << signed_in.status().message();
    keep(signed_in.login().session_token());
    v1::ClientFrame organisations;
    organisations.mutable_list_organizations();
    expect_ok(admin, organisations);
  }

  clinician.client.reset();
  specialist.client.reset();
  const auto stopped = server.stop();
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << stopped.describe();

  const auto log = read_whole(log_file);
  // The capture works and the log is verbose: sessions, requests and the failures are in it.
  EXPECT_NE(log.find("opened a WebSocket session"), std::string::npos) << log;
  EXPECT_NE(log.find("undecodable frame"), std::string::npos) << log;
  EXPECT_NE(log.find("shutdown complete"), std::string::npos) << log;
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(log.find(secret), std::string::npos) << "the server log contains \"" << secret << '"';
  }
}

}  // namespace
}  // namespace tmc::e2e

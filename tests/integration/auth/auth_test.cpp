// Auth and abuse limits over real TLS: TOTP, throttling, revocation of live sessions, request
// rate, session count, slowloris handshake and idle peers.
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/api.hpp"
#include "app/data_dir.hpp"
#include "crypto/totp.hpp"
#include "domain/auth_service.hpp"
#include "domain/directory_service.hpp"
#include "raw_tls_client.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = telemed::v1;
using namespace std::chrono_literals;

constexpr auto revocation_deadline = 3s;

v1::ClientFrame list_orgs() {
  v1::ClientFrame frame;
  frame.mutable_list_organizations();
  return frame;
}

bool is_session_closing(const v1::Event& event) { return event.has_session_closing(); }

// A second handle on the running server's data directory, as another process (tmc-admin) has.
struct Admin {
  explicit Admin(const TestServer& server)
      : data_dir(server.data_dir() / "data"),
        keys(data_dir.load_key_ring()),
        store(server.open_store()),
        auth(*store, clock, audit, options(), &keys),
        directory(*store, clock, audit) {}

  static domain::AuthOptions options() {
    domain::AuthOptions options;
    options.password_params = crypto::ScryptParams{1024, 8, 1};
    return options;
  }

  app::DataDir data_dir;
  crypto::KeyRing keys;
  std::unique_ptr<store::Store> store;
  SystemClock clock;
  domain::NullAuditHook audit;
  domain::AuthService auth;
  domain::DirectoryService directory;
};

std::string current_code(const std::string& secret) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return crypto::totp_code(secret, std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

TEST(AuthIntegration, TotpEnrolmentLoginAndReuse) {
  TestServer server([](app::Config& config) { config.totp_required_roles = {store::Role::admin}; });
  // The demo administrator has no second factor yet: refused with a clear message.
  auto client = server.connect();
  auto refused = client->login("admin", server.password("admin"));
  EXPECT_EQ(refused.status().code(), v1::FAILED_PRECONDITION);
  EXPECT_NE(refused.status().message().find("second factor"), std::string::npos);

  Admin admin(server);
  const auto enrolled = admin.auth.enroll_totp("admin");
  ASSERT_TRUE(enrolled);
  const auto missing = client->login("admin", server.password("admin"));
  EXPECT_EQ(missing.status().code(), v1::UNAUTHENTICATED);
  EXPECT_NE(missing.status().message().find("second factor required"), std::string::npos);

  std::string code = current_code(enrolled->secret);
  auto signed_in = client->login("admin", server.password("admin"), code);
  if (signed_in.status().code() != v1::OK) {  // the step turned between reading and checking
    code = current_code(enrolled->secret);
    signed_in = client->login("admin", server.password("admin"), code);
  }
  ASSERT_EQ(signed_in.status().code(), v1::OK) << signed_in.status().message();
  EXPECT_EQ(signed_in.login().user().username(), "admin");

  auto other = server.connect();
  const auto replay = other->login("admin", server.password("admin"), code);
  EXPECT_EQ(replay.status().code(), v1::UNAUTHENTICATED);
}

TEST(AuthIntegration, RepeatedFailuresAreThrottled) {
  TestServer server;
  auto client = server.connect();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(client->login("bachu.clinician", "not-the-password").status().code(),
              v1::UNAUTHENTICATED);
  }
  const auto throttled = client->login("bachu.clinician", server.password("bachu.clinician"));
  EXPECT_EQ(throttled.status().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_NE(throttled.status().message().find("retry in"), std::string::npos);
  // Other accounts from the same address are not affected.
  EXPECT_EQ(client->login("shanghai.ortho", server.password("shanghai.ortho")).status().code(),
            v1::OK);
}

TEST(AuthIntegration, DisablingAUserInAnotherProcessClosesTheirLiveSessions) {
  TestServer server;
  auto victim = server.login("bachu.clinician");
  auto second_device = server.login("bachu.clinician");
  auto bystander = server.login("shanghai.ortho");
  Admin admin(server);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(admin.directory.set_disabled("bachu.clinician", true));
  for (auto* client : {victim.get(), second_device.get()}) {
    const auto closing = client->wait_event(is_session_closing, revocation_deadline);
    ASSERT_TRUE(closing.has_value());
    EXPECT_EQ(closing->session_closing().kind(), v1::SESSION_CLOSING_KIND_REVOKED);
    const auto closed = client->wait_closed(revocation_deadline);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, 1008);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, revocation_deadline);
  EXPECT_EQ(bystander->call(list_orgs()).status().code(), v1::OK);
}

// An expired session is told so, not that it was revoked (which would suggest a security event
// to the user), and closed like one.
TEST(AuthIntegration, ALiveSessionWhoseLifetimeEndsIsToldItExpired) {
  TestServer server([](app::Config& config) { config.session_lifetime = std::chrono::seconds(3); });
  auto client = server.login("bachu.clinician");
  const auto closing = client->wait_event(is_session_closing, std::chrono::seconds(30));
  ASSERT_TRUE(closing.has_value());
  EXPECT_EQ(closing->session_closing().kind(), v1::SESSION_CLOSING_KIND_EXPIRED);
  EXPECT_EQ(closing->session_closing().reason(), "session expired");
  const auto closed = client->wait_closed(revocation_deadline);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008);
}

TEST(AuthIntegration, PasswordResetClosesLiveSessions) {
  TestServer server;
  auto client = server.login("shanghai.ortho");
  Admin admin(server);
  ASSERT_TRUE(admin.directory.set_password_hash("shanghai.ortho",
                                                admin.auth.hash_password("a-new-password-123")));
  EXPECT_TRUE(client->wait_event(is_session_closing, revocation_deadline).has_value());
  const auto closed = client->wait_closed(revocation_deadline);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008);
}

TEST(AuthIntegration, RequestRateIsLimitedPerSession) {
  TestServer server([](app::Config& config) { config.requests_per_second = 5; });
  auto client = server.login("bachu.clinician");  // the login took one token of 10
  std::vector<v1::ClientFrame> frames(20, list_orgs());
  const auto responses = client->call_pipelined(frames);
  int ok = 0;
  int exhausted = 0;
  for (const auto& response : responses) {
    if (response.status().code() == v1::OK) ++ok;
    if (response.status().code() == v1::RESOURCE_EXHAUSTED) ++exhausted;
  }
  EXPECT_GE(ok, 9);
  EXPECT_LE(ok, 11);
  EXPECT_EQ(ok + exhausted, 20);
  // Another user's session is not affected.
  auto other = server.login("shanghai.ortho");
  EXPECT_EQ(other->call(list_orgs()).status().code(), v1::OK);

  // Sustained abuse (far beyond 10x the rate) closes the connection with 1008.
  try {
    for (int i = 0; i < 1000; ++i) client->send_raw(list_orgs().SerializeAsString(), false);
  } catch (const client::ClientError&) {
    // the server closed the connection while we were still flooding it
  }
  const auto closed = client->wait_closed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008);
  EXPECT_EQ(other->call(list_orgs()).status().code(), v1::OK);
}

TEST(AuthIntegration, LiveSessionsPerUserAreLimited) {
  TestServer server([](app::Config& config) { config.max_sessions_per_user = 2; });
  auto first = server.login("bachu.clinician");
  auto second = server.login("bachu.clinician");
  auto third = server.connect();
  const auto refused =
      third->login("bachu.clinician", server.password("bachu.clinician"));
  EXPECT_EQ(refused.status().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_EQ(server.login("shanghai.ortho")->call(list_orgs()).status().code(), v1::OK);
  first.reset();  // closes that connection; the slot frees once the server notices
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  v1::Response retried;
  do {
    auto again = server.connect();
    retried = again->login("bachu.clinician", server.password("bachu.clinician"));
  } while (retried.status().code() != v1::OK && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(retried.status().code(), v1::OK);
}

// Sign-ins waiting for a password check hold no worker: with twice as many waiting as there are
// workers, a signed-in user's requests are still answered, and every waiting sign-in gets its
// turn once checks finish.
TEST(AuthIntegration, SignInsWaitingForAPasswordCheckHoldNoWorker) {
  TestServer server([](app::Config& config) { config.workers = 2; });
  auto signed_in = server.login("shanghai.ortho");
  auto& checks = server.app().api().services().auth->password_checks();
  std::vector<domain::Admission::Ticket> running;  // other sign-ins' checks, on every slot
  while (auto ticket = checks.try_enter()) running.push_back(std::move(*ticket));
  constexpr int kWaiting = 4;
  std::vector<std::unique_ptr<client::BlockingClient>> clients;
  std::vector<std::future<v1::Response>> logins;
  for (int i = 0; i < kWaiting; ++i) {
    clients.push_back(server.connect());
    v1::ClientFrame frame;
    frame.mutable_login()->set_username("bachu.clinician");
    frame.mutable_login()->set_password(server.password("bachu.clinician"));
    logins.push_back(clients.back()->call_async(std::move(frame)));
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (checks.waiting() < kWaiting && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(checks.waiting(), kWaiting);
  EXPECT_EQ(signed_in->call(list_orgs(), 5s).status().code(), v1::OK);
  running.clear();
  for (auto& login : logins) EXPECT_EQ(login.get().status().code(), v1::OK);
}

// Keeps the responses the server sends on a connection opened on its Api directly.
class RecordingOutbound final : public api::Outbound {
 public:
  void send(std::shared_ptr<const std::string> frame, api::Lane) override {
    v1::ServerFrame decoded;
    ASSERT_TRUE(decoded.ParseFromString(*frame));
    std::lock_guard lock(mutex_);
    if (decoded.has_response()) responses_.push_back(decoded.response());
    answered_.notify_all();
  }
  void close(api::CloseCode, std::string) override {}
  // The responses once count have arrived, or those that have after 30 s.
  std::vector<v1::Response> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    answered_.wait_for(lock, 30s, [&] { return responses_.size() >= count; });
    return responses_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable answered_;
  std::vector<v1::Response> responses_;
};

// Requests pipelined behind a sign-in are served as the signed-in caller, whatever their lane
// (file requests run on a lane of their own, beside the one signing in).
TEST(AuthIntegration, RequestsPipelinedBehindASignInAreServedSignedIn) {
  TestServer server([](app::Config& config) { config.workers = 1; });
  auto& api = server.app().api();
  auto& checks = api.services().auth->password_checks();
  std::vector<domain::Admission::Ticket> running;  // the login waits for its check's turn
  while (auto ticket = checks.try_enter()) running.push_back(std::move(*ticket));
  auto outbound = std::make_shared<RecordingOutbound>();
  auto connection = api.open(outbound, api::PeerInfo{"127.0.0.1:9", {}, {}});
  v1::ClientFrame login;
  login.set_request_id(1);
  login.mutable_login()->set_username("bachu.clinician");
  login.mutable_login()->set_password(server.password("bachu.clinician"));
  v1::ClientFrame read;
  read.set_request_id(2);
  read.mutable_read_file()->set_file_id("cf_none");
  connection->on_binary(login.SerializeAsString());
  while (checks.waiting() == 0) std::this_thread::yield();
  connection->on_binary(read.SerializeAsString());
  // Whatever the read started on the one worker has run once this has.
  std::promise<void> drained;
  boost::asio::post(api.workers(), [&] { drained.set_value(); });
  drained.get_future().wait();
  running.clear();
  const auto responses = outbound->wait_for(2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].request_id(), 1u);
  EXPECT_EQ(responses[0].status().code(), v1::OK);
  EXPECT_EQ(responses[1].request_id(), 2u);
  EXPECT_EQ(responses[1].status().code(), v1::NOT_FOUND);
  connection->on_closed();
}

// A request that arrived before a sign-in on the same lane is served first, as sent; only what
// comes after the sign-in waits for it. (The request used to wait for the sign-in queued behind
// it, and neither was ever answered.)
TEST(AuthIntegration, ARequestSentBeforeASignInIsAnsweredAndTheSignInToo) {
  TestServer server([](app::Config& config) { config.workers = 1; });
  auto& api = server.app().api();
  std::promise<void> busy;
  std::promise<void> release;
  boost::asio::post(api.workers(), [&, done = release.get_future()] {
    busy.set_value();
    done.wait();
  });
  busy.get_future().wait();  // both frames are queued before the one worker looks at either
  auto outbound = std::make_shared<RecordingOutbound>();
  auto connection = api.open(outbound, api::PeerInfo{"127.0.0.1:9", {}, {}});
  v1::ClientFrame early;
  early.set_request_id(1);
  early.mutable_list_organizations();
  v1::ClientFrame login;
  login.set_request_id(2);
  login.mutable_login()->set_username("bachu.clinician");
  login.mutable_login()->set_password(server.password("bachu.clinician"));
  connection->on_binary(early.SerializeAsString());
  connection->on_binary(login.SerializeAsString());
  release.set_value();
  const auto responses = outbound->wait_for(2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].request_id(), 1u);
  EXPECT_EQ(responses[0].status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(responses[1].request_id(), 2u);
  EXPECT_EQ(responses[1].status().code(), v1::OK);
  connection->on_closed();
}

TEST(AuthIntegration, SlowlorisHeadersAreCutOffAtTheHandshakeDeadline) {
  TestServer server([](app::Config& config) { config.handshake_timeout = 1000ms; });
  RawTlsClient client(server.port());
  const std::string request =
      "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: telemed.v1\r\n";
  const auto started = std::chrono::steady_clock::now();
  // One byte every 200 ms: each byte is activity, but the deadline counts from the accept, so
  // the server drops us after about a second; our writes then fail (reset by the peer).
  bool refused = false;
  for (const char byte : request) {
    if (!client.try_write(std::string(1, byte))) {
      refused = true;
      break;
    }
    std::this_thread::sleep_for(200ms);  // the dribble itself, not a synchronisation
  }
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(refused) << "the server accepted a dribbled header for " << request.size() * 200
                       << " ms";
  EXPECT_LT(waited, 3s);
}

TEST(AuthIntegration, APeerThatNeverAnswersPingsIsClosedAtTheIdleTimeout) {
  TestServer server([](app::Config& config) { config.idle_timeout = 1000ms; });
  RawTlsClient client(server.port());
  client.write(websocket_upgrade_headers() + "\r\n");
  const auto response = client.read_until("\r\n\r\n");
  ASSERT_EQ(response.rfind("HTTP/1.1 101", 0), 0u) << response;
  // Upgraded; from now on the client reads (the server's pings) but never answers.
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.wait_closed(5000ms)) << "the server kept a silent peer beyond 5 s";
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 500ms);
  EXPECT_LT(waited, 3s);
}

}  // namespace
}  // namespace tmc::testing

// Foundation over real TLS through tmc_client: authentication, directory, envelope, close codes.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "raw_tls_client.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

namespace v1 = ::telemed::v1;
using namespace std::chrono_literals;

class Foundation : public ::testing::Test {
 protected:
  // Started by the first test rather than in SetUpTestSuite: a server that cannot start (e.g.
  // PostgreSQL unreachable) then fails the tests instead of leaving them "skipped".
  void SetUp() override {
    if (server_ == nullptr) server_ = new TestServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer& server() { return *server_; }

  static v1::ClientFrame list_orgs() {
    v1::ClientFrame frame;
    frame.mutable_list_organizations();
    return frame;
  }

  static TestServer* server_;
};
TestServer* Foundation::server_ = nullptr;

TEST_F(Foundation, LoginReturnsTokenAndUser) {
  auto client = server().connect();
  auto response = client->login("bachu.clinician", server().password("bachu.clinician"));
  ASSERT_EQ(response.status().code(), v1::OK) << response.status().message();
  ASSERT_TRUE(response.has_login());
  EXPECT_EQ(response.login().session_token().size(), 43u);
  EXPECT_EQ(response.login().user().username(), "bachu.clinician");
  EXPECT_EQ(response.login().user().role(), v1::ROLE_CLINICIAN);
  EXPECT_EQ(response.login().user().organization_id(), "bachu");
  EXPECT_GT(response.login().expires_at().seconds(), 0);
}

TEST_F(Foundation, WrongPasswordAndUnknownUserLookTheSame) {
  auto client = server().connect();
  auto wrong = client->login("bachu.clinician", "not-the-password");
  auto unknown = client->login("nobody.here", "whatever-password");
  EXPECT_EQ(wrong.status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(unknown.status().code(), v1::UNAUTHENTICATED);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  EXPECT_FALSE(wrong.has_login());
}

TEST_F(Foundation, RequestsBeforeLoginAreUnauthenticated) {
  auto client = server().connect();
  auto response = client->call(list_orgs());
  EXPECT_EQ(response.status().code(), v1::UNAUTHENTICATED);
  v1::ClientFrame logout;
  logout.mutable_logout();
  EXPECT_EQ(client->call(logout).status().code(), v1::UNAUTHENTICATED);
}

TEST_F(Foundation, ResumeOnNewConnectionThenLogoutRevokes) {
  auto first = server().connect();
  auto login = first->login("shanghai.ortho", server().password("shanghai.ortho"));
  ASSERT_EQ(login.status().code(), v1::OK);
  const auto token = login.login().session_token();

  auto second = server().connect();
  auto resumed = second->resume(token);
  ASSERT_EQ(resumed.status().code(), v1::OK) << resumed.status().message();
  EXPECT_EQ(resumed.login().user().username(), "shanghai.ortho");
  EXPECT_EQ(second->call(list_orgs()).status().code(), v1::OK);

  v1::ClientFrame logout;
  logout.mutable_logout();
  auto out = first->call(logout);
  ASSERT_EQ(out.status().code(), v1::OK);
  EXPECT_TRUE(out.has_logout());
  // The connection that logged out is back to unauthenticated.
  EXPECT_EQ(first->call(list_orgs()).status().code(), v1::UNAUTHENTICATED);
  // The other connection that held the same token is told and closed with 1008.
  auto closing = second->wait_event(
      [](const v1::Event& event) { return event.has_session_closing(); }, 5s);
  EXPECT_TRUE(closing.has_value());
  auto closed = second->wait_closed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008);
  // And the token no longer resumes anywhere.
  auto third = server().connect();
  EXPECT_EQ(third->resume(token).status().code(), v1::UNAUTHENTICATED);
}

TEST_F(Foundation, ForgedTokenIsRefused) {
  auto client = server().connect();
  EXPECT_EQ(client->resume("forged-token-that-was-never-issued").status().code(),
            v1::UNAUTHENTICATED);
}

TEST_F(Foundation, SecondLoginOnSignedInConnectionIsRefused) {
  auto client = server().login("bachu.clinician");
  auto again = client->login("bachu.clinician", server().password("bachu.clinician"));
  EXPECT_EQ(again.status().code(), v1::FAILED_PRECONDITION);
}

TEST_F(Foundation, OrganisationsAndPairings) {
  auto client = server().login("bachu.clinician");
  auto response = client->call(list_orgs());
  ASSERT_EQ(response.status().code(), v1::OK);
  const auto& result = response.list_organizations();
  EXPECT_EQ(result.organizations_size(), 9);
  EXPECT_EQ(result.pairings_size(), 5);
  bool bachu_shanghai = false;
  for (const auto& pairing : result.pairings()) {
    if (pairing.county_organization_id() == "bachu" &&
        pairing.partner_organization_id() == "shanghai") {
      bachu_shanghai = true;
    }
  }
  EXPECT_TRUE(bachu_shanghai);
  for (const auto& organization : result.organizations()) {
    if (organization.id() == "bachu") {
      EXPECT_EQ(organization.time_zone(), "Asia/Urumqi");
    }
    if (organization.id() == "shanghai") {
      EXPECT_EQ(organization.time_zone(), "Asia/Shanghai");
    }
  }
}

TEST_F(Foundation, SpecialistsFollowPairings) {
  auto client = server().login("yengisar.clinician");
  v1::ClientFrame frame;
  frame.mutable_list_specialists()->set_specialty("ophthalmology");
  auto response = client->call(frame);
  ASSERT_EQ(response.status().code(), v1::OK);
  ASSERT_GT(response.list_specialists().users_size(), 0);
  for (const auto& user : response.list_specialists().users()) {
    EXPECT_EQ(user.organization_id(), "jining");  // never Jinhua's ophthalmologist
    EXPECT_EQ(user.role(), v1::ROLE_SPECIALIST);
  }
  frame.mutable_list_specialists()->set_organization_id("shanghai");
  EXPECT_EQ(client->call(frame).status().code(), v1::PERMISSION_DENIED);
}

TEST_F(Foundation, PipelinedRequestsAreEachAnsweredOnce) {
  auto client = server().login("hotan.clinician");
  std::vector<v1::ClientFrame> frames(50, list_orgs());
  auto responses = client->call_pipelined(frames);
  ASSERT_EQ(responses.size(), 50u);
  std::set<std::uint64_t> ids;
  for (const auto& response : responses) {
    EXPECT_EQ(response.status().code(), v1::OK);
    ids.insert(response.request_id());
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_F(Foundation, UnknownRequestTypeIsUnimplemented) {
  auto client = server().login("hotan.clinician");
  v1::ClientFrame empty;  // no request set, as a newer client's unknown request decodes
  EXPECT_EQ(client->call(empty).status().code(), v1::UNIMPLEMENTED);
}

TEST_F(Foundation, GarbageFrameClosesWith1002AndOthersAreServed) {
  auto bystander = server().login("wensu.clinician");
  auto client = server().connect();
  client->send_raw(std::string("\xff\xff\xff\xff\x0f garbage", 13), /*text=*/false);
  auto closed = client->wait_closed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1002);
  EXPECT_EQ(bystander->call(list_orgs()).status().code(), v1::OK);
}

TEST_F(Foundation, TextFrameClosesWith1003) {
  auto client = server().connect();
  client->send_raw("{\"login\":{}}", /*text=*/true);
  auto closed = client->wait_closed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1003);
}

TEST_F(Foundation, OversizedFrameClosesWith1009) {
  auto client = server().connect();
  client->send_raw(std::string(4 * 1024 * 1024 + 1, 'x'), /*text=*/false);
  auto closed = client->wait_closed(10s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1009);
}

TEST_F(Foundation, WrongSubprotocolIsRefused) {
  auto options = server().client_options();
  options.subprotocol = "telemed.v0";
  client::BlockingClient client(options);
  EXPECT_ANY_THROW(client.connect());
}

// Attempts a TLS handshake limited to one protocol version; true when it succeeds.
bool handshake_with(std::uint16_t port, int version) {
  return tls_handshake_succeeds(port, {version, version, {}});
}

TEST_F(Foundation, OldTlsVersionsAreRefused) {
  EXPECT_FALSE(handshake_with(server().port(), TLS1_1_VERSION));
  EXPECT_FALSE(handshake_with(server().port(), TLS1_VERSION));
  EXPECT_TRUE(handshake_with(server().port(), TLS1_2_VERSION));
  EXPECT_TRUE(handshake_with(server().port(), TLS1_3_VERSION));
}

TEST_F(Foundation, HealthzAnswers) {
  const std::string command = "curl -sf --cacert " + dev_ca_file() +
                              " https://localhost:" + std::to_string(server().port()) +
                              "/healthz";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[64] = {};
  const auto read = std::fread(buffer, 1, sizeof(buffer) - 1, pipe);
  EXPECT_EQ(::pclose(pipe), 0);
  EXPECT_EQ(std::string(buffer, read), "ok\n");
}

// Operators tell the server's threads apart in top -H, ps -L and perf by their names.
TEST_F(Foundation, ServerThreadsAreNamedByRole) {
  std::map<std::string, int> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    ++names[name];
  }
  // Threads started while the server was built (the io threads start later, in run()).
  EXPECT_EQ(names["tmc-worker"], 8);  // every thread of the pool (TestServer: 8 workers)
  EXPECT_GE(names["tmc-writer"], 1);
  EXPECT_EQ(names["tmc-audit"], 1);
  EXPECT_GE(names["tmc-files"], 1);
  EXPECT_EQ(names["tmc-expiry"], 1);
}

TEST(GracefulShutdown, SessionsAreToldAndClosedWith1001) {
  TestServer server;
  auto client = server.login("bachu.clinician");
  server.stop();
  auto closing = client->wait_event(
      [](const v1::Event& event) { return event.has_session_closing(); }, 5s);
  EXPECT_TRUE(closing.has_value());
  auto closed = client->wait_closed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1001);
}

}  // namespace
}  // namespace tmc::testing

// tmc-client's consult commands end to end, in process, against a real server over TLS.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "cli/app.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

class ClientCli : public ::testing::Test {
 protected:
  // tmc-client as username (its own token file), with input on standard input.
  Outcome run_as(const std::string& username, std::vector<std::string> arguments,
                 const std::string& input = {}) {
    const auto options = server_.client_options();
    std::vector<std::string> line = {
        "--server", options.host + ":" + std::to_string(server_.port()), "--ca", options.ca_file,
        "--token-file", (tokens_.path() / (username + ".token")).string()};
    line.insert(line.end(), arguments.begin(), arguments.end());
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int code = cli::run(line, in, out, err, [](std::string_view) {
      return std::optional<std::string>();
    });
    return {code, out.str(), err.str()};
  }

  void login(const std::string& username) {
    const auto outcome = run_as(username, {"login", username, "--password-stdin"},
                                server_.password(username) + "\n");
    ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  }

  // Opens the article's emergency as bachu.clinician; returns the id.
  std::string open_emergency() {
    const auto opened = run_as(
        "bachu.clinician",
        {"consult", "open", "--specialty", "orthopedics", "--urgency", "emergency", "--patient",
         "P-2026-0042", "--age", "19", "--sex", "m", "--question", "Crushed leg: save it?",
         "--print-id"});
    EXPECT_EQ(opened.exit_code, 0) << opened.err;
    std::string id = opened.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(id.find('\n'), std::string::npos) << "--print-id prints only the id";
    return id;
  }

  TestServer server_;
  TempDir tokens_;
};

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

}  // namespace
}  // namespace tmc::testing

// tmc-client end to end without a server: help, usage errors, exit codes, no-session handling.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <sstream>

#include "cli/app.hpp"
#include "cli/command.hpp"

namespace tmc::cli {
namespace {

// A loopback port where nothing listens (bound, then released).
std::string unused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  return std::to_string(acceptor.local_endpoint().port());
}

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

Outcome run_cli(const std::vector<std::string>& arguments, const std::string& input = {},
                std::map<std::string, std::string> env = {}) {
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  const Environment environment = [&env](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  const int code = run(arguments, in, out, err, environment);
  return {code, out.str(), err.str()};
}

TEST(Cli, HelpListsEveryCommand) {
  const auto outcome = run_cli({"--help"});
  EXPECT_EQ(outcome.exit_code, 0);
  for (const Command& command : command_table()) {
    EXPECT_NE(outcome.out.find(std::string(command.name)), std::string::npos) << command.name;
  }
  EXPECT_NE(outcome.out.find("--token-file"), std::string::npos);
}

TEST(Cli, CommandTableLookup) {
  ASSERT_NE(find_command("login"), nullptr);
  EXPECT_EQ(find_command("login")->run, &run_login);
  EXPECT_EQ(find_command("nope"), nullptr);
}

TEST(Cli, UsageErrorsExit64) {
  EXPECT_EQ(run_cli({}).exit_code, exit_usage);
  const auto unknown = run_cli({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, exit_usage);
  EXPECT_NE(unknown.err.find("unknown command \"frobnicate\""), std::string::npos);

  const auto missing = run_cli({"specialists"});
  EXPECT_EQ(missing.exit_code, exit_usage);
  EXPECT_NE(missing.err.find("usage: tmc-client specialists"), std::string::npos);

  EXPECT_EQ(run_cli({"whoami", "extra"}).exit_code, exit_usage);
  EXPECT_EQ(run_cli({"login"}).exit_code, exit_usage);
}

TEST(Cli, ConsultHelpAndUsageErrors) {
  const auto help = run_cli({"consult", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("consult open --specialty"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("consult chat ID"), std::string::npos) << help.out;

  const auto missing = run_cli({"consult"});
  EXPECT_EQ(missing.exit_code, exit_usage);
  EXPECT_NE(missing.err.find("missing subcommand"), std::string::npos) << missing.err;

  // Usage errors are found before any connection is attempted.
  const auto bad = run_cli({"--server", "127.0.0.1:" + unused_port(), "consult", "accept"});
  EXPECT_EQ(bad.exit_code, exit_usage);
  EXPECT_NE(bad.err.find("usage: tmc-client consult accept ID"), std::string::npos) << bad.err;
}

TEST(Cli, WithoutSessionTokenSaysNotLoggedIn) {
  const auto outcome = run_cli({"--token-file", "/nonexistent/tmc/session.token", "--server",
                                "127.0.0.1:" + unused_port(), "whoami"});
  EXPECT_EQ(outcome.exit_code, exit_failure);
  EXPECT_NE(outcome.err.find("error: not logged in"), std::string::npos) << outcome.err;
}

TEST(Cli, ConnectionFailureIsOneLineAndExit2) {
  const auto outcome = run_cli(
      {"--server", "127.0.0.1:" + unused_port(), "--ca",
       TMC_SOURCE_DIR "/client-sample/CMakeLists.txt", "login", "dr.ana", "--password-stdin"},
      "secret\n");
  EXPECT_EQ(outcome.exit_code, exit_connection);
  // A CMakeLists.txt is no CA certificate: the CA load fails before any network traffic.
  EXPECT_NE(outcome.err.find("error: cannot load CA file"), std::string::npos) << outcome.err;
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  EXPECT_EQ(outcome.err.find("secret"), std::string::npos);
}

TEST(Cli, RefusedConnectionExit2) {
  const std::string port = unused_port();
  const auto outcome =
      run_cli({"--server", "127.0.0.1:" + port, "--ca", "", "login", "dr.ana", "--password-stdin"},
              "secret\n");
  EXPECT_EQ(outcome.exit_code, exit_connection);
  EXPECT_EQ(outcome.err, "error: cannot connect to 127.0.0.1:" + port + ": Connection refused\n");
}

}  // namespace
}  // namespace tmc::cli

// Command-line parsing of tmc-client: global options, environment defaults, command arguments.
#include "cli/settings.hpp"

#include <gtest/gtest.h>

#include <map>

namespace tmc::cli {
namespace {

Environment fake_environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ServerAddress, ParsesHostPortForms) {
  auto plain = parse_server_address("tmc.example.org:9443");
  EXPECT_EQ(plain.host, "tmc.example.org");
  EXPECT_EQ(plain.port, "9443");
  auto no_port = parse_server_address("127.0.0.1");
  EXPECT_EQ(no_port.host, "127.0.0.1");
  EXPECT_EQ(no_port.port, "8443");
  auto v6 = parse_server_address("[::1]:8444");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, "8444");
}

TEST(ServerAddress, RejectsMalformedAddresses) {
  for (const char* bad : {"", ":8443", "host:", "host:port", "host:70000", "host:0", "::1:8443",
                          "[::1", "[::1]8443"}) {
    EXPECT_THROW(parse_server_address(bad), UsageError) << bad;
  }
}

TEST(CommandLine, DefaultsComeFromEnvironmentThenBuiltIns) {
  auto line = parse_command_line({"orgs"}, fake_environment({{"HOME", "/home/ana"}}));
  EXPECT_EQ(line.command, "orgs");
  EXPECT_TRUE(line.args.empty());
  EXPECT_EQ(line.settings.client.host, "localhost");
  EXPECT_EQ(line.settings.client.port, "8443");
  EXPECT_EQ(line.settings.client.ca_file, "certs/out/ca.crt");
  EXPECT_EQ(line.settings.token_file, "/home/ana/.config/tmc/session.token");
  EXPECT_FALSE(line.settings.json);

  auto from_env = parse_command_line({"orgs"}, fake_environment({{"TMC_SERVER", "tmc.local:9000"},
                                                                 {"TMC_CA", "/etc/tmc/ca.pem"},
                                                                 {"TMC_TOKEN_FILE", "/tmp/t"}}));
  EXPECT_EQ(from_env.settings.client.host, "tmc.local");
  EXPECT_EQ(from_env.settings.client.port, "9000");
  EXPECT_EQ(from_env.settings.client.ca_file, "/etc/tmc/ca.pem");
  EXPECT_EQ(from_env.settings.token_file, "/tmp/t");
}

TEST(CommandLine, FlagsOverrideEnvironmentAndMayFollowTheCommand) {
  auto line = parse_command_line(
      {"--server", "10.0.0.5:8443", "specialists", "--specialty", "orthopedics", "--json",
       "--organization=org-7", "--ca", "ca.pem", "--cert", "c.pem", "--key", "k.pem"},
      fake_environment({{"TMC_SERVER", "ignored:1"}}));
  EXPECT_EQ(line.command, "specialists");
  EXPECT_EQ(line.args,
            (std::vector<std::string>{"--specialty", "orthopedics", "--organization=org-7"}));
  EXPECT_EQ(line.settings.client.host, "10.0.0.5");
  EXPECT_EQ(line.settings.client.ca_file, "ca.pem");
  EXPECT_EQ(line.settings.client.client_certificate_file, "c.pem");
  EXPECT_EQ(line.settings.client.client_private_key_file, "k.pem");
  EXPECT_TRUE(line.settings.json);
}

TEST(CommandLine, KeepsCommandArgumentsInOrder) {
  auto line = parse_command_line({"login", "dr.ana", "--password-stdin", "--totp", "123456"},
                                 fake_environment({}));
  EXPECT_EQ(line.command, "login");
  EXPECT_EQ(line.args,
            (std::vector<std::string>{"dr.ana", "--password-stdin", "--totp", "123456"}));
}

TEST(CommandLine, RejectsInconsistentOrUnknownGlobalOptions) {
  const auto env = fake_environment({});
  EXPECT_THROW(parse_command_line({"--cert", "c.pem", "orgs"}, env), UsageError);
  EXPECT_THROW(parse_command_line({"--bogus", "orgs"}, env), UsageError);
  EXPECT_THROW(parse_command_line({"--server", "nope:x", "orgs"}, env), UsageError);
  EXPECT_THROW(parse_command_line({"--server"}, env), UsageError);
}

TEST(CommandLine, HelpWithoutCommand) {
  auto line = parse_command_line({"--help"}, fake_environment({}));
  EXPECT_TRUE(line.help);
  EXPECT_TRUE(line.command.empty());
}

}  // namespace
}  // namespace tmc::cli

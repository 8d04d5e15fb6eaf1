// Configuration precedence (flags > environment > file > defaults) and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "app/config.hpp"

namespace tmc::app {
namespace {

struct Parse {
  std::vector<std::string> args;
  std::map<std::string, std::string> env = {};

  ParsedConfig run() const {
    std::vector<const char*> argv{"tmc-server"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return parse_config(static_cast<int>(argv.size()), argv.data(), [this](const std::string& n) {
      auto it = env.find(n);
      return it == env.end() ? std::string() : it->second;
    });
  }
};

TEST(Config, DefaultsAreUsable) {
  auto parsed = Parse{}.run();
  ASSERT_TRUE(parsed.config) << parsed.error;
  EXPECT_EQ(parsed.config->listen, "0.0.0.0:8443");
  EXPECT_EQ(parsed.config->max_frame_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(parsed.config->scrypt_log2_n, 17);
}

TEST(Config, FlagsBeatEnvironmentWhichBeatsFile) {
  const auto file = std::filesystem::temp_directory_path() / "tmc-config-test.conf";
  {
    std::ofstream out(file);
    out << "listen = 127.0.0.1:7000\nworkers = 3\nlog-level = debug\n";
  }
  Parse parse;
  parse.args = {"--config", file.string(), "--listen", "127.0.0.1:9000"};
  parse.env = {{"TMC_LISTEN", "127.0.0.1:8000"}, {"TMC_WORKERS", "5"}};
  auto parsed = parse.run();
  std::filesystem::remove(file);
  ASSERT_TRUE(parsed.config) << parsed.error;
  EXPECT_EQ(parsed.config->listen, "127.0.0.1:9000");  // flag
  EXPECT_EQ(parsed.config->workers, 5u);               // environment over file
  EXPECT_EQ(parsed.config->log_level, "debug");        // file over default
}

TEST(Config, EnvironmentSwitches) {
  Parse parse;
  parse.args = {"--client-ca", "ca.pem"};
  parse.env = {{"TMC_REQUIRE_CLIENT_CERT", "1"}};
  auto parsed = parse.run();
  ASSERT_TRUE(parsed.config) << parsed.error;
  EXPECT_TRUE(parsed.config->require_client_cert);
}

// The error line of parsing args.
std::string error_of(std::vector<std::string> args) { return Parse{std::move(args)}.run().error; }

TEST(Config, ErrorsNameTheProblem) {
  EXPECT_NE(error_of({"--listen", "nonsense"}).find("--listen"), std::string::npos);
  EXPECT_NE(error_of({"--no-such-option"}).find("no-such-option"), std::string::npos);
  EXPECT_NE(error_of({"--log-format", "xml"}).find("log-format"), std::string::npos);
  EXPECT_NE(error_of({"--require-client-cert"}).find("client-ca"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent/tmc.conf"}).find("/nonexistent"),
            std::string::npos);
  EXPECT_FALSE(error_of({"--workers", "0"}).empty());
  EXPECT_NE(error_of({"--outbound-queue-bytes", "1048576"}).find("outbound-queue-bytes"),
            std::string::npos);
  EXPECT_NE(error_of({"--max-frame-bytes", "33554432"}).find("outbound-queue-bytes"),
            std::string::npos)
      << "the default queue (16 MiB) cannot hold a frame of 32 MiB";
}

TEST(Config, HelpListsOptions) {
  auto parsed = Parse{{"--help"}}.run();
  EXPECT_NE(parsed.help.find("--data-dir"), std::string::npos);
  EXPECT_NE(parsed.help.find("TMC_"), std::string::npos);
}

TEST(Config, ListenAddressForms) {
  auto v4 = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  auto v6 = parse_listen_address("[::1]:8443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8443);
  EXPECT_FALSE(parse_listen_address("localhost"));
  EXPECT_FALSE(parse_listen_address("host:70000"));
  EXPECT_FALSE(parse_listen_address(":80"));
}

}  // namespace
}  // namespace tmc::app

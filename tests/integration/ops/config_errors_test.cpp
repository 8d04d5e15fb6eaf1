// tmc-server start-up with a bad configuration: exit non-zero with one stderr line naming it.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "ops_support.hpp"

namespace tmc::testing::ops {
namespace {

namespace fs = std::filesystem;

const std::string server_binary = std::string(TMC_BINARY_DIR) + "/server/tmc-server";
const std::string admin_binary = std::string(TMC_BINARY_DIR) + "/server/admin/tmc-admin";

class ConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ca_file();
    data_dir_ = scratch_.path() / "data";
    const auto init = run_command(admin_binary + " --data-dir '" + data_dir_.string() + "' init",
                                  scratch_.path());
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  // Runs tmc-server with a valid configuration in which the given options are replaced (an
  // empty value drops the option) plus extra arguments; a timeout guards against a server that
  // starts when it should not.
  CommandResult start(const std::map<std::string, std::string>& replaced,
                      const std::string& extra = {}) {
    std::map<std::string, std::string> options{
        {"data-dir", data_dir_.string()},
        {"listen", "127.0.0.1:0"},
        {"tls-cert", dev_certs_dir() + "/server.crt"},
        {"tls-key", dev_certs_dir() + "/server.key"}};
    for (const auto& [name, value] : replaced) options[name] = value;
    std::string command = "timeout 30 env -u TMC_LISTEN -u TMC_DATA_DIR " + server_binary;
    for (const auto& [name, value] : options) {
      if (!value.empty()) command += " --" + name + " '" + value + "'";
    }
    return run_command(command + " " + extra, scratch_.path());
  }

  // Exit status non-zero (and not the timeout's 124), one line on stderr containing needle.
  static void expect_one_line_error(const CommandResult& result, const std::string& needle) {
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.exit_code, 124) << "the server started";
    ASSERT_FALSE(result.err.empty());
    EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "more than one line:\n"
                                                            << result.err;
    EXPECT_NE(result.err.find(needle), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
  }

  TempDir scratch_;
  fs::path data_dir_;
};

TEST_F(ConfigErrors, UnknownOption) {
  expect_one_line_error(start({}, "--frobnicate 3"), "frobnicate");
}

TEST_F(ConfigErrors, BadListenAddress) {
  expect_one_line_error(start({{"listen", "no-port-here"}}), "--listen");
  expect_one_line_error(start({{"listen", "999.1.2.3:8443"}}), "999.1.2.3");
}

TEST_F(ConfigErrors, MissingCertificate) {
  const auto missing = (scratch_.path() / "nowhere.crt").string();
  expect_one_line_error(start({{"tls-cert", missing}}), missing);
}

TEST_F(ConfigErrors, TlsKeyReadableByOthers) {
  const auto key = scratch_.path() / "server.key";
  fs::copy_file(dev_certs_dir() + "/server.key", key);
  ::chmod(key.c_str(), 0644);
  const auto result = start({{"tls-key", key.string()}});
  expect_one_line_error(result, key.string());
  EXPECT_NE(result.err.find("0644"), std::string::npos) << result.err;
}

TEST_F(ConfigErrors, MissingTlsKey) {
  const auto missing = (scratch_.path() / "absent.key").string();
  expect_one_line_error(start({{"tls-key", missing}}), missing);
}

TEST_F(ConfigErrors, KeyEncryptionKeyFileWithWrongMode) {
  ::chmod((data_dir_ / "kek.keys").c_str(), 0644);
  expect_one_line_error(start({}), "kek.keys");
}

// A node started without the deployment's audit.key would sign heads with a key of its own
// that no verification trusts: once the log has signed heads, a missing key is refused.
TEST_F(ConfigErrors, AuditKeyMissingOnceHeadsAreSigned) {
  const auto head = run_command(
      admin_binary + " --data-dir '" + data_dir_.string() + "' audit head", scratch_.path());
  ASSERT_EQ(head.exit_code, 0) << head.err;
  fs::remove(data_dir_ / "audit.key");
  expect_one_line_error(start({}), "audit.key");
  EXPECT_FALSE(fs::exists(data_dir_ / "audit.key"));
}

TEST_F(ConfigErrors, DataDirectoryNotInitialised) {
  expect_one_line_error(start({{"data-dir", (scratch_.path() / "empty").string()}}),
                        "tmc-admin");
}

TEST_F(ConfigErrors, UnreadableConfigFile) {
  expect_one_line_error(start({}, "--config /nonexistent/tmc-server.conf"),
                        "/nonexistent/tmc-server.conf");
}

TEST_F(ConfigErrors, ShippedExampleConfigIsValid) {
  // The example config of packaging/ parses: --help after it proves no option is unknown.
  const auto result = run_command(server_binary + " --config '" + std::string(TMC_SOURCE_DIR) +
                                      "/packaging/tmc-server.conf' --help",
                                  scratch_.path());
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace tmc::testing::ops

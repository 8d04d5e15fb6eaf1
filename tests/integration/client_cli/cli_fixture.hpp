// A fixture for running tmc-client commands in process against a real server over TLS.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/app.hpp"
#include "test_server.hpp"

namespace tmc::testing {

struct CliOutcome {
  int exit_code;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  // tmc-client as username (its own token file), with input on standard input.
  CliOutcome run_as(const std::string& username, std::vector<std::string> arguments,
                    const std::string& input = {}) {
    std::ostringstream err;
    auto outcome = run_as(username, std::move(arguments), input, err);
    outcome.err = err.str();
    return outcome;
  }

  // The same with standard error going to err (the outcome's err is left empty).
  CliOutcome run_as(const std::string& username, std::vector<std::string> arguments,
                    const std::string& input, std::ostream& err) {
    const auto options = server_.client_options();
    std::vector<std::string> line = {
        "--server",     options.host + ":" + std::to_string(server_.port()),
        "--ca",         options.ca_file,
        "--token-file", (tokens_.path() / (username + ".token")).string()};
    line.insert(line.end(), arguments.begin(), arguments.end());
    std::istringstream in(input);
    std::ostringstream out;
    const int code =
        cli::run(line, in, out, err, [](std::string_view) { return std::optional<std::string>(); });
    return {code, out.str(), {}};
  }

  void login(const std::string& username) {
    const auto outcome = run_as(username, {"login", username, "--password-stdin"},
                                server_.password(username) + "\n");
    ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  }

  // The output of a --print-id command: one id without the newline.
  static std::string printed_id(const CliOutcome& outcome) {
    std::string id = outcome.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(id.find('\n'), std::string::npos) << "--print-id prints only the id";
    return id;
  }

  // Opens an orthopedic emergency as bachu.clinician; returns its id.
  std::string open_emergency() {
    const auto opened =
        run_as("bachu.clinician", {"consult", "open", "--specialty", "orthopedics", "--urgency",
                                   "emergency", "--patient", "P-2026-0042", "--age", "19", "--sex",
                                   "m", "--question", "Crushed leg: save it?", "--print-id"});
    EXPECT_EQ(opened.exit_code, 0) << opened.err;
    return printed_id(opened);
  }

  // Signs in bachu.clinician and shanghai.ortho and opens an orthopedic emergency that the
  // specialist accepts; returns its id.
  std::string accepted_emergency() {
    login("bachu.clinician");
    login("shanghai.ortho");
    const std::string id = open_emergency();
    const auto accepted = run_as("shanghai.ortho", {"consult", "accept", id});
    EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
    return id;
  }

  TestServer server_;
  TempDir tokens_;
};

}  // namespace tmc::testing

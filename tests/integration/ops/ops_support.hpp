// Helpers of the operations tests: commands, HTTPS GETs with curl, a chat consultation, a server
// on an existing data directory.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "case_file_client.hpp"
#include "test_server.hpp"

namespace tmc::testing::ops {

namespace v1 = ::telemed::v1;
using namespace std::chrono_literals;

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs command through /bin/sh; stdout and stderr are captured separately.
inline CommandResult run_command(const std::string& command, const std::filesystem::path& scratch) {
  const auto out_path = scratch / "command.out";
  const auto err_path = scratch / "command.err";
  const std::string full =
      command + " >'" + out_path.string() + "' 2>'" + err_path.string() + "' </dev/null";
  const int status = std::system(full.c_str());
  auto slurp = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

// GET https://localhost:port/path, verified against the dev CA (curl).
inline HttpResult https_get(std::uint16_t port, const std::string& path,
                            const std::filesystem::path& scratch) {
  const auto body_path = scratch / "http.body";
  const auto result = run_command("curl -sS --max-time 10 --cacert '" + dev_ca_file() +
                                      "' -o '" + body_path.string() + "' -w '%{http_code}' " +
                                      "https://localhost:" + std::to_string(port) + path,
                                  scratch);
  if (result.exit_code != 0) throw std::runtime_error("curl failed: " + result.err);
  HttpResult http;
  http.status = std::stoi(result.out);
  std::ifstream in(body_path, std::ios::binary);
  http.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return http;
}

inline v1::ClientFrame open_frame(const std::string& question) {
  v1::ClientFrame frame;
  auto* open = frame.mutable_open_consultation();
  open->set_specialty("orthopedics");
  open->set_urgency(v1::URGENCY_EMERGENCY);
  open->mutable_patient()->set_reference("P-OPS-0001");
  open->mutable_patient()->set_age_years(19);
  open->mutable_patient()->set_sex(v1::SEX_MALE);
  open->set_question(question);
  open->set_clinical_summary("Crushed left lower leg; distal pulses weak.");
  return frame;
}

inline v1::ClientFrame post_frame(const std::string& id, const std::string& msg_id,
                                  const std::string& text) {
  v1::ClientFrame frame;
  auto* post = frame.mutable_post_message();
  post->set_consultation_id(id);
  post->set_client_msg_id(msg_id);
  post->mutable_body()->set_text(text);
  return frame;
}

inline v1::ClientFrame get_frame(const std::string& id) {
  v1::ClientFrame frame;
  frame.mutable_get_consultation()->set_consultation_id(id);
  return frame;
}

// Every log entry of a consultation, paging through sync_consultation.
inline std::vector<v1::LogEntry> full_log(client::BlockingClient& client, const std::string& id) {
  std::vector<v1::LogEntry> entries;
  std::uint64_t after = 0;
  for (;;) {
    v1::ClientFrame frame;
    frame.mutable_sync_consultation()->set_consultation_id(id);
    frame.mutable_sync_consultation()->set_after_seq(after);
    const auto response = client.call(frame);
    EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
    if (response.status().code() != v1::OK) return entries;
    for (const auto& entry : response.sync_consultation().entries()) {
      entries.push_back(entry);
      after = entry.seq();
    }
    if (!response.sync_consultation().has_more()) return entries;
  }
}

// bachu.clinician opens an emergency orthopedics consultation and shanghai.ortho accepts it.
inline std::string open_accepted_consultation(client::BlockingClient& clinician,
                                              client::BlockingClient& specialist,
                                              const std::string& question) {
  const auto opened = clinician.call(open_frame(question));
  EXPECT_EQ(opened.status().code(), v1::OK) << opened.status().message();
  const auto id = opened.consultation().id();
  EXPECT_TRUE(specialist.wait_event(
      [&](const v1::Event& e) {
        return e.has_consultation_offered() && e.consultation_offered().consultation().id() == id;
      },
      10s));
  v1::ClientFrame accept;
  accept.mutable_accept_consultation()->set_consultation_id(id);
  const auto accepted = specialist.call(accept);
  EXPECT_EQ(accepted.status().code(), v1::OK) << accepted.status().message();
  return id;
}

// A tmc server (in this process) on an existing data directory, configured like TestServer.
class ServerOnDir {
 public:
  explicit ServerOnDir(const std::filesystem::path& data_dir) {
    app::Config config;
    config.data_dir = data_dir.string();
    config.listen = "127.0.0.1:0";
    config.tls_cert = dev_certs_dir() + "/server.crt";
    config.tls_key = dev_certs_dir() + "/server.key";
    config.scrypt_log2_n = 10;
    config.workers = 4;
    config.io_threads = 2;
    config.log_level = "warn";
    app_ = std::make_unique<app::ServerApp>(config, clock_);
    port_ = app_->start();
    runner_ = std::thread([this] { app_->run(false); });
  }
  ~ServerOnDir() {
    app_->stop();
    runner_.join();
  }
  ServerOnDir(const ServerOnDir&) = delete;
  ServerOnDir& operator=(const ServerOnDir&) = delete;

  std::unique_ptr<client::BlockingClient> login(const TestServer& seeded,
                                                const std::string& username) const {
    auto options = seeded.client_options();
    options.port = std::to_string(port_);
    auto client = std::make_unique<client::BlockingClient>(options);
    client->connect();
    const auto response = client->login(username, seeded.password(username));
    EXPECT_EQ(response.status().code(), v1::OK) << response.status().message();
    return client;
  }
  std::uint16_t port() const { return port_; }

 private:
  SystemClock clock_;
  std::unique_ptr<app::ServerApp> app_;
  std::thread runner_;
  std::uint16_t port_ = 0;
};

}  // namespace tmc::testing::ops

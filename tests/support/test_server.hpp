// Test fixture support: a real tmc server on 127.0.0.1 port 0 over TLS with the demo network.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "app/config.hpp"
#include "app/server_app.hpp"
#include "common/clock.hpp"
#include "tmc/client/blocking_client.hpp"

namespace tmc::testing {

// A unique directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Path of the dev CA made by certs/gen-dev-certs.sh (run on first use if missing).
std::string dev_ca_file();
std::string dev_certs_dir();

// One server process-in-a-thread: data directory initialised and seeded with the demo network
// (cheap password hashing), listening on an ephemeral port.
class TestServer {
 public:
  // customise may adjust the config before start (limits, timeouts).
  explicit TestServer(const std::function<void(app::Config&)>& customise = {});
  ~TestServer();

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return dir_.path(); }
  // Demo password of a seeded user (e.g. "bachu.clinician").
  const std::string& password(const std::string& username) const;

  client::ClientOptions client_options() const;
  // A connected client (not logged in).
  std::unique_ptr<client::BlockingClient> connect() const;
  // A connected client logged in as username; fails the test if login fails.
  std::unique_ptr<client::BlockingClient> login(const std::string& username) const;

  // Graceful stop (as SIGTERM would); the destructor calls it too.
  void stop();

 private:
  TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<app::ServerApp> app_;
  std::thread runner_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::string> passwords_;
};

}  // namespace tmc::testing

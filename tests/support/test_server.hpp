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
#include "postgres_test_schema.hpp"
#include "store/model.hpp"
#include "store/store.hpp"
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
// A user added on top of the demo network; its password is test_password(username).
struct ExtraUser {
  std::string username;
  store::Role role = store::Role::specialist;
  std::string organization_id;
  std::vector<std::string> specialties;
};
std::string test_password(const std::string& username);

// True when the test should run on PostgreSQL (TMC_TEST_STORE=postgres): ctest registers the
// integration tests twice, as is (SQLite) and as pg.* with that variable. Throws
// std::runtime_error when TMC_TEST_POSTGRES is unset then, so the pg.* variant fails.
bool postgres_requested();

// Who a seeded store knows: demo and extra users' passwords and ids, by username.
struct SeededUsers {
  std::map<std::string, std::string> passwords;
  std::map<std::string, std::string> user_ids;
};
// Seeds the demo network and extra_users into store with cheap password hashing (tests only).
// Throws std::runtime_error when a step is refused (e.g. the store is already seeded).
SeededUsers seed_test_network(store::Store& store, const Clock& clock,
                              const std::vector<ExtraUser>& extra_users = {});

// With TMC_TEST_STORE=postgres the store is a fresh schema on the TMC_TEST_POSTGRES server
// (dropped on destruction) instead of tmc.db; without TMC_TEST_POSTGRES construction throws.
class TestServer {
 public:
  // customise may adjust the config before start (limits, timeouts).
  explicit TestServer(const std::function<void(app::Config&)>& customise = {},
                      const std::vector<ExtraUser>& extra_users = {});
  ~TestServer();

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return dir_.path(); }
  // A second store on the server's data (as tmc-admin opens one beside a running server).
  std::unique_ptr<store::Store> open_store() const;
  // Demo password of a seeded user (e.g. "bachu.clinician").
  const std::string& password(const std::string& username) const;

  client::ClientOptions client_options() const;
  // A connected client (not logged in).
  std::unique_ptr<client::BlockingClient> connect() const;
  // A connected client logged in as username; fails the test if login fails.
  std::unique_ptr<client::BlockingClient> login(const std::string& username) const;

  // Graceful stop (as SIGTERM would); the destructor calls it too.
  void stop();
  // Starts again on the same data directory (after stop()); the port may change.
  void restart();
  // The running server, for tests that look inside it.
  app::ServerApp& app() const { return *app_; }
  // User id of a seeded user.
  std::string user_id(const std::string& username) const;

 private:
  TempDir dir_;
  std::unique_ptr<PostgresTestSchema> schema_;  // TMC_TEST_STORE=postgres only
  SystemClock clock_;
  void launch();

  app::Config config_;
  std::unique_ptr<app::ServerApp> app_;
  std::thread runner_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::string> passwords_;
  std::map<std::string, std::string> user_ids_;
};

}  // namespace tmc::testing

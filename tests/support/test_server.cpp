// Test fixture support: a real tmc server on 127.0.0.1 port 0 over TLS with the demo network.
#include "test_server.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "app/data_dir.hpp"
#include "demo_network.hpp"
#include "domain/auth_service.hpp"
#include "domain/directory_service.hpp"

namespace tmc::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device random;
  path_ = std::filesystem::temp_directory_path() /
          ("tmc-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(random()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string dev_certs_dir() { return std::string(TMC_SOURCE_DIR) + "/certs/out"; }

std::string dev_ca_file() {
  static const std::string ca = [] {
    const std::string path = dev_certs_dir() + "/ca.crt";
    if (!std::filesystem::exists(path)) {
      const std::string command =
          std::string(TMC_SOURCE_DIR) + "/certs/gen-dev-certs.sh >/dev/null";
      if (std::system(command.c_str()) != 0) {
        throw std::runtime_error("certs/gen-dev-certs.sh failed");
      }
    }
    return path;
  }();
  return ca;
}

std::string test_password(const std::string& username) { return "test-password-" + username; }

bool postgres_requested() {
  const char* store = std::getenv("TMC_TEST_STORE");
  if (store == nullptr || std::string(store).empty() || std::string(store) == "sqlite") {
    return false;
  }
  if (std::string(store) != "postgres") {
    throw std::runtime_error("TMC_TEST_STORE must be sqlite or postgres, not " +
                             std::string(store));
  }
  const char* conninfo = std::getenv("TMC_TEST_POSTGRES");
  if (conninfo == nullptr || *conninfo == '\0') {
    // A failure, not a skip: the PostgreSQL variant must not pass without PostgreSQL.
    throw std::runtime_error(
        "TMC_TEST_STORE=postgres but TMC_TEST_POSTGRES is not set: set it to a PostgreSQL URI "
        "(e.g. postgresql://user@localhost:5432/postgres) or run ./tmc test, which starts one");
  }
  return true;
}

SeededUsers seed_test_network(store::Store& store, const Clock& clock,
                              const std::vector<ExtraUser>& extra_users) {
  SeededUsers seeded;
  domain::NullAuditHook audit;
  domain::AuthOptions auth_options;
  auth_options.password_params = crypto::ScryptParams{1024, 8, 1};
  domain::AuthService auth(store, clock, audit, auth_options);
  domain::DirectoryService directory(store, clock, audit);
  auto logins = admin::seed_demo_network(directory, auth);
  if (!logins) throw std::runtime_error("seeding failed: " + logins.error().message);
  for (const auto& login : *logins) seeded.passwords[login.username] = login.password;
  for (const auto& extra : extra_users) {
    domain::NewUser user{extra.username, extra.username, extra.role, extra.organization_id,
                         extra.specialties};
    auto created = directory.add_user(user, auth.hash_password(test_password(extra.username)));
    if (!created) throw std::runtime_error("extra user: " + created.error().message);
    seeded.passwords[extra.username] = test_password(extra.username);
  }
  store.read([&](store::Tx& tx) {
    for (const auto& user : tx.list_users(store::UserFilter{})) {
      seeded.user_ids[user.username] = user.id;
    }
  });
  return seeded;
}

TestServer::TestServer(const std::function<void(app::Config&)>& customise,
                       const std::vector<ExtraUser>& extra_users) {
  dev_ca_file();
  spdlog::set_level(spdlog::level::warn);  // keep test output to what matters
  const app::DataDir data_dir(dir_.path() / "data");
  data_dir.initialize();
  std::string store_uri = "sqlite";
  if (postgres_requested()) {
    schema_ = std::make_unique<PostgresTestSchema>("it_");
    store_uri = schema_->conninfo_in_schema();
  }
  {
    auto seeded = seed_test_network(*data_dir.open_store(store_uri), clock_, extra_users);
    passwords_ = std::move(seeded.passwords);
    user_ids_ = std::move(seeded.user_ids);
  }
  app::Config config;
  config.data_dir = data_dir.root().string();
  config.store = store_uri;
  config.listen = "127.0.0.1:0";
  config.tls_cert = dev_certs_dir() + "/server.crt";
  config.tls_key = dev_certs_dir() + "/server.key";
  config.scrypt_log2_n = 10;
  config.workers = 8;
  config.io_threads = 2;
  config.log_level = "warn";
  config.totp_required_roles.clear();  // tests that need a second factor turn it on
  if (customise) customise(config);
  config_ = config;
  launch();
}

void TestServer::launch() {
  app_ = std::make_unique<app::ServerApp>(config_, clock_);
  port_ = app_->start();
  runner_ = std::thread([this] { app_->run(false); });
}

void TestServer::restart() {
  stop();
  launch();
}

std::string TestServer::user_id(const std::string& username) const {
  return user_ids_.at(username);
}

TestServer::~TestServer() { stop(); }

std::unique_ptr<store::Store> TestServer::open_store() const {
  return app::DataDir(dir_.path() / "data").open_store(config_.store);
}

void TestServer::stop() {
  if (!app_) return;
  app_->stop();
  if (runner_.joinable()) runner_.join();
  app_.reset();
}

const std::string& TestServer::password(const std::string& username) const {
  return passwords_.at(username);
}

client::ClientOptions TestServer::client_options() const {
  client::ClientOptions options;
  options.host = "localhost";
  options.port = std::to_string(port_);
  options.ca_file = dev_ca_file();
  return options;
}

std::unique_ptr<client::BlockingClient> TestServer::connect() const {
  auto client = std::make_unique<client::BlockingClient>(client_options());
  client->connect();
  return client;
}

std::unique_ptr<client::BlockingClient> TestServer::login(const std::string& username) const {
  auto client = connect();
  auto response = client->login(username, password(username));
  if (response.status().code() != telemed::v1::OK) {
    ADD_FAILURE() << "login of " << username << " failed: " << response.status().message();
  }
  return client;
}

}  // namespace tmc::testing

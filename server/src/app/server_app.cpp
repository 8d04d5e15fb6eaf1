// Wires storage, keys, services, the api layer and the network server into one running process.
#include "app/server_app.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include "api/api.hpp"
#include "app/data_dir.hpp"
#include "domain/auth_service.hpp"
#include "domain/consultation_service.hpp"
#include "domain/directory_service.hpp"
#include "net/server.hpp"

namespace tmc::app {
namespace {

// Writes audit events to the log (ids and outcomes only) until the audit log store lands.
class LogAuditHook final : public domain::AuditHook {
 public:
  void record(const domain::AuditEvent& event) override {
    static constexpr const char* outcomes[] = {"success", "denied", "failed"};
    spdlog::info("audit action={} outcome={} actor={} org={} objects={} remote={}", event.action,
                 outcomes[static_cast<int>(event.outcome)], event.actor_id,
                 event.organization_id, fmt::join(event.object_ids, ","), event.remote_address);
  }
};

}  // namespace

struct ServerApp::State {
  Config config;
  const Clock& clock;
  boost::asio::io_context io;
  std::unique_ptr<store::Store> store;
  std::optional<crypto::KeyRing> keys;
  LogAuditHook audit;
  std::unique_ptr<domain::AuthService> auth;
  std::unique_ptr<domain::DirectoryService> directory;
  std::unique_ptr<domain::Vault> vault;
  std::unique_ptr<domain::ConsultationService> consultations;
  std::optional<boost::asio::steady_timer> deadline_timer;
  std::atomic<bool> deadline_running{false};
  std::shared_ptr<api::Api> api;
  std::unique_ptr<net::Server> server;
  std::atomic<bool> stopping{false};

  State(Config c, const Clock& k) : config(std::move(c)), clock(k) {}
};

ServerApp::ServerApp(Config config, const Clock& clock)
    : state_(std::make_unique<State>(std::move(config), clock)) {}

ServerApp::~ServerApp() {
  if (state_->api) state_->api->stop();
}

std::uint16_t ServerApp::start() {
  auto& s = *state_;
  const DataDir data_dir(s.config.data_dir);
  s.keys = data_dir.load_key_ring();
  s.store = data_dir.open_store();

  domain::AuthOptions auth_options;
  auth_options.session_lifetime = s.config.session_lifetime;
  auth_options.password_params.n = std::uint64_t{1} << s.config.scrypt_log2_n;
  s.auth = std::make_unique<domain::AuthService>(*s.store, s.clock, s.audit, auth_options);
  s.directory = std::make_unique<domain::DirectoryService>(*s.store, s.clock, s.audit);

  s.vault = std::make_unique<domain::Vault>(*s.keys);
  domain::DeadlinePolicy deadlines;
  deadlines.emergency = s.config.deadline_emergency;
  deadlines.urgent = s.config.deadline_urgent;
  deadlines.routine = s.config.deadline_routine;
  s.consultations = std::make_unique<domain::ConsultationService>(*s.store, s.clock, s.audit,
                                                                  *s.vault, deadlines);

  // case files: wiring
  // (end of case files wiring)

  // scheduling: wiring
  // (end of scheduling wiring)

  api::Services services;
  services.auth = s.auth.get();
  services.directory = s.directory.get();
  services.consultations = s.consultations.get();
  api::ApiOptions api_options;
  api_options.worker_threads = s.config.workers;
  s.api = std::make_shared<api::Api>(services, api_options);
  // session hooks: (added by the areas that need them)

  const auto listen = parse_listen_address(s.config.listen);
  net::ServerOptions options;
  options.listen_address = listen->host;
  options.listen_port = listen->port;
  options.tls.certificate_chain_file = s.config.tls_cert;
  options.tls.private_key_file = s.config.tls_key;
  options.tls.client_ca_file = s.config.client_ca;
  options.tls.require_client_certificate = s.config.require_client_cert;
  options.max_frame_bytes = s.config.max_frame_bytes;
  options.handshake_timeout = s.config.handshake_timeout;
  options.idle_timeout = s.config.idle_timeout;
  options.outbound_queue_limit_bytes = s.config.outbound_queue_limit_bytes;
  options.allowed_origins = s.config.allowed_origins;
  s.server = std::make_unique<net::Server>(s.io, options, s.api);
  const auto port = s.server->start();
  s.api->set_ready(true);
  s.deadline_timer.emplace(s.io);
  schedule_deadline_check();
  spdlog::info("listening on {}:{}", listen->host, port);
  return port;
}

void ServerApp::schedule_deadline_check() {
  auto& s = *state_;
  s.deadline_timer->expires_after(s.config.deadline_check_interval);
  s.deadline_timer->async_wait([this](const boost::system::error_code& error) {
    auto& s = *state_;
    if (error || s.stopping) return;
    // Deadlines are decided on a worker (store work); one check at a time.
    if (!s.deadline_running.exchange(true)) {
      boost::asio::post(s.api->workers(), [&s] {
        try {
          s.api->publish(s.consultations->process_deadlines(s.clock.now()));
        } catch (const std::exception& failure) {
          spdlog::error("deadline check failed: {}", failure.what());
        }
        s.deadline_running = false;
      });
    }
    schedule_deadline_check();
  });
}

void ServerApp::run(bool handle_signals) {
  auto& s = *state_;
  std::optional<boost::asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(s.io, SIGINT, SIGTERM);
    signals->async_wait([this](const boost::system::error_code& error, int signal) {
      if (!error) {
        spdlog::info("signal {} received: shutting down", signal);
        stop();
      }
    });
  }
  auto work = boost::asio::make_work_guard(s.io);
  std::size_t count = s.config.io_threads;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < count; ++i) threads.emplace_back([&] { s.io.run(); });
  s.io.run();  // returns when stop() has finished its work and called io.stop()
  for (auto& thread : threads) thread.join();
  if (signals) signals->cancel();
}

void ServerApp::stop() {
  auto& s = *state_;
  if (s.stopping.exchange(true)) return;
  if (!s.server) {
    s.io.stop();
    return;
  }
  s.api->set_ready(false);
  boost::asio::post(s.io, [&s] { s.deadline_timer->cancel(); });
  s.api->announce_shutdown();
  s.server->stop([&s] {
    // Every session is gone: let in-flight requests (and their commits) finish, then stop io.
    std::thread([&s] {
      s.api->stop();
      spdlog::info("shutdown complete");
      s.io.stop();
    }).detach();
  });
}

api::Api& ServerApp::api() { return *state_->api; }

void configure_logging(const Config& config) {
  auto logger = spdlog::stderr_color_mt("tmc");
  if (config.log_format == "json") {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_default_logger(logger);
}

}  // namespace tmc::app

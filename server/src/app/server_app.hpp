// Wires storage, keys, services, the api layer and the network server into one running process.
#pragma once

#include <cstdint>
#include <memory>

#include "app/config.hpp"
#include "common/clock.hpp"

namespace tmc::api {
class Api;
}

namespace tmc::app {

// Lifecycle: construct, start() (throws std::runtime_error with one line on any configuration
// or storage problem), run() on the calling thread until stop() or a signal, destroy.
class ServerApp {
 public:
  // clock must outlive the app; tests pass a ManualClock.
  explicit ServerApp(Config config, const Clock& clock);
  ~ServerApp();
  ServerApp(const ServerApp&) = delete;
  ServerApp& operator=(const ServerApp&) = delete;

  // Opens the data directory and binds the listen address; returns the bound port.
  std::uint16_t start();

  // Runs the io threads; returns when shutdown has completed. With handle_signals, SIGINT and
  // SIGTERM start a graceful shutdown.
  void run(bool handle_signals);

  // Graceful shutdown: stop accepting, tell sessions (SessionClosing), close them with 1001,
  // finish in-flight requests and commits. Thread-safe; idempotent.
  void stop();

  api::Api& api();

 private:
  void schedule_deadline_check();
  void schedule_reminder_check();
  void schedule_session_sweep();  // auth: revocation of live sessions
  // Operations: /metrics families and the cached store facts behind /readyz and the gauges.
  void register_metrics();
  void refresh_store_facts();
  void schedule_store_facts();

  struct State;
  std::unique_ptr<State> state_;
};

// Applies config.log_format and log_level to the default spdlog logger (stderr).
void configure_logging(const Config& config);

}  // namespace tmc::app

// tmc-server configuration: defaults, then a config file, then TMC_* environment, then flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/model.hpp"

namespace tmc::app {

struct Config {
  std::string data_dir = "var/data";  // SQLite file, key file and blob directory live here
  // Where records live: "sqlite" (tmc.db in data_dir) or a postgresql:// URI (shared by nodes).
  std::string store = "sqlite";
  std::string listen = "0.0.0.0:8443";
  std::string tls_cert = "certs/out/server.crt";
  std::string tls_key = "certs/out/server.key";
  std::string client_ca;                 // enables mutual TLS for hospital gateways
  bool require_client_cert = false;
  std::size_t max_frame_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t outbound_queue_limit_bytes = 16 * 1024 * 1024;
  std::vector<std::string> allowed_origins;
  std::size_t workers = 32;              // threads for blocking store/crypto work
  std::size_t io_threads = 0;            // 0: one per core
  std::chrono::seconds session_lifetime{std::chrono::hours(12)};
  // ---- auth ----
  // Roles that must sign in with a TOTP second factor.
  std::vector<store::Role> totp_required_roles{store::Role::admin};
  int login_backoff_after = 5;            // failures (account, address) before back-off
  int login_max_failures_per_hour = 100;  // per account (0: no cap)
  std::chrono::minutes session_idle_timeout{30};
  std::size_t max_sessions_per_user = 10;  // live signed-in connections (0: unlimited)
  std::size_t max_connections_per_address = 256;            // 0: unlimited
  double new_connections_per_second_per_address = 50;        // burst twice that; 0: unlimited
  double requests_per_second = 200;  // per session, burst twice that; 0: unlimited
  // How often live sessions are checked for revocation (logout elsewhere, reset, disable).
  std::chrono::milliseconds session_check_interval{500};
  // (end of auth)
  int scrypt_log2_n = 17;
  // Routing deadlines per urgency (DOMAIN.md): escalate after one period, expire after two.
  std::chrono::seconds deadline_emergency{15 * 60};
  std::chrono::seconds deadline_urgent{2 * 60 * 60};
  std::chrono::seconds deadline_routine{48 * 60 * 60};
  std::chrono::milliseconds deadline_check_interval{1000};
  // Scheduling: rules become slot rows this many weeks ahead; reminders go out at these lead
  // times before a review (empty: none); due reminders are looked for at this interval.
  int slot_horizon_weeks = 8;
  std::vector<std::chrono::minutes> reminder_lead_times{std::chrono::hours(24),
                                                        std::chrono::minutes(15)};
  std::chrono::milliseconds reminder_check_interval{5000};
  // Case files: largest file, per-organisation quota (files + open uploads), upload chunk
  // (= encryption segment, <= max_frame_bytes - 1 KiB) and idle time before an upload is dropped.
  std::uint64_t max_upload_bytes = std::uint64_t{4} << 30;
  std::uint64_t organization_quota_bytes = std::uint64_t{500} << 30;
  std::uint32_t upload_chunk_bytes = 256u << 10;
  std::chrono::seconds upload_expiry{24 * 60 * 60};
  std::string log_format = "text";       // text | json
  std::string log_level = "info";
};

// Where the listen address splits: host and port; nullopt when malformed.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen_address(const std::string& text);

// Outcome of parsing: a config, or the help text to print, or an error line.
struct ParsedConfig {
  std::optional<Config> config;
  std::string help;   // non-empty when --help was asked for
  std::string error;  // non-empty on a configuration error (one line naming the problem)
};

// Looks up an environment variable; returns empty when unset.
using EnvironmentLookup = std::function<std::string(const std::string& name)>;

// Parses flags (argv), the environment (TMC_<OPTION> with '-' as '_', e.g. TMC_DATA_DIR) and an
// optional --config file (INI "key = value" lines). Precedence: flags > environment > file >
// defaults. Never throws.
ParsedConfig parse_config(int argc, const char* const argv[], const EnvironmentLookup& env);

}  // namespace tmc::app

// tmc-server configuration: defaults, then a config file, then TMC_* environment, then flags.
#include "app/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <boost/program_options.hpp>

#include "store/postgres/postgres_store.hpp"

namespace tmc::app {
namespace po = boost::program_options;

std::optional<ListenAddress> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);  // [::1]:8443
  }
  const auto port_text = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || value > 65535) {
    return std::nullopt;
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

namespace {

struct Raw {
  Config config;
  std::string config_file;
  long handshake_ms = 0;
  long idle_s = 0;
  long lifetime_h = 0;
  long emergency_s = 0;
  long urgent_s = 0;
  long routine_s = 0;
  long check_ms = 0;
  long upload_expiry_s = 0;
  std::string reminder_leads;  // comma-separated minutes
  long reminder_check_ms = 0;
  std::string totp_roles;  // comma-separated role names
  long session_idle_minutes = 0;
  long session_check_ms = 0;
};

// "admin,coordinator" -> roles; "" or "none" -> {}; nullopt on an unknown name.
std::optional<std::vector<store::Role>> parse_roles(const std::string& text) {
  static const std::pair<const char*, store::Role> names[] = {
      {"clinician", store::Role::clinician},
      {"specialist", store::Role::specialist},
      {"coordinator", store::Role::coordinator},
      {"admin", store::Role::admin}};
  std::vector<store::Role> roles;
  if (text.empty() || text == "none") return roles;
  std::stringstream list(text);
  std::string name;
  while (std::getline(list, name, ',')) {
    const auto* found = std::find_if(std::begin(names), std::end(names),
                                     [&](const auto& entry) { return name == entry.first; });
    if (found == std::end(names)) return std::nullopt;
    roles.push_back(found->second);
  }
  return roles;
}

// "1440,15" -> {1440min, 15min}; "" or "none" -> {}; nullopt when malformed or not in 1..43200.
std::optional<std::vector<std::chrono::minutes>> parse_lead_minutes(const std::string& text) {
  std::vector<std::chrono::minutes> leads;
  if (text.empty() || text == "none") return leads;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    int value = 0;
    auto [end, ec] = std::from_chars(text.data() + start, text.data() + comma, value);
    if (ec != std::errc{} || end != text.data() + comma || value < 1 || value > 43200) {
      return std::nullopt;
    }
    if (std::find(leads.begin(), leads.end(), std::chrono::minutes(value)) != leads.end()) {
      return std::nullopt;
    }
    leads.emplace_back(value);
    start = comma + 1;
  }
  return leads;
}

po::options_description describe(Raw& raw) {
  const Config defaults;
  po::options_description desc("tmc-server options (env TMC_<OPTION>, e.g. TMC_DATA_DIR)");
  auto& c = raw.config;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value(&raw.config_file), "config file with 'option = value' lines")
      ("data-dir", po::value(&c.data_dir)->default_value(defaults.data_dir),
       "data directory (tmc.db, kek.keys, blobs/); create it with 'tmc-admin init'")
      ("store", po::value(&c.store)->default_value(defaults.store),
       "'sqlite' (tmc.db in the data directory) or a postgresql://user@host:port/db URI; keep "
       "passwords out of it (use ~/.pgpass or PGPASSWORD)")
      ("listen", po::value(&c.listen)->default_value(defaults.listen),
       "HOST:PORT to listen on; port 0 picks a free port and prints it")
      ("tls-cert", po::value(&c.tls_cert)->default_value(defaults.tls_cert),
       "server certificate chain (PEM)")
      ("tls-key", po::value(&c.tls_key)->default_value(defaults.tls_key),
       "server private key (PEM, mode 0600)")
      ("client-ca", po::value(&c.client_ca),
       "CA bundle for hospital gateway client certificates (enables mutual TLS)")
      ("require-client-cert", po::bool_switch(&c.require_client_cert),
       "refuse connections without a client certificate (needs --client-ca)")
      ("max-frame-bytes", po::value(&c.max_frame_bytes)->default_value(defaults.max_frame_bytes),
       "largest WebSocket message accepted; larger ones close with 1009")
      ("handshake-timeout-ms", po::value(&raw.handshake_ms)->default_value(10000),
       "time allowed from TCP accept to WebSocket upgrade")
      ("idle-timeout-s", po::value(&raw.idle_s)->default_value(60),
       "WebSocket idle timeout; pings are sent at half of it")
      ("outbound-queue-bytes",
       po::value(&c.outbound_queue_limit_bytes)->default_value(defaults.outbound_queue_limit_bytes),
       "per-session bytes queued to a slow client before it is closed with 1013 (at least 2 MiB "
       "and max-frame-bytes)")
      ("allowed-origin", po::value(&c.allowed_origins)->composing(),
       "Origin accepted from browser clients (repeatable); none: Origin not checked")
      ("workers", po::value(&c.workers)->default_value(defaults.workers),
       "worker threads for store and crypto work")
      ("io-threads", po::value(&c.io_threads)->default_value(0),
       "network threads; 0: one per core")
      ("session-lifetime-hours", po::value(&raw.lifetime_h)->default_value(12),
       "absolute lifetime of a login session")
      ("scrypt-log2n", po::value(&c.scrypt_log2_n)->default_value(defaults.scrypt_log2_n),
       "password hashing cost: scrypt N = 2^value (OWASP: 17)")
      ("totp-required-roles", po::value(&raw.totp_roles)->default_value("admin"),
       "comma-separated roles (clinician, specialist, coordinator, admin) that must sign in "
       "with a TOTP code ('none': no role)")
      ("login-backoff-after",
       po::value(&c.login_backoff_after)->default_value(defaults.login_backoff_after),
       "failed sign-ins of one account from one address before exponential back-off")
      ("login-max-failures-per-hour",
       po::value(&c.login_max_failures_per_hour)
           ->default_value(defaults.login_max_failures_per_hour),
       "failed sign-ins per account per hour; beyond, only addresses it signed in from may try")
      ("session-idle-minutes", po::value(&raw.session_idle_minutes)->default_value(30),
       "a session without a live connection for this long is invalid")
      ("session-check-ms", po::value(&raw.session_check_ms)->default_value(500),
       "how often live sessions are checked for revocation, expiry and disabled users")
      ("max-sessions-per-user",
       po::value(&c.max_sessions_per_user)->default_value(defaults.max_sessions_per_user),
       "live signed-in connections per user (0: unlimited)")
      ("max-connections-per-address",
       po::value(&c.max_connections_per_address)
           ->default_value(defaults.max_connections_per_address),
       "live connections per client IP address (0: unlimited)")
      ("new-connections-per-second-per-address",
       po::value(&c.new_connections_per_second_per_address)
           ->default_value(defaults.new_connections_per_second_per_address),
       "new connections per second per client IP, burst twice that (0: unlimited)")
      ("requests-per-second",
       po::value(&c.requests_per_second)->default_value(defaults.requests_per_second),
       "requests per second per session, burst twice that; 10x over closes with 1008 "
       "(0: unlimited)")
      ("deadline-emergency-s", po::value(&raw.emergency_s)->default_value(15 * 60),
       "seconds an EMERGENCY consultation waits for acceptance before escalating")
      ("deadline-urgent-s", po::value(&raw.urgent_s)->default_value(2 * 60 * 60),
       "seconds for URGENT consultations")
      ("deadline-routine-s", po::value(&raw.routine_s)->default_value(48 * 60 * 60),
       "seconds for ROUTINE consultations")
      ("deadline-check-ms", po::value(&raw.check_ms)->default_value(1000),
       "how often routing deadlines are checked")
      ("slot-horizon-weeks",
       po::value(&c.slot_horizon_weeks)->default_value(defaults.slot_horizon_weeks),
       "how many weeks ahead availability rules are turned into bookable slots")
      ("reminder-lead-minutes", po::value(&raw.reminder_leads)->default_value("1440,15"),
       "comma-separated minutes before a review at which reminders are sent ('none': off)")
      ("reminder-check-ms", po::value(&raw.reminder_check_ms)->default_value(5000),
       "how often due reminders are looked for")
      ("max-upload-bytes", po::value(&c.max_upload_bytes)->default_value(defaults.max_upload_bytes),
       "largest case file accepted; larger uploads answer RESOURCE_EXHAUSTED")
      ("organization-quota-bytes",
       po::value(&c.organization_quota_bytes)->default_value(defaults.organization_quota_bytes),
       "case file bytes (finished and in progress) one organisation may store")
      ("upload-chunk-bytes",
       po::value(&c.upload_chunk_bytes)->default_value(defaults.upload_chunk_bytes),
       "case file upload chunk and encryption segment size (at most max-frame-bytes - 1024)")
      ("upload-expiry-s", po::value(&raw.upload_expiry_s)->default_value(24 * 60 * 60),
       "seconds an unfinished upload may stay idle before it is discarded")
      ("log-format", po::value(&c.log_format)->default_value(defaults.log_format),
       "text or json (JSON lines)")
      ("log-level", po::value(&c.log_level)->default_value(defaults.log_level),
       "trace, debug, info, warn, error");
  return desc;
}

std::string env_name(const std::string& option) {
  std::string name = "TMC_";
  for (char ch : option) name += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return name;
}

std::string validate(Raw& raw) {
  auto& c = raw.config;
  if (!parse_listen_address(c.listen)) return "invalid --listen '" + c.listen + "' (HOST:PORT)";
  // The value is not echoed: a URI may carry a password.
  if (c.store != "sqlite" && !store::is_postgres_uri(c.store)) {
    return "invalid --store (sqlite or a postgresql:// URI)";
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return "invalid --log-format '" + c.log_format + "' (text or json)";
  }
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::none_of(std::begin(levels), std::end(levels),
                   [&](const char* level) { return c.log_level == level; })) {
    return "invalid --log-level '" + c.log_level + "'";
  }
  if (c.max_frame_bytes < 1024 || c.max_frame_bytes > 256 * 1024 * 1024) {
    return "--max-frame-bytes must be between 1 KiB and 256 MiB";
  }
  // A session's queue must hold the largest answer: a download chunk (below max-frame-bytes) or
  // a page of the log (about 1 MiB of text).
  if (c.outbound_queue_limit_bytes < std::max<std::size_t>(c.max_frame_bytes, 2u << 20)) {
    return "--outbound-queue-bytes must be at least 2 MiB and at least --max-frame-bytes";
  }
  if (raw.handshake_ms <= 0 || raw.idle_s <= 0 || raw.lifetime_h <= 0 || raw.emergency_s <= 0 ||
      raw.urgent_s <= 0 || raw.routine_s <= 0 || raw.check_ms <= 0) {
    return "timeouts and lifetimes must be positive";
  }
  if (c.workers == 0) return "--workers must be at least 1";
  if (c.scrypt_log2_n < 10 || c.scrypt_log2_n > 20) return "--scrypt-log2n must be 10..20";
  if (c.require_client_cert && c.client_ca.empty()) {
    return "--require-client-cert needs --client-ca";
  }
  c.handshake_timeout = std::chrono::milliseconds(raw.handshake_ms);
  c.idle_timeout = std::chrono::seconds(raw.idle_s);
  c.session_lifetime = std::chrono::hours(raw.lifetime_h);
  c.deadline_emergency = std::chrono::seconds(raw.emergency_s);
  c.deadline_urgent = std::chrono::seconds(raw.urgent_s);
  c.deadline_routine = std::chrono::seconds(raw.routine_s);
  c.deadline_check_interval = std::chrono::milliseconds(raw.check_ms);
  if (c.slot_horizon_weeks < 1 || c.slot_horizon_weeks > 104) {
    return "--slot-horizon-weeks must be 1..104";
  }
  const auto leads = parse_lead_minutes(raw.reminder_leads);
  if (!leads) {
    return "invalid --reminder-lead-minutes '" + raw.reminder_leads +
           "' (distinct minutes 1..43200, comma-separated, or 'none')";
  }
  c.reminder_lead_times = *leads;
  if (raw.reminder_check_ms <= 0) return "--reminder-check-ms must be positive";
  c.reminder_check_interval = std::chrono::milliseconds(raw.reminder_check_ms);
  if (raw.upload_expiry_s <= 0) return "--upload-expiry-s must be positive";
  if (c.max_upload_bytes == 0 || c.organization_quota_bytes == 0) {
    return "--max-upload-bytes and --organization-quota-bytes must be positive";
  }
  if (c.upload_chunk_bytes < 64 || c.upload_chunk_bytes > (64u << 20) ||
      c.upload_chunk_bytes + std::size_t{1024} > c.max_frame_bytes) {
    return "--upload-chunk-bytes must be 64 B..64 MiB and at most --max-frame-bytes - 1024";
  }
  c.upload_expiry = std::chrono::seconds(raw.upload_expiry_s);
  const auto roles = parse_roles(raw.totp_roles);
  if (!roles) {
    return "invalid --totp-required-roles '" + raw.totp_roles +
           "' (comma-separated clinician, specialist, coordinator, admin; or 'none')";
  }
  c.totp_required_roles = *roles;
  if (c.login_backoff_after < 1 || c.login_max_failures_per_hour < 0) {
    return "--login-backoff-after must be at least 1 and --login-max-failures-per-hour >= 0";
  }
  if (raw.session_idle_minutes <= 0 || raw.session_check_ms <= 0) {
    return "--session-idle-minutes and --session-check-ms must be positive";
  }
  c.session_idle_timeout = std::chrono::minutes(raw.session_idle_minutes);
  c.session_check_interval = std::chrono::milliseconds(raw.session_check_ms);
  if (c.new_connections_per_second_per_address < 0 || c.requests_per_second < 0) {
    return "rates must not be negative";
  }
  return {};
}

}  // namespace

ParsedConfig parse_config(int argc, const char* const argv[], const EnvironmentLookup& env) {
  ParsedConfig out;
  Raw raw;
  auto desc = describe(raw);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);

    // Environment: every known option except help/config, as TMC_<OPTION>.
    std::vector<std::string> env_args;
    for (const auto& option : desc.options()) {
      const auto& name = option->long_name();
      if (name == "help") continue;
      const auto value = env(env_name(name));
      if (value.empty()) continue;
      if (option->semantic()->max_tokens() == 0) {  // a switch: TMC_X=1 or true turns it on
        if (value == "1" || value == "true") env_args.push_back("--" + name);
        continue;
      }
      env_args.push_back("--" + name + "=" + value);
    }
    po::store(po::command_line_parser(env_args).options(desc).run(), vm);

    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) {
        out.error = "cannot read config file '" + path + "'";
        return out;
      }
      po::store(po::parse_config_file(file, desc), vm);
    }
    po::notify(vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << "usage: tmc-server [options]\n\n" << desc;
      out.help = text.str();
      return out;
    }
  } catch (const po::error& error) {
    out.error = error.what();
    return out;
  }
  out.error = validate(raw);
  if (out.error.empty()) out.config = raw.config;
  return out;
}

}  // namespace tmc::app

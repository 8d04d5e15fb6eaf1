// tmc-server configuration: defaults, then a config file, then TMC_* environment, then flags.
#include "app/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <boost/program_options.hpp>

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
};

po::options_description describe(Raw& raw) {
  const Config defaults;
  po::options_description desc("tmc-server options (env TMC_<OPTION>, e.g. TMC_DATA_DIR)");
  auto& c = raw.config;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value(&raw.config_file), "config file with 'option = value' lines")
      ("data-dir", po::value(&c.data_dir)->default_value(defaults.data_dir),
       "data directory (tmc.db, kek.keys, blobs/); create it with 'tmc-admin init'")
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
       "per-session bytes queued to a slow client before it is closed with 1013")
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
      ("deadline-emergency-s", po::value(&raw.emergency_s)->default_value(15 * 60),
       "seconds an EMERGENCY consultation waits for acceptance before escalating")
      ("deadline-urgent-s", po::value(&raw.urgent_s)->default_value(2 * 60 * 60),
       "seconds for URGENT consultations")
      ("deadline-routine-s", po::value(&raw.routine_s)->default_value(48 * 60 * 60),
       "seconds for ROUTINE consultations")
      ("deadline-check-ms", po::value(&raw.check_ms)->default_value(1000),
       "how often routing deadlines are checked")
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

// Command-line and environment settings of tmc-client: global options, command name, its args.
#include "cli/settings.hpp"

#include <boost/program_options.hpp>
#include <cstdlib>
#include <sstream>

namespace tmc::cli {
namespace po = boost::program_options;

namespace {

constexpr std::string_view default_port = "8443";

po::options_description global_options() {
  po::options_description options("global options");
  // clang-format off
  options.add_options()
      ("server", po::value<std::string>()->value_name("HOST:PORT"),
       "server address (env TMC_SERVER; default localhost:8443)")
      ("ca", po::value<std::string>()->value_name("FILE"),
       "CA certificate that signs the server's (env TMC_CA; default certs/out/ca.crt)")
      ("token-file", po::value<std::string>()->value_name("FILE"),
       "session token file (env TMC_TOKEN_FILE; default ~/.config/tmc/session.token)")
      ("cert", po::value<std::string>()->value_name("FILE"), "client certificate (mutual TLS)")
      ("key", po::value<std::string>()->value_name("FILE"), "client private key (mutual TLS)")
      ("json", po::bool_switch(), "print results as JSON")
      ("help,h", po::bool_switch(), "show help");
  // clang-format on
  return options;
}

// The flag's value, else the environment's, else the fallback.
std::string pick(const po::variables_map& vm, const char* flag, const Environment& env,
                 std::string_view variable, std::string fallback) {
  if (vm.count(flag) != 0) return vm[flag].as<std::string>();
  if (auto value = env(variable); value && !value->empty()) return *value;
  return fallback;
}

std::string default_token_file(const Environment& env) {
  if (auto home = env("HOME"); home && !home->empty()) {
    return *home + "/.config/tmc/session.token";
  }
  return ".tmc-session.token";
}

}  // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

HostPort parse_server_address(std::string_view text) {
  HostPort result;
  std::string_view rest;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw UsageError("bad server address \"" + std::string(text) + "\": missing ']'");
    }
    result.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      throw UsageError("bad server address \"" + std::string(text) + "\"");
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      throw UsageError("bad server address \"" + std::string(text) +
                       "\": write IPv6 addresses as [ADDRESS]:PORT");
    }
    result.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  result.port = rest.empty() ? std::string(default_port) : std::string(rest.substr(1));
  const bool numeric = !result.port.empty() && result.port.size() <= 5 &&
                       result.port.find_first_not_of("0123456789") == std::string::npos;
  if (result.host.empty() || !numeric || std::stoul(result.port) == 0 ||
      std::stoul(result.port) > 65535) {
    throw UsageError("bad server address \"" + std::string(text) + "\": expected HOST:PORT");
  }
  return result;
}

CommandLine parse_command_line(const std::vector<std::string>& arguments, const Environment& env) {
  po::options_description options = global_options();
  po::options_description hidden;
  // clang-format off
  hidden.add_options()
      ("command", po::value<std::string>())
      ("args", po::value<std::vector<std::string>>());
  // clang-format on
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);

  po::variables_map vm;
  std::vector<std::string> rest;
  try {
    // Unknown options belong to the command; no abbreviations, so "--s" never means "--server".
    const auto style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    po::parsed_options parsed = po::command_line_parser(arguments)
                                    .options(all)
                                    .positional(positional)
                                    .style(style)
                                    .allow_unregistered()
                                    .run();
    po::store(parsed, vm);
    po::notify(vm);
    // Unregistered options and positionals, in command-line order, command first.
    rest = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }

  CommandLine line;
  line.help = vm["help"].as<bool>();
  if (vm.count("command") != 0) {
    line.command = vm["command"].as<std::string>();
    // collect_unrecognized returns the command too; an unregistered option may precede it.
    if (!rest.empty() && rest.front() == line.command) {
      rest.erase(rest.begin());
    } else {
      throw UsageError("unknown option \"" + (rest.empty() ? std::string() : rest.front()) +
                       "\" before the command");
    }
  } else if (!rest.empty()) {
    throw UsageError("unknown option \"" + rest.front() + "\"");
  }
  line.args = std::move(rest);

  Settings& settings = line.settings;
  const HostPort server =
      parse_server_address(pick(vm, "server", env, "TMC_SERVER", "localhost:8443"));
  settings.client.host = server.host;
  settings.client.port = server.port;
  settings.client.ca_file = pick(vm, "ca", env, "TMC_CA", "certs/out/ca.crt");
  settings.token_file = pick(vm, "token-file", env, "TMC_TOKEN_FILE", default_token_file(env));
  if ((vm.count("cert") != 0) != (vm.count("key") != 0)) {
    throw UsageError("--cert and --key go together");
  }
  if (vm.count("cert") != 0) {
    settings.client.client_certificate_file = vm["cert"].as<std::string>();
    settings.client.client_private_key_file = vm["key"].as<std::string>();
  }
  settings.json = vm["json"].as<bool>();
  return line;
}

std::string global_options_help() {
  std::ostringstream text;
  text << global_options();
  return text.str();
}

}  // namespace tmc::cli

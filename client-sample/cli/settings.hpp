// Command-line and environment settings of tmc-client: global options, command name, its args.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tmc/client/options.hpp"

namespace tmc::cli {

// A mistake in the command line; the message says what is wrong. Exit code 64 (EX_USAGE).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable (injected so tests need not touch the real environment).
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

// Settings shared by every command.
struct Settings {
  client::ClientOptions client;  // host, port, CA, client certificate
  std::string token_file;        // where login stores the session token
  bool json = false;             // print results as JSON instead of text
};

struct CommandLine {
  Settings settings;
  bool help = false;
  std::string command;            // empty when only --help was asked for
  std::vector<std::string> args;  // everything after the command that is not a global option
};

struct HostPort {
  std::string host;
  std::string port;
};

// "host:port", "[v6addr]:port" or "host" (port 8443). Throws UsageError.
HostPort parse_server_address(std::string_view text);

// Global options may appear before or after the command:
//   --server host:port (env TMC_SERVER, default localhost:8443)
//   --ca FILE          (env TMC_CA, default certs/out/ca.crt)
//   --token-file FILE  (env TMC_TOKEN_FILE, default ~/.config/tmc/session.token)
//   --cert FILE --key FILE (mutual TLS), --json, --help
// Throws UsageError.
CommandLine parse_command_line(const std::vector<std::string>& arguments, const Environment& env);

// Help text of the global options.
std::string global_options_help();

}  // namespace tmc::cli

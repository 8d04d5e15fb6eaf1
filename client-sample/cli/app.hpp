// tmc-client's entry point: parses the command line, runs one command, maps failures to exits.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"

namespace tmc::cli {

// Exit codes: 0 success; 1 the server refused (non-OK status) or another command failure;
// 2 the connection failed (cannot connect, TLS, upgrade, dropped, timed out); 64 usage error.
inline constexpr int exit_failure = 1;
inline constexpr int exit_connection = 2;
inline constexpr int exit_usage = 64;

// arguments excludes the program name.
int run(const std::vector<std::string>& arguments, std::istream& in, std::ostream& out,
        std::ostream& err, const Environment& env);

// Help text: usage line, commands, global options.
std::string usage();

}  // namespace tmc::cli

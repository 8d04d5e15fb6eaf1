// The command table of tmc-client: each command is a name, its help and one function.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tmc::cli {

class CommandContext;

// Runs one command with the arguments after its name; returns the exit code. Failures are
// thrown (see context.hpp) and turned into messages and exit codes in one place, app.cpp.
using CommandFunction = int (*)(CommandContext& context, const std::vector<std::string>& args);

struct Command {
  std::string_view name;
  std::string_view synopsis;  // arguments and options, after the name
  std::string_view summary;   // one line
  CommandFunction run;
  std::string (*details)();  // longer help for `COMMAND --help`, or nullptr
};

// Every command, in the order help lists them (command_table.cpp).
std::span<const Command> command_table();
const Command* find_command(std::string_view name);

// auth_commands.cpp
int run_login(CommandContext& context, const std::vector<std::string>& args);
int run_whoami(CommandContext& context, const std::vector<std::string>& args);
int run_logout(CommandContext& context, const std::vector<std::string>& args);

// directory_commands.cpp
int run_orgs(CommandContext& context, const std::vector<std::string>& args);
int run_specialists(CommandContext& context, const std::vector<std::string>& args);

// consult_commands.cpp
int run_consult(CommandContext& context, const std::vector<std::string>& args);

// schedule_commands.cpp
int run_schedule(CommandContext& context, const std::vector<std::string>& args);

// file_commands.cpp
int run_file(CommandContext& context, const std::vector<std::string>& args);
std::string file_help();

}  // namespace tmc::cli

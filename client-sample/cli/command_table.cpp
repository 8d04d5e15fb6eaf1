// The command table of tmc-client: add a row here (and its function) to add a command.
#include <algorithm>
#include <array>

#include "cli/command.hpp"
#include "cli/consult_args.hpp"
#include "cli/schedule_args.hpp"

namespace tmc::cli {
namespace {

constexpr std::array commands{
    Command{"login", "USERNAME [--password-stdin] [--totp CODE]",
            "log in (password read from standard input) and store the session token", run_login,
            nullptr},
    Command{"whoami", "", "show the user of the stored session", run_whoami, nullptr},
    Command{"logout", "", "end the stored session and delete its token", run_logout, nullptr},
    Command{"orgs", "", "list organisations and the county -> partner pairings", run_orgs,
            nullptr},
    Command{"specialists", "--specialty NAME [--organization ID]",
            "list the specialists of a specialty", run_specialists, nullptr},
    Command{"consult", "SUBCOMMAND [arguments]",
            "consultations: open, list, show, accept, decline, assign, invite, post, ack, log,\n"
            "      chat, report, close, cancel (tmc-client consult --help lists their options)",
            run_consult, consult_help},
    Command{"schedule", "SUBCOMMAND [arguments]",
            "review scheduling: publish, withdraw, slots, book, cancel, reschedule, list\n"
            "      (tmc-client schedule --help lists their options)",
            run_schedule, schedule_help},
    Command{"file", "SUBCOMMAND [arguments]",
            "case files: upload (resumable, with progress), download (SHA-256 verified), list,\n"
            "      share (tmc-client file --help lists their options)",
            run_file, file_help},
};

}  // namespace

std::span<const Command> command_table() { return commands; }

const Command* find_command(std::string_view name) {
  const auto it = std::ranges::find(commands, name, &Command::name);
  return it == commands.end() ? nullptr : &*it;
}

}  // namespace tmc::cli

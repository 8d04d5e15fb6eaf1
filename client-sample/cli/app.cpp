// tmc-client's entry point: parses the command line, runs one command, maps failures to exits.
#include "cli/app.hpp"

#include <ostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "tmc/client/error.hpp"

namespace tmc::cli {

std::string usage() {
  std::ostringstream text;
  text << "usage: tmc-client [global options] COMMAND [arguments]\n\ncommands:\n";
  for (const Command& command : command_table()) {
    text << "  " << command.name << ' ' << command.synopsis << "\n      " << command.summary
         << '\n';
  }
  text << '\n' << global_options_help();
  return text.str();
}

int run(const std::vector<std::string>& arguments, std::istream& in, std::ostream& out,
        std::ostream& err, const Environment& env) {
  const Command* command = nullptr;
  try {
    CommandLine line = parse_command_line(arguments, env);
    if (line.command.empty()) {
      (line.help ? out : err) << usage();
      return line.help ? 0 : exit_usage;
    }
    command = find_command(line.command);
    if (command == nullptr) throw UsageError("unknown command \"" + line.command + "\"");
    if (line.help) {
      out << "usage: tmc-client " << command->name << ' ' << command->synopsis << '\n'
          << command->summary << '\n';
      if (command->details != nullptr) out << command->details();
      return 0;
    }
    CommandContext context(std::move(line.settings), in, out, err);
    return command->run(context, line.args);
  } catch (const UsageError& e) {
    err << "error: " << e.what() << '\n';
    if (command != nullptr) {
      err << "usage: tmc-client " << command->name << ' ' << command->synopsis << '\n';
    } else {
      err << "run tmc-client --help for usage\n";
    }
    return exit_usage;
  } catch (const StatusError& e) {
    err << "error: " << e.what() << '\n';
    return exit_failure;
  } catch (const client::ClientError& e) {
    err << "error: " << e.what() << '\n';
    return exit_connection;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
    return exit_failure;
  }
}

}  // namespace tmc::cli

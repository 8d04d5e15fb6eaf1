// tmc-client commands for the session: login, whoami, logout.
#include <google/protobuf/util/time_util.h>

#include <ostream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/password.hpp"
#include "cli/token_file.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
using telemed::v1::ClientFrame;
using telemed::v1::LoginResult;

namespace {

// "Dr. Li Wei (specialist, Shanghai Partner Hospital)"
std::string describe_user(CommandContext& context, const telemed::v1::User& user) {
  std::string organization = user.organization_id();
  try {
    organization = organization_name(context.organizations(), user.organization_id());
  } catch (const StatusError&) {
    // Some roles may not list organisations; the id still identifies it.
  }
  return user.display_name() + " (" + enum_label(telemed::v1::Role_Name(user.role()), "ROLE_") +
         ", " + organization + ")";
}

// Shows who is logged in; the session token is never printed.
void print_session(CommandContext& context, LoginResult result) {
  result.clear_session_token();
  if (context.json()) {
    print_json(context.out(), result);
    return;
  }
  context.out() << "logged in as " << describe_user(context, result.user()) << '\n';
  if (result.has_expires_at()) {
    context.out() << "session expires "
                  << google::protobuf::util::TimeUtil::ToString(result.expires_at()) << '\n';
  }
}

void expect_no_arguments(const std::vector<std::string>& args) {
  (void)parse_command_options(args, po::options_description());
}

}  // namespace

int run_login(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("username", po::value<std::string>()->required())
      ("password-stdin", po::bool_switch(), "read the password from standard input, no prompt")
      ("totp", po::value<std::string>()->default_value(""), "one-time code, if enrolled");
  // clang-format on
  po::positional_options_description positional;
  positional.add("username", 1);
  const auto vm = parse_command_options(args, options, positional);

  const std::string password = read_password(context.in(), context.err(),
                                             vm["password-stdin"].as<bool>() ? "" : "password: ");
  ClientFrame frame;
  auto& login = *frame.mutable_login();
  login.set_username(vm["username"].as<std::string>());
  login.set_password(password);
  login.set_totp_code(vm["totp"].as<std::string>());
  LoginResult result = context.call(std::move(frame)).login();

  if (auto stored = write_token(context.settings().token_file, result.session_token()); !stored) {
    throw CommandError("logged in, but cannot store the session token in " +
                       context.settings().token_file + ": " + stored.error().message());
  }
  print_session(context, std::move(result));
  return 0;
}

int run_whoami(CommandContext& context, const std::vector<std::string>& args) {
  expect_no_arguments(args);
  print_session(context, context.resume_session());
  return 0;
}

int run_logout(CommandContext& context, const std::vector<std::string>& args) {
  expect_no_arguments(args);
  const std::string& token_file = context.settings().token_file;
  try {
    context.resume_session();
  } catch (const StatusError& e) {
    if (e.status().code() != telemed::v1::UNAUTHENTICATED) throw;
    // The server no longer knows the session: forgetting the token is all that is left.
    (void)remove_token(token_file);
    context.err() << "session had already ended; token removed\n";
    return 0;
  }
  ClientFrame frame;
  frame.mutable_logout();
  const auto response = context.call(std::move(frame));
  if (auto removed = remove_token(token_file); !removed) {
    throw CommandError("logged out, but cannot delete " + token_file + ": " +
                       removed.error().message());
  }
  if (context.json()) {
    print_json(context.out(), response.logout());
  } else {
    context.out() << "logged out\n";
  }
  return 0;
}

}  // namespace tmc::cli

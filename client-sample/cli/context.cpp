// What every tmc-client command shares: settings, streams, the connection, failures, parsing.
#include "cli/context.hpp"

#include <boost/program_options/parsers.hpp>
#include <utility>

#include "cli/output.hpp"
#include "cli/token_file.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
using telemed::v1::ClientFrame;
using telemed::v1::Response;

StatusError::StatusError(telemed::v1::Status status)
    : std::runtime_error(describe_status(status)), status_(std::move(status)) {}

OrganizationNames organization_names(const telemed::v1::ListOrganizationsResult& result) {
  OrganizationNames names;
  for (const auto& organization : result.organizations()) {
    names.emplace(organization.id(), organization.name());
  }
  return names;
}

std::string organization_name(const OrganizationNames& names, const std::string& id) {
  const auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

po::variables_map parse_command_options(const std::vector<std::string>& args,
                                        const po::options_description& options,
                                        const po::positional_options_description& positional) {
  po::variables_map vm;
  try {
    const auto style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    po::store(
        po::command_line_parser(args).options(options).positional(positional).style(style).run(),
        vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

CommandContext::CommandContext(Settings settings, std::istream& in, std::ostream& out,
                               std::ostream& err)
    : settings_(std::move(settings)), in_(in), out_(out), err_(err) {}

CommandContext::~CommandContext() = default;

client::BlockingClient& CommandContext::connect() {
  if (!client_) {
    auto client = std::make_unique<client::BlockingClient>(settings_.client);
    client->connect();
    client_ = std::move(client);
  }
  return *client_;
}

void CommandContext::disconnect() { client_.reset(); }

telemed::v1::LoginResult CommandContext::resume_session() {
  auto token = read_token(settings_.token_file);
  if (!token) {
    throw CommandError("not logged in (no session token in " + settings_.token_file +
                       "); run: tmc-client login USERNAME");
  }
  ClientFrame frame;
  frame.mutable_resume()->set_session_token(*token);
  return call(std::move(frame)).login();
}

Response CommandContext::call(ClientFrame frame) {
  Response response = connect().call(std::move(frame));
  if (response.status().code() != telemed::v1::OK) throw StatusError(response.status());
  return response;
}

std::vector<Response> CommandContext::call_all(std::vector<ClientFrame> frames) {
  std::vector<Response> responses = connect().call_pipelined(std::move(frames));
  for (const auto& response : responses) {
    if (response.status().code() != telemed::v1::OK) throw StatusError(response.status());
  }
  return responses;
}

const OrganizationNames& CommandContext::organizations() {
  if (!organizations_) {
    ClientFrame frame;
    frame.mutable_list_organizations();
    organizations_ = std::make_unique<OrganizationNames>(
        organization_names(call(std::move(frame)).list_organizations()));
  }
  return *organizations_;
}

}  // namespace tmc::cli

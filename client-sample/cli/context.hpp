// What every tmc-client command shares: settings, streams, the connection, failures, parsing.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>
#include <iosfwd>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"

namespace tmc::cli {

// The server answered with a non-OK status: "error: CODE_NAME: message", exit code 1.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(telemed::v1::Status status);
  const telemed::v1::Status& status() const { return status_; }

 private:
  telemed::v1::Status status_;
};

// A failure the user can act on that is neither a usage nor a server error
// (e.g. not logged in): "error: message", exit code 1.
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Organisation id -> name, from a ListOrganizationsResult.
using OrganizationNames = std::map<std::string, std::string>;
OrganizationNames organization_names(const telemed::v1::ListOrganizationsResult& result);
// The organisation's name, or its id if unknown.
std::string organization_name(const OrganizationNames& names, const std::string& id);

// Parses a command's own options; positional names args that are not options.
// Throws UsageError on unknown options, missing required ones or surplus arguments.
boost::program_options::variables_map parse_command_options(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional = {});

class CommandContext {
 public:
  CommandContext(Settings settings, std::istream& in, std::ostream& out, std::ostream& err);
  ~CommandContext();

  const Settings& settings() const { return settings_; }
  bool json() const { return settings_.json; }
  std::istream& in() { return in_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // The connection, opened on first use. Throws client::ClientError.
  client::BlockingClient& connect();
  // Drops the connection (after a failure); the next call connects and must resume again.
  void disconnect();

  // Connects and resumes the session stored in the token file. Throws CommandError when there
  // is no token (not logged in), StatusError when the server refuses it, ClientError.
  telemed::v1::LoginResult resume_session();

  // One request; a non-OK status throws StatusError.
  telemed::v1::Response call(telemed::v1::ClientFrame frame);
  // Requests pipelined on the connection; the first non-OK status throws StatusError.
  std::vector<telemed::v1::Response> call_all(std::vector<telemed::v1::ClientFrame> frames);

  // Organisation names for display (one list_organizations request, cached).
  const OrganizationNames& organizations();

 private:
  Settings settings_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<client::BlockingClient> client_;
  std::unique_ptr<OrganizationNames> organizations_;
};

}  // namespace tmc::cli

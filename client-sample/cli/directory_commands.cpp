// tmc-client commands for the directory: orgs, specialists.
#include <ostream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
using telemed::v1::ClientFrame;

namespace {

ClientFrame list_organizations_request() {
  ClientFrame frame;
  frame.mutable_list_organizations();
  return frame;
}

}  // namespace

int run_orgs(CommandContext& context, const std::vector<std::string>& args) {
  (void)parse_command_options(args, po::options_description());
  context.resume_session();
  const auto result = context.call(list_organizations_request()).list_organizations();
  if (context.json()) {
    print_json(context.out(), result);
    return 0;
  }
  Table table({"ID", "NAME", "KIND", "REGION", "TIME ZONE"});
  for (const auto& organization : result.organizations()) {
    table.add_row(
        {organization.id(), organization.name(),
         enum_label(telemed::v1::OrganizationKind_Name(organization.kind()), "ORGANIZATION_KIND_"),
         organization.region(), organization.time_zone()});
  }
  table.print(context.out());
  const OrganizationNames names = organization_names(result);
  context.out() << "\npairings (county -> partner):\n";
  if (result.pairings().empty()) context.out() << "  (none)\n";
  for (const auto& pairing : result.pairings()) {
    context.out() << "  " << organization_name(names, pairing.county_organization_id()) << " -> "
                  << organization_name(names, pairing.partner_organization_id()) << '\n';
  }
  return 0;
}

int run_specialists(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options;
  // clang-format off
  options.add_options()
      ("specialty", po::value<std::string>()->required(), "e.g. orthopedics")
      ("organization", po::value<std::string>()->default_value(""), "only this organisation's");
  // clang-format on
  const auto vm = parse_command_options(args, options);
  context.resume_session();

  const std::string specialty = vm["specialty"].as<std::string>();
  ClientFrame frame;
  frame.mutable_list_specialists()->set_specialty(specialty);
  frame.mutable_list_specialists()->set_organization_id(vm["organization"].as<std::string>());
  if (context.json()) {
    print_json(context.out(), context.call(std::move(frame)).list_specialists());
    return 0;
  }
  // Organisation names are fetched alongside, pipelined on the same connection.
  auto responses = context.call_all({std::move(frame), list_organizations_request()});
  const OrganizationNames names = organization_names(responses[1].list_organizations());
  Table table({"ID", "USERNAME", "NAME", "ORGANISATION", "SPECIALTIES"});
  for (const auto& user : responses[0].list_specialists().users()) {
    table.add_row({user.id(), user.username(), user.display_name(),
                   organization_name(names, user.organization_id()),
                   join({user.specialties().begin(), user.specialties().end()}, ", ")});
  }
  if (table.empty()) {
    context.out() << "no specialists for " << specialty << '\n';
  } else {
    table.print(context.out());
  }
  return 0;
}

}  // namespace tmc::cli

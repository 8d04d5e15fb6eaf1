// Routing policy: pairing-based candidate selection and narrowing, as documented in the header.
#include "domain/routing.hpp"

#include <algorithm>
#include <utility>

namespace tmc::domain {
namespace {

using store::OrganizationKind;
using store::Role;
using store::User;

const store::Organization* find_organization(const RoutingInput& input, const std::string& id) {
  auto it = std::find_if(input.organizations.begin(), input.organizations.end(),
                         [&](const store::Organization& org) { return org.id == id; });
  return it == input.organizations.end() ? nullptr : &*it;
}

bool contains(const std::vector<std::string>& sorted, const std::string& value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

void sort_unique(std::vector<std::string>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

bool practises(const User& user, const std::string& specialty) {
  return std::find(user.specialties.begin(), user.specialties.end(), specialty) !=
         user.specialties.end();
}

bool is_enabled_specialist(const User& user) {
  return user.role == Role::specialist && !user.disabled;
}

// Why the preferred specialist is not an eligible candidate; empty when they are.
std::string preferred_specialist_problem(const RoutingInput& input,
                                         const std::vector<std::string>& partners) {
  const auto& id = input.preferred_specialist_id;
  auto it = std::find_if(input.specialists.begin(), input.specialists.end(),
                         [&](const User& user) { return user.id == id; });
  if (it == input.specialists.end() || !is_enabled_specialist(*it)) {
    return "preferred specialist " + id + " is not an enabled specialist";
  }
  if (!practises(*it, input.specialty)) {
    return "preferred specialist " + id + " does not practise " + input.specialty;
  }
  if (!contains(partners, it->organization_id)) {
    return "preferred specialist " + id + " does not work at a partner hospital paired with " +
           input.requester_org.id;
  }
  if (!input.target_organization_id.empty() &&
      it->organization_id != input.target_organization_id) {
    return "preferred specialist " + id + " does not work at " + input.target_organization_id;
  }
  return {};
}

}  // namespace

std::vector<std::string> reachable_partner_ids(const RoutingInput& input) {
  std::vector<std::string> partners;
  if (input.widen) {
    for (const auto& org : input.organizations) {
      if (org.kind == OrganizationKind::partner_hospital) partners.push_back(org.id);
    }
  } else {
    for (const auto& pairing : input.pairings) {
      if (pairing.county_organization_id != input.requester_org.id) continue;
      const auto* partner = find_organization(input, pairing.partner_organization_id);
      if (partner != nullptr && partner->kind == OrganizationKind::partner_hospital) {
        partners.push_back(partner->id);
      }
    }
  }
  sort_unique(partners);
  return partners;
}

Result<std::vector<std::string>> route(const RoutingInput& input) {
  if (input.specialty.empty()) {
    return make_error(Code::invalid_argument, "specialty is required");
  }
  if (input.requester_org.kind != OrganizationKind::county_hospital) {
    return make_error(Code::permission_denied, "only county hospitals may request consultations");
  }
  auto partners = reachable_partner_ids(input);

  if (!input.widen && !input.target_organization_id.empty()) {
    const auto& target = input.target_organization_id;
    if (find_organization(input, target) == nullptr) {
      return make_error(Code::not_found, "organization " + target + " not found");
    }
    if (!contains(partners, target)) {
      return make_error(Code::permission_denied,
                        input.requester_org.id + " is not paired with " + target);
    }
    partners = {target};
  }
  if (!input.widen && !input.preferred_specialist_id.empty()) {
    if (auto problem = preferred_specialist_problem(input, partners); !problem.empty()) {
      return make_error(Code::invalid_argument, std::move(problem));
    }
    return std::vector<std::string>{input.preferred_specialist_id};
  }

  std::vector<std::string> candidates;
  for (const auto& user : input.specialists) {
    if (is_enabled_specialist(user) && practises(user, input.specialty) &&
        contains(partners, user.organization_id)) {
      candidates.push_back(user.id);
    }
  }
  sort_unique(candidates);
  return candidates;
}

}  // namespace tmc::domain

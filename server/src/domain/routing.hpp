// Routing policy: which specialists a consultation is offered to, decided by the pairings.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "store/model.hpp"

namespace tmc::domain {

// Everything routing needs, gathered by the caller from the store. References must outlive the
// call.
struct RoutingInput {
  const store::Organization& requester_org;
  std::string specialty;
  std::string target_organization_id;   // optional narrowing to one paired partner hospital
  std::string preferred_specialist_id;  // optional narrowing to one eligible specialist
  const std::vector<store::Pairing>& pairings;
  const std::vector<store::Organization>& organizations;
  // SPECIALIST users (disabled users and other roles are ignored if present).
  const std::vector<store::User>& specialists;
  // Escalated: offer to the specialty's specialists at every PARTNER hospital, pairing or not.
  // The requester's narrowing is not applied (nor validated) when widening.
  bool widen = false;
};

// Candidate specialist ids, sorted and unique: enabled SPECIALISTs working at a partner hospital
// paired with the requester's county hospital whose specialties include `specialty`, narrowed to
// `target_organization_id` and/or `preferred_specialist_id` when given. Narrowing never widens
// silently: an ineligible narrowing is an error. An empty list is not an error (nobody eligible:
// the caller opens the consultation with candidate_count 0 and tells the coordinators).
// Errors:
//   INVALID_ARGUMENT  specialty is empty; the preferred specialist is unknown, disabled, not a
//                     specialist, does not practise the specialty, does not work at a paired
//                     partner hospital, or does not work at the target organisation
//   PERMISSION_DENIED the requester's organisation is not a county hospital; the target
//                     organisation is not a partner hospital paired with it
//   NOT_FOUND         the target organisation does not exist
Result<std::vector<std::string>> route(const RoutingInput& input);

// Partner hospitals the requester may consult, sorted: the paired partners of its county
// hospital, or every partner hospital when `widen`. Pairings naming an unknown organisation or
// one that is not a partner hospital are ignored.
std::vector<std::string> reachable_partner_ids(const RoutingInput& input);

}  // namespace tmc::domain

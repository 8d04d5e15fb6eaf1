// Directory: organisations, pairings and users — reading for clients, managing for tmc-admin.
#include "domain/directory_service.hpp"

#include <algorithm>
#include <set>

#include "crypto/random.hpp"
#include "domain/time_zone.hpp"

namespace tmc::domain {

bool is_valid_identifier(const std::string& text) {
  if (text.size() < 2 || text.size() > 40) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(text.front())) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

DirectoryService::DirectoryService(store::Store& store, const Clock& clock, AuditHook& audit)
    : store_(store), clock_(clock), audit_(audit) {}

Result<DirectoryListing> DirectoryService::list_organizations(const Caller&) {
  DirectoryListing listing;
  store_.read([&](store::Tx& tx) {
    listing.organizations = tx.list_organizations();
    listing.pairings = tx.list_pairings();
  });
  return listing;
}

Result<std::vector<store::User>> DirectoryService::list_specialists(
    const Caller& caller, const std::string& specialty, const std::string& organization_id) {
  std::vector<store::User> result;
  bool denied = false;
  store_.read([&](store::Tx& tx) {
    std::set<std::string> visible;  // empty with all_visible = admin
    const bool all_visible = caller.user.role == store::Role::admin;
    if (!all_visible) {
      const auto own = tx.find_organization(caller.user.organization_id);
      if (own && own->kind == store::OrganizationKind::county_hospital) {
        for (const auto& pairing : tx.list_pairings()) {
          if (pairing.county_organization_id == own->id) {
            visible.insert(pairing.partner_organization_id);
          }
        }
      } else if (own) {
        visible.insert(own->id);
      }
    }
    if (!organization_id.empty() && !all_visible && !visible.contains(organization_id)) {
      denied = true;
      return;
    }
    store::UserFilter filter;
    filter.role = store::Role::specialist;
    filter.organization_id = organization_id;
    filter.specialty = specialty;
    for (auto& user : tx.list_users(filter)) {
      if (all_visible || visible.contains(user.organization_id)) result.push_back(std::move(user));
    }
  });
  if (denied) {
    return make_error(Code::permission_denied,
                      "that organisation is not paired with yours");
  }
  return result;
}

Status DirectoryService::add_organization(const store::Organization& organization) {
  if (!is_valid_identifier(organization.id)) {
    return make_error(Code::invalid_argument,
                      "organisation id must be 2-40 characters of a-z, 0-9, '.', '_' or '-'");
  }
  if (organization.name.empty()) return make_error(Code::invalid_argument, "name is required");
  if (organization.kind == store::OrganizationKind::unspecified) {
    return make_error(Code::invalid_argument, "kind must be county or partner");
  }
  if (!is_known_time_zone(organization.time_zone)) {
    return make_error(Code::invalid_argument,
                      "unknown time zone '" + organization.time_zone + "' (use an IANA name)");
  }
  bool inserted = false;
  store_.write([&](store::Tx& tx) {
    inserted = tx.insert_organization(organization);
    return inserted;
  });
  if (!inserted) {
    return make_error(Code::already_exists, "organisation '" + organization.id + "' exists");
  }
  audit_.record({"", "", "admin.organization.add", {organization.id}, AuditOutcome::success, ""});
  return ok();
}

Status DirectoryService::add_pairing(const std::string& county_organization_id,
                                     const std::string& partner_organization_id) {
  Status status = ok();
  store_.write([&](store::Tx& tx) {
    const auto county = tx.find_organization(county_organization_id);
    const auto partner = tx.find_organization(partner_organization_id);
    if (!county || !partner) {
      status = make_error(Code::not_found, "unknown organisation");
      return false;
    }
    if (county->kind != store::OrganizationKind::county_hospital ||
        partner->kind != store::OrganizationKind::partner_hospital) {
      status = make_error(Code::invalid_argument,
                          "a pairing joins a county hospital to a partner hospital");
      return false;
    }
    if (!tx.insert_pairing({county_organization_id, partner_organization_id})) {
      status = make_error(Code::already_exists, "already paired");
      return false;
    }
    return true;
  });
  if (status) {
    audit_.record({"", "", "admin.pairing.add",
                   {county_organization_id, partner_organization_id}, AuditOutcome::success, ""});
  }
  return status;
}

Result<store::User> DirectoryService::add_user(const NewUser& request,
                                               const std::string& password_hash) {
  if (!is_valid_identifier(request.username)) {
    return make_error(Code::invalid_argument,
                      "username must be 2-40 characters of a-z, 0-9, '.', '_' or '-'");
  }
  if (request.role == store::Role::unspecified) {
    return make_error(Code::invalid_argument, "role is required");
  }
  store::User user;
  user.id = crypto::random_id("usr");
  user.username = request.username;
  user.display_name = request.display_name.empty() ? request.username : request.display_name;
  user.role = request.role;
  user.organization_id = request.organization_id;
  user.specialties = request.specialties;
  std::sort(user.specialties.begin(), user.specialties.end());
  user.specialties.erase(std::unique(user.specialties.begin(), user.specialties.end()),
                         user.specialties.end());
  user.created_at = clock_.now();

  std::optional<Error> failure;
  store_.write([&](store::Tx& tx) {
    const auto organization = tx.find_organization(user.organization_id);
    if (!organization) {
      failure = make_error(Code::not_found, "unknown organisation '" + user.organization_id + "'");
      return false;
    }
    if (user.role == store::Role::clinician &&
        organization->kind != store::OrganizationKind::county_hospital) {
      failure = make_error(Code::invalid_argument, "clinicians work at county hospitals");
      return false;
    }
    if (user.role == store::Role::specialist &&
        organization->kind != store::OrganizationKind::partner_hospital) {
      failure = make_error(Code::invalid_argument, "specialists work at partner hospitals");
      return false;
    }
    if (user.role == store::Role::specialist && user.specialties.empty()) {
      failure = make_error(Code::invalid_argument, "a specialist needs at least one specialty");
      return false;
    }
    if (!tx.insert_user(user, password_hash)) {
      failure = make_error(Code::already_exists, "username '" + user.username + "' is taken");
      return false;
    }
    return true;
  });
  if (failure) return *failure;
  audit_.record({"", "", "admin.user.add", {user.id}, AuditOutcome::success, ""});
  return user;
}

Status DirectoryService::set_password_hash(const std::string& username,
                                           const std::string& password_hash) {
  std::string user_id;
  store_.write([&](store::Tx& tx) {
    const auto user = tx.find_user_by_username(username);
    if (!user) return false;
    user_id = user->id;
    tx.set_password_hash(user->id, password_hash);
    tx.revoke_user_sessions(user->id);  // a reset ends every existing session
    return true;
  });
  if (user_id.empty()) return make_error(Code::not_found, "unknown user");
  audit_.record({"", "", "admin.user.password_reset", {user_id}, AuditOutcome::success, ""});
  return ok();
}

Result<std::string> DirectoryService::set_disabled(const std::string& username, bool disabled) {
  std::string user_id;
  store_.write([&](store::Tx& tx) {
    const auto user = tx.find_user_by_username(username);
    if (!user) return false;
    user_id = user->id;
    tx.set_user_disabled(user->id, disabled);
    if (disabled) tx.revoke_user_sessions(user->id);
    return true;
  });
  if (user_id.empty()) return make_error(Code::not_found, "unknown user");
  audit_.record({"", "", disabled ? "admin.user.disable" : "admin.user.enable", {user_id},
                 AuditOutcome::success, ""});
  return user_id;
}

}  // namespace tmc::domain

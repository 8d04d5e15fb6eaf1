// Directory: organisations, pairings and users — reading for clients, managing for tmc-admin.
#pragma once

#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "store/store.hpp"

namespace tmc::domain {

struct DirectoryListing {
  std::vector<store::Organization> organizations;
  std::vector<store::Pairing> pairings;
};

struct NewUser {
  std::string username;
  std::string display_name;
  store::Role role = store::Role::unspecified;
  std::string organization_id;
  std::vector<std::string> specialties;
};

// Thread-safe; methods block on the store (call them from a worker thread).
class DirectoryService {
 public:
  DirectoryService(store::Store& store, const Clock& clock, AuditHook& audit);

  // Every authenticated user may read the organisations and pairings (no clinical content).
  Result<DirectoryListing> list_organizations(const Caller& caller);

  // Specialists the caller may consult or work with: for county hospital staff, those of the
  // paired partner hospitals; for partner hospital staff, those of their own hospital; for
  // admins, all. organization_id outside that set: PERMISSION_DENIED. Sorted by username.
  Result<std::vector<store::User>> list_specialists(const Caller& caller,
                                                    const std::string& specialty,
                                                    const std::string& organization_id);

  // ---- administration (tmc-admin; the caller is the operator of the deployment) ----

  // Ids are URL-safe: [a-z0-9-], 2..40 characters. Time zone must be a known IANA name.
  Status add_organization(const store::Organization& organization);
  // The first organisation must be a county hospital and the second a partner hospital.
  Status add_pairing(const std::string& county_organization_id,
                     const std::string& partner_organization_id);
  // Validates role against the organisation kind (clinicians work at county hospitals,
  // specialists at partner hospitals) and stores the scrypt hash. Returns the new user.
  Result<store::User> add_user(const NewUser& user, const std::string& password_hash);
  Status set_password_hash(const std::string& username, const std::string& password_hash);
  // Disabling also revokes every session of the user. Returns the user id.
  Result<std::string> set_disabled(const std::string& username, bool disabled);

 private:
  store::Store& store_;
  const Clock& clock_;
  AuditHook& audit_;
};

// Checks an organisation id or username: [a-z0-9][a-z0-9._-]{1,39}.
bool is_valid_identifier(const std::string& text);

}  // namespace tmc::domain

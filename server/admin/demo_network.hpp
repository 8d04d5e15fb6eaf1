// The demo network of DOMAIN.md: county hospitals of Kashgar, Aksu and Hotan and their partners.
#pragma once

#include <string>
#include <vector>

#include "domain/auth_service.hpp"
#include "domain/directory_service.hpp"

namespace tmc::admin {

struct DemoLogin {
  std::string username;
  std::string password;  // generated for this seeding; printed once, never stored in clear
  std::string role;
  std::string organization_id;
};

// Seeds organisations, pairings and users with freshly generated passwords. Fails if any of
// them already exists.
Result<std::vector<DemoLogin>> seed_demo_network(domain::DirectoryService& directory,
                                                 const domain::AuthService& auth);

}  // namespace tmc::admin

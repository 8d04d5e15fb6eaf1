// Test data for end-to-end runs: a data directory initialised and seeded by tmc-admin.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace tmc::e2e {

// One "login <username> <password> <role> <org>" line printed by `tmc-admin demo`.
struct DemoLogin {
  std::string username;
  std::string password;
  std::string role;
  std::string organization_id;
};

// Parses the stdout of `tmc-admin demo` (other lines are ignored), keyed by username.
std::map<std::string, DemoLogin> parse_demo_logins(const std::string& admin_output);

// Runs `tmc-admin --data-dir data_dir init` then `... --scrypt-log2n 10 demo` and returns the
// demo logins. Throws std::runtime_error naming the failed step.
std::map<std::string, DemoLogin> seed_demo_data_dir(const std::filesystem::path& data_dir);

}  // namespace tmc::e2e

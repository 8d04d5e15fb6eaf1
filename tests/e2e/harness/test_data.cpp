// Test data for end-to-end runs: a data directory initialised and seeded by tmc-admin.
#include "test_data.hpp"

#include <sstream>
#include <stdexcept>
#include <vector>

#include "server_process.hpp"

namespace tmc::e2e {
namespace {

std::string run_admin(const std::filesystem::path& data_dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {admin_binary(), "--data-dir", data_dir.string(),
                                   "--scrypt-log2n", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv);
  if (!result.status.exited || result.status.code != 0) {
    throw std::runtime_error("tmc-admin " + args.front() + " " + result.status.describe());
  }
  return result.out;
}

}  // namespace

std::map<std::string, DemoLogin> parse_demo_logins(const std::string& admin_output) {
  std::map<std::string, DemoLogin> logins;
  std::istringstream lines(admin_output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword;
    DemoLogin login;
    if (!(words >> keyword) || keyword != "login") continue;
    if (words >> login.username >> login.password >> login.role >> login.organization_id) {
      logins[login.username] = login;
    }
  }
  return logins;
}

std::map<std::string, DemoLogin> seed_demo_data_dir(const std::filesystem::path& data_dir) {
  run_admin(data_dir, {"init"});
  auto logins = parse_demo_logins(run_admin(data_dir, {"demo"}));
  if (logins.empty()) throw std::runtime_error("tmc-admin demo printed no logins");
  return logins;
}

}  // namespace tmc::e2e

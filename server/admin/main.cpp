// tmc-admin: set up and manage a tmc deployment (data directory, organisations, users, demo).
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "app/data_dir.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "demo_network.hpp"
#include "domain/auth_service.hpp"
#include "domain/directory_service.hpp"

namespace po = boost::program_options;
using namespace tmc;

namespace {

struct Globals {
  std::string data_dir = "var/data";
  int scrypt_log2_n = 17;
};

// Services over an opened data directory, for the commands that change it.
struct Deployment {
  std::unique_ptr<store::Store> store;
  SystemClock clock;
  domain::NullAuditHook audit;  // replaced by the audit log when it lands
  std::unique_ptr<domain::AuthService> auth;
  std::unique_ptr<domain::DirectoryService> directory;

  explicit Deployment(const Globals& globals) {
    const app::DataDir data_dir(globals.data_dir);
    data_dir.load_key_ring();  // refuses a deployment whose key file is missing or too open
    store = data_dir.open_store();
    domain::AuthOptions options;
    options.password_params.n = std::uint64_t{1} << globals.scrypt_log2_n;
    auth = std::make_unique<domain::AuthService>(*store, clock, audit, options);
    directory = std::make_unique<domain::DirectoryService>(*store, clock, audit);
  }
};

int fail(const Error& error) {
  std::cerr << "tmc-admin: " << error.message << '\n';
  return 1;
}

std::string read_password_stdin() {
  std::string password;
  std::getline(std::cin, password);
  if (password.size() < 12) throw std::runtime_error("password must be at least 12 characters");
  return password;
}

using Args = std::vector<std::string>;

// Parses a command's own options; positional arguments go to "arg".
po::variables_map parse(const Args& args, po::options_description& desc, int positional = 0) {
  po::positional_options_description pos;
  if (positional != 0) pos.add("arg", positional);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  return vm;
}

int cmd_init(const Globals& globals, const Args&) {
  app::DataDir(globals.data_dir).initialize();
  std::cout << "initialised " << globals.data_dir << " (database, key file kek.keys mode 0600)\n";
  return 0;
}

store::OrganizationKind parse_kind(const std::string& text) {
  if (text == "county") return store::OrganizationKind::county_hospital;
  if (text == "partner") return store::OrganizationKind::partner_hospital;
  throw std::runtime_error("--kind must be county or partner");
}

store::Role parse_role(const std::string& text) {
  if (text == "clinician") return store::Role::clinician;
  if (text == "specialist") return store::Role::specialist;
  if (text == "coordinator") return store::Role::coordinator;
  if (text == "admin") return store::Role::admin;
  throw std::runtime_error("--role must be clinician, specialist, coordinator or admin");
}

int cmd_org_add(const Globals& globals, const Args& args) {
  store::Organization org;
  std::string kind;
  po::options_description desc("org add");
  desc.add_options()("id", po::value(&org.id)->required(), "organisation id (a-z0-9-)")(
      "name", po::value(&org.name)->required(), "display name")(
      "kind", po::value(&kind)->required(), "county | partner")(
      "region", po::value(&org.region)->default_value(""), "region, e.g. Kashgar")(
      "tz", po::value(&org.time_zone)->required(), "IANA time zone, e.g. Asia/Urumqi");
  parse(args, desc);
  org.kind = parse_kind(kind);
  Deployment deployment(globals);
  if (auto status = deployment.directory->add_organization(org); !status) {
    return fail(status.error());
  }
  std::cout << "organisation " << org.id << " added\n";
  return 0;
}

int cmd_pair_add(const Globals& globals, const Args& args) {
  if (args.size() != 2) throw std::runtime_error("usage: tmc-admin pair add COUNTY PARTNER");
  Deployment deployment(globals);
  if (auto status = deployment.directory->add_pairing(args[0], args[1]); !status) {
    return fail(status.error());
  }
  std::cout << "paired " << args[0] << " -> " << args[1] << '\n';
  return 0;
}

int cmd_user_add(const Globals& globals, const Args& args) {
  domain::NewUser user;
  std::string role;
  bool password_stdin = false;
  po::options_description desc("user add");
  desc.add_options()("username", po::value(&user.username)->required(), "login name")(
      "name", po::value(&user.display_name), "display name")(
      "role", po::value(&role)->required(), "clinician | specialist | coordinator | admin")(
      "org", po::value(&user.organization_id)->required(), "organisation id")(
      "specialty", po::value(&user.specialties)->composing(), "specialty (repeatable)")(
      "password-stdin", po::bool_switch(&password_stdin), "read the password from stdin");
  parse(args, desc);
  user.role = parse_role(role);
  const bool generated = !password_stdin;
  const auto password =
      generated ? crypto::base64url_encode(crypto::random_bytes(12)) : read_password_stdin();
  Deployment deployment(globals);
  auto created = deployment.directory->add_user(user, deployment.auth->hash_password(password));
  if (!created) return fail(created.error());
  std::cout << "user " << created->username << " added (id " << created->id << ")\n";
  if (generated) std::cout << "password (shown once): " << password << '\n';
  return 0;
}

int cmd_user_password(const Globals& globals, const Args& args) {
  if (args.empty()) throw std::runtime_error("usage: tmc-admin user password USERNAME");
  const bool from_stdin = args.size() > 1 && args[1] == "--password-stdin";
  const auto password =
      from_stdin ? read_password_stdin() : crypto::base64url_encode(crypto::random_bytes(12));
  Deployment deployment(globals);
  if (auto status = deployment.directory->set_password_hash(
          args[0], deployment.auth->hash_password(password));
      !status) {
    return fail(status.error());
  }
  std::cout << "password of " << args[0] << " reset; existing sessions revoked\n";
  if (!from_stdin) std::cout << "password (shown once): " << password << '\n';
  return 0;
}

int set_disabled(const Globals& globals, const Args& args, bool disabled) {
  if (args.size() != 1) throw std::runtime_error("usage: tmc-admin user disable|enable USERNAME");
  Deployment deployment(globals);
  auto result = deployment.directory->set_disabled(args[0], disabled);
  if (!result) return fail(result.error());
  std::cout << "user " << args[0] << (disabled ? " disabled; sessions revoked\n" : " enabled\n");
  return 0;
}

int cmd_demo(const Globals& globals, const Args&) {
  Deployment deployment(globals);
  auto logins = admin::seed_demo_network(*deployment.directory, *deployment.auth);
  if (!logins) return fail(logins.error());
  std::cerr << "demo network seeded; these passwords are shown once\n";
  for (const auto& login : *logins) {
    std::cout << "login " << login.username << ' ' << login.password << ' ' << login.role << ' '
              << login.organization_id << '\n';
  }
  return 0;
}

const char* kUsage =
    "usage: tmc-admin [--data-dir DIR] [--scrypt-log2n N] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  init                                  create the data directory, key file and database\n"
    "  org add --id ID --name NAME --kind county|partner --tz ZONE [--region R]\n"
    "  pair add COUNTY PARTNER               let a county hospital consult a partner hospital\n"
    "  user add --username U --role R --org ID [--name N] [--specialty S]... [--password-stdin]\n"
    "                                        (without --password-stdin a password is generated\n"
    "                                        and printed once)\n"
    "  user password USERNAME [--password-stdin]  reset a password (revokes sessions)\n"
    "  user disable USERNAME                 disable a user and revoke every session\n"
    "  user enable USERNAME\n"
    "  demo                                  seed the demo network and print its logins\n"
    "\n"
    "global options (also TMC_DATA_DIR):\n"
    "  --data-dir DIR     data directory (default var/data)\n"
    "  --scrypt-log2n N   password hashing cost, N = 2^value (default 17)\n";

}  // namespace

int main(int argc, char** argv) {
  Globals globals;
  if (const char* env = std::getenv("TMC_DATA_DIR")) globals.data_dir = env;
  Args words;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (words.empty() && (arg == "--help" || arg == "-h")) {
      std::cout << kUsage;
      return 0;
    }
    if (words.empty() && arg == "--data-dir" && i + 1 < argc) {
      globals.data_dir = argv[++i];
    } else if (words.empty() && arg == "--scrypt-log2n" && i + 1 < argc) {
      globals.scrypt_log2_n = std::atoi(argv[++i]);
    } else {
      words.push_back(arg);
    }
  }
  using Command = std::function<int(const Globals&, const Args&)>;
  const std::map<std::string, std::pair<int, Command>> commands = {
      {"init", {1, cmd_init}},
      {"demo", {1, cmd_demo}},
      {"org add", {2, cmd_org_add}},
      {"pair add", {2, cmd_pair_add}},
      {"user add", {2, cmd_user_add}},
      {"user password", {2, cmd_user_password}},
      {"user disable", {2, [](const Globals& g, const Args& a) { return set_disabled(g, a, true); }}},
      {"user enable", {2, [](const Globals& g, const Args& a) { return set_disabled(g, a, false); }}},
  };
  for (const auto& [name, entry] : commands) {
    const auto& [length, command] = entry;
    if (static_cast<int>(words.size()) < length) continue;
    std::string joined = words[0];
    if (length == 2) joined += " " + words[1];
    if (joined != name) continue;
    try {
      return command(globals, Args(words.begin() + length, words.end()));
    } catch (const std::exception& error) {
      std::cerr << "tmc-admin: " << error.what() << '\n';
      return 2;
    }
  }
  std::cerr << kUsage;
  return 2;
}

// tmc-admin: set up and manage a tmc deployment (data directory, organisations, users, demo).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "app/data_dir.hpp"
#include "audit/canonical_record.hpp"
#include "audit/store_audit_hook.hpp"
#include "audit/verifier.hpp"
#include "backup.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "demo_network.hpp"
#include "domain/auth_service.hpp"
#include "domain/directory_service.hpp"
#include "keys.hpp"
#include "store/postgres/postgres_store.hpp"

namespace po = boost::program_options;
using namespace tmc;

namespace {

struct Globals {
  std::string data_dir = "var/data";
  // "sqlite" (tmc.db in the data directory) or a postgresql:// URI; keys stay in the data
  // directory either way. Never printed: a URI may carry a password.
  std::string store = "sqlite";
  int scrypt_log2_n = 17;

  bool on_postgres() const { return tmc::store::is_postgres_uri(store); }
};

// Commands that copy tmc.db and the blob directory have nothing to copy on PostgreSQL.
int refuse_on_postgres(const char* command) {
  std::cerr << "tmc-admin: " << command
            << " works on the SQLite store only; with --store postgresql://... back up the "
               "database with pg_dump or pg_basebackup and keep kek.keys and audit.key apart\n";
  return 2;
}

// "tmc-admin:<login name>" of the operator running this command, for the audit trail.
std::string operator_name() {
  const passwd* entry = ::getpwuid(::geteuid());
  return std::string("tmc-admin:") +
         (entry != nullptr ? entry->pw_name : std::to_string(::geteuid()).c_str());
}

// Services over an opened data directory, for the commands that change it.
struct Deployment {
  std::optional<crypto::KeyRing> keys;  // wraps TOTP secrets
  std::unique_ptr<store::Store> store;
  SystemClock clock;
  tmc::audit::StoreAuditHook audit;  // after store: drained into it on destruction
  std::unique_ptr<domain::AuthService> auth;
  std::unique_ptr<domain::DirectoryService> directory;

  explicit Deployment(const Globals& globals) {
    const app::DataDir data_dir(globals.data_dir);
    keys = data_dir.load_key_ring();  // refuses a key file that is missing or too open
    store = data_dir.open_store(globals.store);
    tmc::audit::AuditHookOptions audit_options;
    audit_options.default_actor = operator_name();  // admin actions name who ran them
    audit.start(*store, data_dir.load_audit_key(*store), clock,
                audit_options);
    domain::AuthOptions options;
    options.password_params.n = std::uint64_t{1} << globals.scrypt_log2_n;
    auth = std::make_unique<domain::AuthService>(*store, clock, audit, options, &*keys);
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
  app::DataDir(globals.data_dir).initialize(globals.store);
  if (globals.on_postgres()) {
    std::cout << "initialised " << globals.data_dir
              << " (key file kek.keys mode 0600; tables created in the PostgreSQL database)\n";
  } else {
    std::cout << "initialised " << globals.data_dir << " (database, key file kek.keys mode 0600)\n";
  }
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

// user totp enroll|disable USERNAME: the provisioning URI is printed once (it holds the secret).
int cmd_user_totp(const Globals& globals, const Args& args) {
  if (args.size() != 2 || (args[0] != "enroll" && args[0] != "disable")) {
    throw std::runtime_error("usage: tmc-admin user totp enroll|disable USERNAME");
  }
  Deployment deployment(globals);
  if (args[0] == "disable") {
    if (auto status = deployment.auth->disable_totp(args[1]); !status) {
      return fail(status.error());
    }
    std::cout << "second factor of " << args[1] << " removed\n";
    return 0;
  }
  auto enrolled = deployment.auth->enroll_totp(args[1]);
  if (!enrolled) return fail(enrolled.error());
  std::cerr << "add this to the user's authenticator app (shown once; any earlier enrolment no "
               "longer works):\n";
  std::cout << enrolled->uri << '\n';
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

// Exit status of `audit verify` when the log does not verify (usage and I/O errors give 2).
constexpr int audit_tampered = 1;

int cmd_audit_verify(const Globals& globals, const Args& args) {
  std::string head_file;
  std::vector<std::string> trusted_hex;
  po::options_description desc("audit verify");
  desc.add_options()("head", po::value(&head_file), "a head printed earlier by 'audit head'")(
      "trust-key", po::value(&trusted_hex)->composing(),
      "an earlier audit key's public part (the public_key line of a head it signed, as 'audit "
      "head' printed it), trusted beside the data directory's audit.key; repeatable");
  parse(args, desc);
  std::vector<std::string> trusted;
  for (const auto& hex : trusted_hex) {
    auto key = crypto::hex_decode(hex);
    if (!key || key->empty()) throw std::runtime_error("--trust-key " + hex + " is not hex");
    trusted.push_back(std::move(*key));
  }
  std::optional<tmc::audit::SignedTreeHead> kept;
  if (!head_file.empty()) {
    std::ifstream in(head_file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + head_file);
    kept = tmc::audit::parse_tree_head(text);
    if (!kept) throw std::runtime_error(head_file + " is not a tree head from 'audit head'");
  }
  Deployment deployment(globals);
  const auto key =
      tmc::audit::SigningKey::load(app::DataDir(globals.data_dir).audit_key_file());
  trusted.push_back(key.public_key());
  const auto report = tmc::audit::verify_log(*deployment.store, trusted, kept);
  deployment.audit.record({"", "", "admin.audit.verify", {},
                           report.ok() ? domain::AuditOutcome::success
                                       : domain::AuditOutcome::failed,
                           ""});
  if (!report.ok()) {
    std::cout << "audit log FAILED verification: first bad index " << *report.first_bad_index
              << " (" << report.records << " records, " << report.heads_checked
              << " signed heads checked)\n";
    for (const auto& problem : report.problems) std::cout << "  " << problem << '\n';
    return audit_tampered;
  }
  std::cout << "audit log OK: " << report.records << " records, " << report.heads_checked
            << " signed heads checked, " << report.signed_records << " records under a head";
  if (kept) std::cout << "; extends the given head of size " << kept->tree_size;
  std::cout << '\n';
  return 0;
}

TimePoint parse_time_option(const std::string& text, const char* name) {
  const auto time = tmc::audit::parse_utc(text);
  if (!time) {
    throw std::runtime_error(std::string(name) + " must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z");
  }
  return *time;
}

int cmd_audit_export(const Globals& globals, const Args& args) {
  std::string from, to;
  store::AuditQuery query;
  po::options_description desc("audit export");
  desc.add_options()("from", po::value(&from)->required(), "first instant (UTC), inclusive")(
      "to", po::value(&to)->required(), "last instant (UTC), exclusive")(
      "actor", po::value(&query.actor_id), "only records of this user id")(
      "patient-ref", po::value(&query.patient_reference), "only records about this patient");
  parse(args, desc);
  query.from = parse_time_option(from, "--from");
  query.to = parse_time_option(to, "--to");
  Deployment deployment(globals);
  const auto count = tmc::audit::export_records(
      *deployment.store, query, [](const std::string& line) { std::cout << line << '\n'; });
  std::cout.flush();
  std::vector<std::string> filter{"from=" + from, "to=" + to};
  if (!query.actor_id.empty()) filter.push_back("actor=" + query.actor_id);
  deployment.audit.record({"", "", "admin.audit.export", filter, domain::AuditOutcome::success,
                           "", query.patient_reference});
  std::cerr << count << " records exported\n";
  return 0;
}

int cmd_audit_head(const Globals& globals, const Args& args) {
  if (!args.empty()) throw std::runtime_error("usage: tmc-admin audit head");
  Deployment deployment(globals);
  deployment.audit.record({"", "", "admin.audit.head", {}, domain::AuditOutcome::success, ""});
  deployment.audit.flush();  // signs a head covering the whole log, this record included
  const auto head = tmc::audit::latest_head(*deployment.store);
  if (!head) throw std::runtime_error("the audit log has no signed head");
  std::cout << tmc::audit::format_tree_head(*head);
  return 0;
}

// ---- operations: backup, restore, keys ----

int cmd_backup(const Globals& globals, const Args& args) {
  std::string out;
  po::options_description desc("backup");
  desc.add_options()("out", po::value(&out)->required(), "new directory to write the backup to");
  parse(args, desc);
  if (globals.on_postgres()) return refuse_on_postgres("backup");
  const app::DataDir data_dir(globals.data_dir);
  Deployment deployment(globals);  // a second connection beside a running server's
  // A copy of every record and file: on record, whether it was made or not.
  const auto summary = [&] {
    try {
      auto made = admin::backup(data_dir, *deployment.store, out);
      deployment.audit.record({"", "", "admin.backup", {"out=" + out},
                               domain::AuditOutcome::success, ""});
      return made;
    } catch (...) {
      deployment.audit.record({"", "", "admin.backup", {"out=" + out},
                               domain::AuditOutcome::failed, ""});
      throw;
    }
  }();
  std::cout << "backup written to " << out << ": schema " << summary.schema_version << ", "
            << summary.database_bytes << " database bytes, " << summary.blob_files
            << " blob files (" << summary.blob_bytes << " bytes), " << summary.wrapped_keys
            << " wrapped data keys\n";
  std::cout << "restoring it needs the key file holding key id(s):";
  for (const auto& id : summary.key_ids) std::cout << ' ' << id;
  std::cout << " (kek.keys is never part of a backup)\n";
  return 0;
}

int cmd_restore(const Globals& globals, const Args& args) {
  admin::RestoreOptions options;
  std::string from, data_dir = globals.data_dir, key_file, audit_key_file;
  po::options_description desc("restore");
  desc.add_options()("from", po::value(&from)->required(), "backup directory")(
      "data-dir", po::value(&data_dir), "new data directory (default: the global --data-dir)")(
      "key-file", po::value(&key_file)->required(), "key file (kek.keys) kept apart from backups")(
      "audit-key-file", po::value(&audit_key_file), "the deployment's audit.key, kept apart");
  parse(args, desc);
  if (globals.on_postgres()) return refuse_on_postgres("restore");
  options.from = from;
  options.data_dir = data_dir;
  options.key_file = key_file;
  options.audit_key_file = audit_key_file;
  const auto summary = admin::restore(options);
  {
    Globals restored = globals;
    restored.data_dir = data_dir;
    Deployment deployment(restored);  // makes the new audit key if none was restored
    deployment.audit.record({"", "", "admin.restore", {"from=" + from},
                             domain::AuditOutcome::success, ""});
  }
  std::cout << "restored " << from << " into " << data_dir << ": schema "
            << summary.schema_version << ", " << summary.blob_files << " blob files, "
            << summary.wrapped_keys << " wrapped data keys all unwrap with the key file\n";
  if (!summary.audit_key_restored) {
    std::cout << "no --audit-key-file: a new audit key was made; signed heads made before the "
                 "backup verify only with the old key (audit verify --trust-key)\n";
  }
  return 0;
}

// Key commands change kek.keys and the database; they are audited like other admin actions.
void audit_keys(Deployment& deployment, const std::string& action,
                const std::vector<std::string>& key_ids) {
  deployment.audit.record({"", "", action, key_ids, domain::AuditOutcome::success, ""});
}

int cmd_keys_list(const Globals& globals, const Args& args) {
  if (!args.empty()) throw std::runtime_error("usage: tmc-admin keys list");
  const app::DataDir data_dir(globals.data_dir);
  auto store = data_dir.open_store(globals.store);
  for (const auto& key : admin::key_usage(data_dir.key_file(), *store)) {
    std::cout << key.key_id << (key.active ? " active" : " -") << ' ' << key.wrapped_keys
              << " wrapped data keys" << (key.in_key_file ? "" : " (MISSING from the key file)")
              << '\n';
  }
  return 0;
}

int cmd_keys_rotate(const Globals& globals, const Args& args) {
  if (!args.empty()) throw std::runtime_error("usage: tmc-admin keys rotate");
  Deployment deployment(globals);
  const auto summary =
      admin::rotate_keys(app::DataDir(globals.data_dir).key_file(), *deployment.store);
  audit_keys(deployment, "admin.keys.rotate", {summary.previous_key_id, summary.new_key_id});
  std::cout << "new active key " << summary.new_key_id << "; " << summary.rewrap.rewrapped
            << " data keys rewrapped; retire the old key with 'tmc-admin keys retire "
            << summary.previous_key_id << "'\n";
  return 0;
}

int cmd_keys_rewrap(const Globals& globals, const Args& args) {
  if (!args.empty()) throw std::runtime_error("usage: tmc-admin keys rewrap");
  Deployment deployment(globals);
  const auto summary =
      admin::rewrap_all(app::DataDir(globals.data_dir).key_file(), *deployment.store);
  audit_keys(deployment, "admin.keys.rewrap", {});
  std::cout << summary.rewrapped << " data keys rewrapped, " << summary.already_current
            << " already under the active key\n";
  return 0;
}

int cmd_keys_retire(const Globals& globals, const Args& args) {
  if (args.size() != 1) throw std::runtime_error("usage: tmc-admin keys retire KEY_ID");
  Deployment deployment(globals);
  admin::retire_key(app::DataDir(globals.data_dir).key_file(), *deployment.store, args[0]);
  audit_keys(deployment, "admin.keys.retire", {args[0]});
  std::cout << "key " << args[0] << " retired and removed from the key file\n";
  return 0;
}
// (end of operations)

const char* kUsage =
    "usage: tmc-admin [--data-dir DIR] [--store sqlite|URI] [--scrypt-log2n N] COMMAND ...\n"
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
    "  user totp enroll USERNAME             enrol a TOTP second factor; prints the otpauth://\n"
    "                                        URI (once) for the authenticator app\n"
    "  user totp disable USERNAME            remove the user's second factor\n"
    "  demo                                  seed the demo network and print its logins\n"
    "  audit verify [--head FILE]            check the audit log (records, chain, signed heads;\n"
    "                                        with FILE also that it extends that head); exit 1\n"
    "                                        and the first bad index when it does not verify\n"
    "  audit export --from T --to T [--actor USER_ID] [--patient-ref REF]\n"
    "                                        records in [from, to) as JSON lines (T is UTC,\n"
    "                                        YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)\n"
    "  audit head                            sign and print the current tree head; keep it\n"
    "                                        off the host for 'audit verify --head'\n"
    "  backup --out DIR                      consistent online backup (database + blobs; never\n"
    "                                        the keys) while the server runs (SQLite only)\n"
    "  restore --from DIR --key-file FILE [--data-dir NEW] [--audit-key-file FILE]\n"
    "                                        a new data directory from a backup (SQLite only)\n"
    "  keys list                             key ids, the active one, data keys under each\n"
    "  keys rotate                           new active key; rewrap every data key (server\n"
    "                                        stopped)\n"
    "  keys rewrap                           finish an interrupted rotation\n"
    "  keys retire KEY_ID                    drop a key no data key uses any more\n"
    "\n"
    "global options (also TMC_DATA_DIR, TMC_STORE):\n"
    "  --data-dir DIR     data directory (default var/data); holds the keys in every mode\n"
    "  --store VALUE      sqlite (tmc.db in the data directory, the default) or a\n"
    "                     postgresql:// URI, the database shared by every node\n"
    "  --scrypt-log2n N   password hashing cost, N = 2^value (default 17)\n";

}  // namespace

int main(int argc, char** argv) {
  Globals globals;
  if (const char* env = std::getenv("TMC_DATA_DIR")) globals.data_dir = env;
  if (const char* env = std::getenv("TMC_STORE"); env != nullptr && *env != '\0') {
    globals.store = env;
  }
  Args words;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (words.empty() && (arg == "--help" || arg == "-h")) {
      std::cout << kUsage;
      return 0;
    }
    if (words.empty() && arg == "--data-dir" && i + 1 < argc) {
      globals.data_dir = argv[++i];
    } else if (words.empty() && arg == "--store" && i + 1 < argc) {
      globals.store = argv[++i];
    } else if (words.empty() && arg == "--scrypt-log2n" && i + 1 < argc) {
      globals.scrypt_log2_n = std::atoi(argv[++i]);
    } else {
      words.push_back(arg);
    }
  }
  // The value is not echoed: a URI may carry a password.
  if (globals.store != "sqlite" && !globals.on_postgres()) {
    std::cerr << "tmc-admin: invalid --store (sqlite or a postgresql:// URI)\n";
    return 2;
  }
  using Command = std::function<int(const Globals&, const Args&)>;
  const std::map<std::string, std::pair<int, Command>> commands = {
      {"init", {1, cmd_init}},
      {"demo", {1, cmd_demo}},
      {"org add", {2, cmd_org_add}},
      {"pair add", {2, cmd_pair_add}},
      {"user add", {2, cmd_user_add}},
      {"user password", {2, cmd_user_password}},
      {"user totp", {2, cmd_user_totp}},
      {"user disable", {2, [](const Globals& g, const Args& a) { return set_disabled(g, a, true); }}},
      {"user enable", {2, [](const Globals& g, const Args& a) { return set_disabled(g, a, false); }}},
      {"audit verify", {2, cmd_audit_verify}},
      {"audit export", {2, cmd_audit_export}},
      {"audit head", {2, cmd_audit_head}},
      {"backup", {1, cmd_backup}},
      {"restore", {1, cmd_restore}},
      {"keys list", {2, cmd_keys_list}},
      {"keys rotate", {2, cmd_keys_rotate}},
      {"keys rewrap", {2, cmd_keys_rewrap}},
      {"keys retire", {2, cmd_keys_retire}},
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

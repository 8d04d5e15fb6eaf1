// Two tmc-server processes on one PostgreSQL store: the fixture of the multi-node end-to-end tests.
#include "cluster_fixture.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "app/data_dir.hpp"
#include "common/clock.hpp"

namespace tmc::e2e {
namespace {

namespace fs = std::filesystem;

// Newest installed PostgreSQL server binaries (Debian keeps them out of PATH).
std::string postgres_bin_dir() {
  std::vector<fs::path> candidates;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", error)) {
    if (fs::exists(entry.path() / "bin" / "initdb")) candidates.push_back(entry.path() / "bin");
  }
  if (candidates.empty()) {
    throw std::runtime_error(
        "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb; Debian package "
        "postgresql): the database restart test needs a server of its own");
  }
  std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
    const auto version = [](const fs::path& bin) {
      return std::stoi(bin.parent_path().filename().string());
    };
    return version(a) < version(b);
  });
  return candidates.back().string();
}

void run_checked(const std::vector<std::string>& argv, const std::string& step) {
  const auto output = run_process(argv, 120s);
  if (!output.status.exited || output.status.code != 0) {
    throw std::runtime_error(step + " failed (" + output.status.describe() + "): " + output.out);
  }
}

void copy_private_file(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

}  // namespace

std::string dermatologist(int index) {
  std::ostringstream name;
  name << "shanghai.derm" << std::setw(2) << std::setfill('0') << index;
  return name.str();
}

ThrowawayPostgres::ThrowawayPostgres() : bin_(postgres_bin_dir()) {
  if (::geteuid() == 0) {
    // The server refuses to run as root.
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      throw std::runtime_error("user postgres not found (the postgresql package creates it)");
    }
    if (::chown(dir_.path().c_str(), user->pw_uid, user->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + dir_.path().string() + " to user postgres");
    }
    run_as_ = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  }
  auto initdb = run_as_;
  initdb.insert(initdb.end(), {bin_ + "/initdb", "-D", (dir_.path() / "data").string(), "-U",
                               "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                               "--no-sync"});  // a throw-away cluster: its files need no fsync
  run_checked(initdb, "initdb of the throw-away PostgreSQL");
  // Unix socket only, in the directory itself: no port can collide with another server.
  constexpr const char* port = "5432";
  run_checked(pg_ctl({"-o", "-k " + dir_.path().string() + " -p " + port +
                                " -c listen_addresses=''",
                      "start"}),
              "starting the throw-away PostgreSQL (log: " + (dir_.path() / "log").string() + ")");
  uri_ = "postgresql://postgres@/postgres?host=" + dir_.path().string() + "&port=" + port;
}

ThrowawayPostgres::~ThrowawayPostgres() {
  try {
    run_process(pg_ctl({"-m", "immediate", "stop"}), 60s);
  } catch (const std::exception&) {
    // Nothing left to stop.
  }
}

std::vector<std::string> ThrowawayPostgres::pg_ctl(const std::vector<std::string>& arguments) const {
  auto argv = run_as_;
  argv.insert(argv.end(), {bin_ + "/pg_ctl", "-D", (dir_.path() / "data").string(), "-l",
                           (dir_.path() / "log").string(), "-w", "-t", "60"});
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

void ThrowawayPostgres::restart() {
  run_checked(pg_ctl({"-m", "fast", "restart"}), "restarting the throw-away PostgreSQL");
}

std::int64_t query_number(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(conninfo.c_str()),
                                                          &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect to the store: ") +
                             PQerrorMessage(connection.get()));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), sql.c_str()),
                                                       &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1 ||
      PQnfields(result.get()) != 1) {
    throw std::runtime_error("query '" + sql + "' failed: " +
                             PQresultErrorMessage(result.get()));
  }
  return std::stoll(PQgetvalue(result.get(), 0, 0));
}

Cluster::Cluster(std::string store_uri, std::vector<std::string> extra_args,
                 std::size_t node_count)
    : store_uri_(std::move(store_uri)) {
  ::tmc::testing::dev_ca_file();  // makes the dev certificates on first use
  const app::DataDir first(dir_.path() / "node1");
  first.initialize();
  {
    std::vector<::tmc::testing::ExtraUser> dermatologists;
    for (int i = 1; i <= cluster_dermatologists; ++i) {
      dermatologists.push_back(
          {dermatologist(i), store::Role::specialist, "shanghai", {cluster_specialty}});
    }
    SystemClock clock;
    users_ = ::tmc::testing::seed_test_network(*first.open_store(store_uri_), clock,
                                               dermatologists);
  }
  extra_args.insert(extra_args.begin(), {"--store", store_uri_});
  nodes_.push_back(std::make_unique<ServerProcess>(first.root(), extra_args));
  for (std::size_t i = 2; i <= node_count; ++i) {
    const app::DataDir other(dir_.path() / ("node" + std::to_string(i)));
    fs::create_directories(other.blob_dir());
    fs::permissions(other.root(), fs::perms::owner_all, fs::perm_options::replace);
    copy_private_file(first.key_file(), other.key_file());
    copy_private_file(first.audit_key_file(), other.audit_key_file());
    nodes_.push_back(std::make_unique<ServerProcess>(other.root(), extra_args));
  }
  for (auto& node : nodes_) node->start();
}

Cluster::~Cluster() {
  for (auto& node : nodes_) {
    if (!node->running()) continue;
    try {
      node->stop(10s);
    } catch (const std::exception&) {
      // stop() killed it.
    }
  }
}

DemoLogin Cluster::login(const std::string& username) const {
  return DemoLogin{username, users_.passwords.at(username), {}, {}};
}

const std::string& Cluster::user_id(const std::string& username) const {
  return users_.user_ids.at(username);
}

Session Cluster::sign_in(std::size_t index, const std::string& username) const {
  return e2e::sign_in(nodes_.at(index)->client_options(), login(username));
}

std::optional<v1::LogEntry> posted_entry(const v1::Event& event,
                                         const std::string& consultation_id) {
  if (!event.has_message_posted() ||
      event.message_posted().entry().consultation_id() != consultation_id) {
    return std::nullopt;
  }
  return event.message_posted().entry();
}

bool follow_until(client::BlockingClient& client, client::LogFollower& follower,
                  std::uint64_t until, SteadyClock::time_point deadline,
                  std::vector<v1::LogEntry>& displayed, std::vector<std::uint64_t>* arrival_seqs) {
  const auto& id = follower.consultation_id();
  while (follower.last_seen() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    const auto event = client.wait_event(
        [&](const v1::Event& candidate) { return posted_entry(candidate, id).has_value(); },
        left);
    if (!event) return false;
    auto entry = *posted_entry(*event, id);
    if (arrival_seqs != nullptr) arrival_seqs->push_back(entry.seq());
    for (auto& ready : follower.add(std::move(entry))) displayed.push_back(std::move(ready));
  }
  return true;
}

v1::Consultation open_dermatology_consultation(client::BlockingClient& clinician) {
  return call_for_consultation(clinician,
                               open_consultation_frame(cluster_specialty, v1::URGENCY_ROUTINE));
}

}  // namespace tmc::e2e

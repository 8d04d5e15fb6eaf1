// Two tmc-server processes on one PostgreSQL store: the fixture of the multi-node end-to-end tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postgres_test_schema.hpp"
#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"
#include "tmc/client/log_follower.hpp"

namespace tmc::e2e {

using SteadyClock = std::chrono::steady_clock;

// Specialists added to the demo network: dermatologists at the Shanghai partner hospital, the
// partner of Bachu county hospital, so a Bachu dermatology consultation is offered to all of them
// and to nobody else.
inline constexpr int cluster_dermatologists = 20;
inline constexpr const char* cluster_specialty = "dermatology";
inline constexpr const char* cluster_clinician = "bachu.clinician";
// "shanghai.derm01" ... "shanghai.derm20" (index from 1).
std::string dermatologist(int index);

// A PostgreSQL server of its own (initdb and pg_ctl in a temporary directory, listening on a
// unix socket only), for tests that restart the database under the nodes. Run as root, the server
// runs as user postgres. Throws std::runtime_error naming the step that failed (binaries of the
// Debian package postgresql missing, initdb or start refused).
class ThrowawayPostgres {
 public:
  ThrowawayPostgres();
  // Stops the server (immediate) and removes its directory.
  ~ThrowawayPostgres();
  ThrowawayPostgres(const ThrowawayPostgres&) = delete;
  ThrowawayPostgres& operator=(const ThrowawayPostgres&) = delete;

  // URI of the server's postgres database.
  const std::string& uri() const { return uri_; }
  // pg_ctl restart (fast shutdown: open connections are terminated) and wait until it accepts
  // connections again. Throws std::runtime_error when it does not come back.
  void restart();

 private:
  std::vector<std::string> pg_ctl(const std::vector<std::string>& arguments) const;

  ::tmc::testing::TempDir dir_;
  std::string bin_;
  std::vector<std::string> run_as_;  // prefix running a command as the postgres user
  std::string uri_;
};

// The single number answered by sql (e.g. SELECT count(*) ...) on a connection to conninfo.
// Throws std::runtime_error when the query fails or does not answer one value.
std::int64_t query_number(const std::string& conninfo, const std::string& sql);

// Nodes of one deployment: the demo network plus the dermatologists seeded into store_uri
// (an empty schema), one data directory per node holding copies of the same key files (nodes do
// not share a disk, so case-file contents must travel through the store), and node_count
// tmc-server processes started with `--store store_uri` and extra_args.
class Cluster {
 public:
  Cluster(std::string store_uri, std::vector<std::string> extra_args = {},
          std::size_t node_count = 2);
  // Stops every node still running (SIGTERM, then SIGKILL).
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  ServerProcess& node(std::size_t index) { return *nodes_.at(index); }
  std::size_t size() const { return nodes_.size(); }
  const std::string& store_uri() const { return store_uri_; }

  DemoLogin login(const std::string& username) const;
  const std::string& user_id(const std::string& username) const;
  // A client of node index signed in as username (throws like e2e::sign_in).
  Session sign_in(std::size_t index, const std::string& username) const;

 private:
  ::tmc::testing::TempDir dir_;
  std::string store_uri_;
  ::tmc::testing::SeededUsers users_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// The MessagePosted entry of an event of consultation_id, if it is one.
std::optional<v1::LogEntry> posted_entry(const v1::Event& event,
                                         const std::string& consultation_id);

// Feeds the MessagePosted events of the follower's consultation arriving on client into
// follower until it has displayed seq `until` (true) or deadline passes (false). Every entry the
// follower releases is appended to displayed; arrival_seqs (if given) records every arriving
// entry's seq, duplicates included, in arrival order. Other events stay queued on the client.
bool follow_until(client::BlockingClient& client, client::LogFollower& follower,
                  std::uint64_t until, SteadyClock::time_point deadline,
                  std::vector<v1::LogEntry>& displayed,
                  std::vector<std::uint64_t>* arrival_seqs = nullptr);

// Opens a dermatology consultation as the signed-in Bachu clinician; throws on refusal.
v1::Consultation open_dermatology_consultation(client::BlockingClient& clinician);

}  // namespace tmc::e2e

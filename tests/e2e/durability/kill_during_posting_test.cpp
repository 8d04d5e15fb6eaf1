// Durability under SIGKILL: every acknowledged message survives repeated crashes, exactly once.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <condition_variable>
#include <cstdlib>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "post_progress.hpp"
#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using client::BlockingClient;
using client::ClientError;

constexpr int messages_per_client = 2500;
constexpr int planned_kills = 6;          // the test requires at least 5 to have happened
constexpr int kill_interval = 2 * messages_per_client / (planned_kills + 1);
constexpr int kill_jitter = 150;          // +- acknowledged messages around each interval
constexpr std::size_t pipeline_depth = 4; // posts in flight per client (retried as a batch)
constexpr auto call_timeout = 10s;
constexpr auto overall_limit = 5min;

// Where the clients find the server: the port of the current generation, published by the
// thread that (re)starts it. Clients whose connection failed wait here for the next generation.
class ServerDirectory {
 public:
  struct Endpoint {
    std::uint64_t generation = 0;
    std::uint16_t port = 0;
  };

  void publish(std::uint16_t port) {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
      port_ = port;
      up_ = true;
    }
    changed_.notify_all();
  }
  void withdraw() {
    std::lock_guard lock(mutex_);
    up_ = false;
  }
  // Gives up: every waiter returns nothing from now on.
  void abandon() {
    {
      std::lock_guard lock(mutex_);
      abandoned_ = true;
    }
    changed_.notify_all();
  }
  bool abandoned() const {
    std::lock_guard lock(mutex_);
    return abandoned_;
  }

  // The server of a generation newer than failed_generation, waiting for it until until; at
  // that point the current server if one is up (the failure may not have been a crash).
  std::optional<Endpoint> endpoint_after(std::uint64_t failed_generation,
                                         Clock::time_point until) {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, until, [&] {
      return abandoned_ || (up_ && generation_ > failed_generation);
    });
    if (abandoned_ || !up_) return std::nullopt;
    return Endpoint{generation_, port_};
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t generation_ = 0;
  std::uint16_t port_ = 0;
  bool up_ = false;
  bool abandoned_ = false;
};

// One user posting its messages in order, reconnecting and retrying until each is acknowledged.
struct Poster {
  DemoLogin login;
  std::string msg_prefix;  // client_msg_id = prefix + index; also starts the text
  std::string user_id;
  std::string token;
  std::map<std::string, std::uint64_t> acknowledged;  // client_msg_id -> seq
  std::map<std::string, std::string> texts;           // client_msg_id -> text
  std::string failure;                                // first unrecoverable problem
  int reconnects = 0;
  int fresh_logins = 0;
  int retried = 0;  // posts whose Response was lost to a crash and were sent again
};

std::string message_id(const Poster& poster, int index) {
  std::ostringstream id;
  id << poster.msg_prefix << '-' << std::setw(5) << std::setfill('0') << index;
  return id.str();
}

// Connects to the current server and resumes the poster's session (logging in again if the
// server no longer knows the token). Nothing when no server could be reached before deadline.
std::unique_ptr<BlockingClient> reconnect(Poster& poster, ServerDirectory& directory,
                                          std::uint64_t& failed_generation,
                                          client::ClientOptions options,
                                          Clock::time_point deadline) {
  while (Clock::now() < deadline && !directory.abandoned()) {
    const auto endpoint =
        directory.endpoint_after(failed_generation, std::min(deadline, Clock::now() + 2s));
    if (!endpoint) continue;
    options.port = std::to_string(endpoint->port);
    try {
      auto client = std::make_unique<BlockingClient>(options);
      client->connect();
      auto resumed = client->resume(poster.token, call_timeout);
      if (resumed.status().code() != v1::OK) {
        resumed = client->login(poster.login.username, poster.login.password, {}, call_timeout);
        if (resumed.status().code() != v1::OK) {
          poster.failure = "login refused: " + resumed.status().message();
          return nullptr;
        }
        poster.token = resumed.login().session_token();
        ++poster.fresh_logins;
      }
      return client;
    } catch (const ClientError&) {
      failed_generation = endpoint->generation;  // wait for the next server
    }
  }
  return nullptr;
}

// Posts every message of poster, pipeline_depth at a time, until all are acknowledged.
void post_all(Poster& poster, const std::string& consultation_id, ServerDirectory& directory,
              PostProgress& progress, const client::ClientOptions& options,
              Clock::time_point deadline) {
  std::unique_ptr<BlockingClient> client;
  std::uint64_t failed_generation = 0;
  int next = 0;
  while (next < messages_per_client) {
    if (Clock::now() >= deadline || directory.abandoned()) {
      poster.failure = "gave up with " + std::to_string(next) + " messages acknowledged";
      return;
    }
    if (!client) {
      client = reconnect(poster, directory, failed_generation, options, deadline);
      if (!poster.failure.empty()) return;
      continue;
    }
    std::vector<v1::ClientFrame> batch;
    std::vector<std::string> ids;
    for (int i = next; i < messages_per_client && batch.size() < pipeline_depth; ++i) {
      ids.push_back(message_id(poster, i));
      poster.texts[ids.back()] = ids.back() + ": bone fragment position, view " +
                                 std::to_string(i % 7) + ", please advise";
      batch.push_back(post_text_frame(consultation_id, ids.back(), poster.texts[ids.back()]));
    }
    std::vector<v1::Response> responses;
    try {
      responses = client->call_pipelined(std::move(batch), call_timeout);
    } catch (const ClientError&) {
      client.reset();  // the server died under us (or stalled): retry the batch elsewhere
      ++poster.reconnects;
      poster.retried += static_cast<int>(ids.size());
      continue;
    }
    int acknowledged = 0;
    for (std::size_t i = 0; i < responses.size(); ++i) {
      const auto& response = responses[i];
      const auto code = response.status().code();
      if (code == v1::OK && response.post_message().seq() > 0) {
        poster.acknowledged[ids[i]] = response.post_message().seq();
        ++acknowledged;
        continue;
      }
      if (code != v1::UNAVAILABLE && code != v1::ABORTED) {
        poster.failure = ids[i] + " answered " + v1::Code_Name(code) + " " +
                         response.status().message() + " (seq " +
                         std::to_string(response.post_message().seq()) + ")";
        return;
      }
      break;  // transient: retry from here
    }
    next += acknowledged;
    progress.acknowledged(acknowledged);
  }
}

unsigned test_seed() {
  if (const char* seed = std::getenv("TMC_E2E_SEED")) {
    return static_cast<unsigned>(std::stoul(seed));
  }
  return std::random_device{}();
}

// Runs PRAGMA integrity_check on the database file and returns its rows joined by newlines.
std::string integrity_check(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return "cannot open: " + error;
  }
  std::string rows;
  const auto collect = [](void* out, int columns, char** values, char**) {
    auto& text = *static_cast<std::string*>(out);
    for (int i = 0; i < columns; ++i) {
      if (!text.empty()) text += '\n';
      text += values[i] ? values[i] : "NULL";
    }
    return 0;
  };
  char* error = nullptr;
  if (sqlite3_exec(db, "PRAGMA integrity_check", collect, &rows, &error) != SQLITE_OK) {
    rows = std::string("integrity_check failed: ") + (error ? error : "?");
    sqlite3_free(error);
  }
  sqlite3_close(db);
  return rows;
}

TEST(DurabilityUnderSigkill, EveryAcknowledgedMessageSurvivesExactlyOnce) {
  const auto started = Clock::now();
  const auto deadline = started + overall_limit;
  const unsigned seed = test_seed();
  std::cout << "seed " << seed << " (set TMC_E2E_SEED to replay)\n";
  std::mt19937 random(seed);

  testing::TempDir dir;
  const auto data_dir = dir.path() / "data";
  const auto logins = seed_demo_data_dir(data_dir);
  // Each client posts as fast as the server commits (posts are pipelined), beyond the default
  // per-session request rate; this test is about crashes, not that limit.
  ServerProcess server(data_dir, {"--requests-per-second", "0"});
  server.start();
  ServerDirectory directory;
  directory.publish(server.port());

  // The clinician opens, the Shanghai orthopedist accepts: one consultation to flood.
  Poster clinician;
  clinician.login = logins.at("bachu.clinician");
  clinician.msg_prefix = "c";
  Poster specialist;
  specialist.login = logins.at("shanghai.ortho");
  specialist.msg_prefix = "s";
  std::string consultation_id;
  for (auto* poster : {&clinician, &specialist}) {
    auto session = sign_in(server.client_options(), poster->login);
    poster->token = session.token;
    poster->user_id = session.user_id;
    if (poster == &clinician) {
      consultation_id = call_for_consultation(
          *session.client, open_consultation_frame("orthopedics", v1::URGENCY_ROUTINE)).id();
    } else {
      ASSERT_EQ(call_for_consultation(*session.client, accept_consultation_frame(consultation_id))
                    .state(),
                v1::CONSULTATION_STATE_ACCEPTED);
    }
  }

  const auto options = server.client_options();  // the posters take the port from directory
  PostProgress progress;
  std::vector<std::string> killer_failures;
  int kills = 0;
  std::thread killer([&] {
    std::uniform_int_distribution<int> jitter(-kill_jitter, kill_jitter);
    for (int k = 1; k <= planned_kills; ++k) {
      if (!progress.wait_for(k * kill_interval + jitter(random), 2, deadline)) return;
      directory.withdraw();
      try {
        server.kill();
        ++kills;
        directory.publish(server.start());
      } catch (const std::exception& error) {
        killer_failures.push_back(error.what());
        directory.abandon();
        return;
      }
    }
  });
  std::vector<std::thread> posters;
  for (auto* poster : {&clinician, &specialist}) {
    posters.emplace_back([&, poster] {
      try {
        post_all(*poster, consultation_id, directory, progress, options, deadline);
      } catch (const std::exception& error) {
        poster->failure = error.what();
      }
      progress.poster_finished();
    });
  }
  for (auto& thread : posters) thread.join();
  killer.join();
  const auto posting_time = Clock::now() - started;

  ASSERT_TRUE(killer_failures.empty()) << killer_failures.front();
  ASSERT_EQ(clinician.failure, "");
  ASSERT_EQ(specialist.failure, "");
  EXPECT_GE(kills, 5);
  ASSERT_EQ(clinician.acknowledged.size(), static_cast<std::size_t>(messages_per_client));
  ASSERT_EQ(specialist.acknowledged.size(), static_cast<std::size_t>(messages_per_client));

  // The log as the server has it now, after the last restart.
  auto reader = sign_in(server.client_options(), clinician.login);
  const auto log = sync_whole_log(*reader.client, consultation_id);
  const auto consultation =
      call_for_consultation(*reader.client, get_consultation_frame(consultation_id));
  EXPECT_EQ(consultation.last_seq(), log.size());
  std::map<std::string, std::pair<std::uint64_t, std::string>> by_text;  // text -> seq, sender
  int gaps = 0;
  int duplicates = 0;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log[i].seq() != i + 1 && gaps++ < 5) {
      ADD_FAILURE() << "entry " << i << " has seq " << log[i].seq();
    }
    if (!log[i].body().has_text()) continue;
    const auto [it, inserted] =
        by_text.emplace(log[i].body().text(), std::pair{log[i].seq(), log[i].sender_id()});
    if (!inserted && duplicates++ < 5) {
      ADD_FAILURE() << "text at seqs " << it->second.first << " and " << log[i].seq() << ": "
                    << log[i].body().text();
    }
  }
  EXPECT_EQ(gaps, 0);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(by_text.size(), 2u * messages_per_client);
  int missing = 0;
  int moved = 0;
  for (const auto* poster : {&clinician, &specialist}) {
    for (const auto& [id, seq] : poster->acknowledged) {
      const auto found = by_text.find(poster->texts.at(id));
      if (found == by_text.end()) {
        if (missing++ < 5) ADD_FAILURE() << id << " acknowledged as seq " << seq << " is lost";
        continue;
      }
      if ((found->second.first != seq || found->second.second != poster->user_id) &&
          moved++ < 5) {
        ADD_FAILURE() << id << " acknowledged as seq " << seq << " is stored as seq "
                      << found->second.first << " from " << found->second.second;
      }
    }
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(moved, 0);

  reader.client->close();
  const auto stopped = server.stop();
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << stopped.describe();
  EXPECT_EQ(integrity_check(data_dir / "tmc.db"), "ok");

  const auto seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::cout << "posted " << 2 * messages_per_client << " messages in "
            << std::chrono::duration<double>(posting_time).count() << " s with " << kills
            << " SIGKILLs; reconnects " << clinician.reconnects + specialist.reconnects
            << ", fresh logins " << clinician.fresh_logins + specialist.fresh_logins
            << ", posts retried " << clinician.retried + specialist.retried
            << "; log has " << log.size() << " entries; total " << seconds << " s\n";
}

}  // namespace
}  // namespace tmc::e2e

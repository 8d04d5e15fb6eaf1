// Failures under a running chat: a node SIGKILLed (its clients move to the other node) and the
// PostgreSQL server restarted (the nodes ride it out). Acknowledged messages are all kept, once.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <iomanip>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cluster_fixture.hpp"
#include "post_progress.hpp"

namespace tmc::e2e {
namespace {

using client::BlockingClient;
using client::ClientError;
using client::LogFollower;

constexpr int messages_per_chatter = 200;
constexpr std::size_t pipeline_depth = 4;  // posts in flight per chatter (retried as a batch)
constexpr auto call_timeout = 10s;
constexpr auto run_limit = 60s;  // bound for the whole chat run, failures included
constexpr auto event_wait = 15s;
constexpr auto retry_pause = 100ms;  // back-off after a refused attempt, so retries do not spin

// The nodes the chatters may use, and which of them are up. Thread-safe.
class NodeDirectory {
 public:
  explicit NodeDirectory(std::vector<std::uint16_t> ports)
      : ports_(std::move(ports)), up_(ports_.size(), true) {}

  void take_down(std::size_t index) {
    std::lock_guard lock(mutex_);
    up_.at(index) = false;
  }
  // The preferred node if it is up, else the first node up; nothing if all are down.
  std::optional<std::pair<std::size_t, std::uint16_t>> pick(std::size_t preferred) const {
    std::lock_guard lock(mutex_);
    if (up_.at(preferred)) return std::pair{preferred, ports_[preferred]};
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      if (up_[i]) return std::pair{i, ports_[i]};
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::uint16_t> ports_;
  std::vector<bool> up_;
};

// One user posting into the consultation while following its log live.
struct Chatter {
  std::string username;
  std::string prefix;  // client_msg_id = prefix + index; also starts the text
  std::size_t home = 0;
  DemoLogin login;
  std::string token;
  std::string user_id;
  std::size_t node = 0;  // the node connected to now
  std::unique_ptr<BlockingClient> client;
  std::optional<LogFollower> follower;
  std::vector<v1::LogEntry> shown;                     // entries the follower released
  std::map<std::string, std::uint64_t> acknowledged;  // client_msg_id -> seq
  std::map<std::string, std::string> texts;           // client_msg_id -> text
  std::set<std::string> transient_codes;              // non-OK answers that were retried
  std::set<std::string> resent;  // client_msg_ids sent again (connection failed or refused)
  int reconnects = 0;
  int moves = 0;  // reconnects that landed on another node
  std::string failure;
};

std::string message_id(const Chatter& chatter, int index) {
  std::ostringstream id;
  id << chatter.prefix << '-' << std::setw(4) << std::setfill('0') << index;
  return id.str();
}

void show(Chatter& chatter, v1::LogEntry entry) {
  for (auto& ready : chatter.follower->add(std::move(entry))) {
    chatter.shown.push_back(std::move(ready));
  }
}

// Feeds the MessagePosted events queued on the chatter's connection to its follower.
void drain_events(Chatter& chatter) {
  for (const auto& event : chatter.client->take_events()) {
    if (auto entry = posted_entry(event, chatter.follower->consultation_id())) {
      show(chatter, std::move(*entry));
    }
  }
}

// Refusals a client retries: the store or the node is having a moment.
bool transient(v1::Code code) {
  return code == v1::UNAVAILABLE || code == v1::ABORTED || code == v1::INTERNAL ||
         code == v1::DEADLINE_EXCEEDED;
}

// Shows what the chatter has not seen yet, read with sync_consultation (what a client does
// after reconnecting, or on a gap). Throws std::runtime_error when the sync is refused.
void catch_up(Chatter& chatter, BlockingClient& client) {
  const auto& id = chatter.follower->consultation_id();
  for (;;) {
    const auto page =
        client.call(sync_consultation_frame(id, chatter.follower->last_seen(), 200), call_timeout);
    if (page.status().code() != v1::OK) {
      throw std::runtime_error("sync_consultation answered " +
                               v1::Code_Name(page.status().code()));
    }
    for (const auto& entry : page.sync_consultation().entries()) show(chatter, entry);
    if (!page.sync_consultation().has_more()) return;
  }
}

// Connects to the chatter's node (or the other one if its node is down), resumes its session
// and catches up with sync_consultation after the last entry it showed. False (with failure
// set) when that cannot be done before deadline.
bool reconnect(Chatter& chatter, const NodeDirectory& nodes, client::ClientOptions options,
               SteadyClock::time_point deadline) {
  chatter.client.reset();
  std::string last_error;
  while (SteadyClock::now() < deadline) {
    const auto target = nodes.pick(chatter.home);
    if (!target) break;
    options.port = std::to_string(target->second);
    try {
      auto client = std::make_unique<BlockingClient>(options);
      client->connect();
      const auto resumed = client->resume(chatter.token, call_timeout);
      if (resumed.status().code() != v1::OK) {
        last_error = "resume on node " + std::to_string(target->first + 1) + " answered " +
                     v1::Code_Name(resumed.status().code()) + " " + resumed.status().message();
        if (!transient(resumed.status().code())) break;  // the session is gone: a real failure
        std::this_thread::sleep_for(retry_pause);
        continue;
      }
      catch_up(chatter, *client);
      if (target->first != chatter.node) ++chatter.moves;
      chatter.node = target->first;
      chatter.client = std::move(client);
      return true;
    } catch (const std::exception& error) {
      last_error = error.what();
      std::this_thread::sleep_for(retry_pause);
    }
  }
  chatter.failure = "could not reconnect: " + last_error;
  return false;
}

// Posts every message of chatter, pipeline_depth at a time, until each is acknowledged:
// connection failures reconnect (possibly to the other node) and resend the batch with the same
// client_msg_ids; transient refusals are retried likewise.
void chat(Chatter& chatter, const NodeDirectory& nodes, PostProgress& progress,
          const client::ClientOptions& options, SteadyClock::time_point deadline) {
  const auto& id = chatter.follower->consultation_id();
  int next = 0;
  while (next < messages_per_chatter) {
    if (SteadyClock::now() >= deadline) {
      chatter.failure = "gave up with " + std::to_string(next) + " messages acknowledged";
      return;
    }
    if (!chatter.client) {
      ++chatter.reconnects;
      if (!reconnect(chatter, nodes, options, deadline)) return;
    }
    std::vector<v1::ClientFrame> batch;
    std::vector<std::string> ids;
    for (int i = next; i < messages_per_chatter && batch.size() < pipeline_depth; ++i) {
      ids.push_back(message_id(chatter, i));
      chatter.texts[ids.back()] = ids.back() + ": wound photo " + std::to_string(i % 5) +
                                  " after debridement, please review";
      batch.push_back(post_text_frame(id, ids.back(), chatter.texts[ids.back()]));
    }
    std::vector<v1::Response> responses;
    try {
      responses = chatter.client->call_pipelined(std::move(batch), call_timeout);
    } catch (const ClientError&) {
      chatter.client.reset();  // the node went away (or stalled): resend elsewhere
      chatter.resent.insert(ids.begin(), ids.end());
      continue;
    }
    int acknowledged = 0;
    for (std::size_t i = 0; i < responses.size(); ++i) {
      const auto code = responses[i].status().code();
      if (code == v1::OK && responses[i].post_message().seq() > 0) {
        chatter.acknowledged[ids[i]] = responses[i].post_message().seq();
        ++acknowledged;
        continue;
      }
      if (!transient(code)) {
        chatter.failure = ids[i] + " answered " + v1::Code_Name(code) + " " +
                          responses[i].status().message();
        return;
      }
      chatter.transient_codes.insert(v1::Code_Name(code));
      chatter.resent.insert(ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end());
      std::this_thread::sleep_for(retry_pause);
      break;
    }
    next += acknowledged;
    progress.acknowledged(acknowledged);
    drain_events(chatter);
  }
}

// The clinician on node 1 and the accepting dermatologist on node 2, both following the log
// from the acceptance on.
struct Conversation {
  Chatter clinician;
  Chatter specialist;
  std::string consultation_id;
  std::uint64_t start_seq = 0;  // the log's last seq at the acceptance
};

Conversation start_conversation(Cluster& cluster) {
  Conversation conversation;
  conversation.clinician.username = cluster_clinician;
  conversation.clinician.prefix = "c";
  conversation.clinician.home = 0;
  conversation.specialist.username = dermatologist(1);
  conversation.specialist.prefix = "s";
  conversation.specialist.home = 1;
  auto& start_seq = conversation.start_seq;
  for (auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    auto session = cluster.sign_in(chatter->home, chatter->username);
    chatter->login = cluster.login(chatter->username);
    chatter->token = session.token;
    chatter->user_id = session.user_id;
    chatter->node = chatter->home;
    chatter->client = std::move(session.client);
    if (chatter == &conversation.clinician) {
      conversation.consultation_id = open_dermatology_consultation(*chatter->client).id();
    } else {
      start_seq = call_for_consultation(*chatter->client,
                                        accept_consultation_frame(conversation.consultation_id))
                      .last_seq();
    }
  }
  for (auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    chatter->follower.emplace(conversation.consultation_id, start_seq);
  }
  return conversation;
}

// Runs both chatters to completion while disrupt() runs on its own thread once a third of the
// messages is acknowledged. Returns the disruption's error, if any.
std::string run_chat(Conversation& conversation, const NodeDirectory& nodes,
                     const client::ClientOptions& options,
                     const std::function<void()>& disrupt) {
  const auto deadline = SteadyClock::now() + run_limit;
  PostProgress progress;
  std::string disruption_error;
  std::thread disruptor([&] {
    if (!progress.wait_for(2 * messages_per_chatter / 3, 2, deadline)) {
      disruption_error = "the chat ended before the disruption was due";
      return;
    }
    try {
      disrupt();
    } catch (const std::exception& error) {
      disruption_error = error.what();
    }
  });
  std::vector<std::thread> chatters;
  for (auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    chatters.emplace_back([&, chatter] {
      try {
        chat(*chatter, nodes, progress, options, deadline);
      } catch (const std::exception& error) {
        chatter->failure = error.what();
      }
      progress.poster_finished();
    });
  }
  for (auto& thread : chatters) thread.join();
  disruptor.join();
  return disruption_error;
}

// Every acknowledged message is in the log exactly once at its acknowledged seq, the log is
// gap-free, and each chatter's live view (events plus its catch-up syncs) shows exactly the log.
void expect_nothing_lost_or_duplicated(Conversation& conversation) {
  auto& reader = conversation.specialist;
  const auto log = sync_whole_log(*reader.client, conversation.consultation_id);
  std::map<std::string, std::uint64_t> seq_of_text;
  int duplicates = 0;
  for (std::size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(log[i].seq(), i + 1) << "the log has a gap";
    if (!log[i].body().has_text()) continue;
    if (!seq_of_text.emplace(log[i].body().text(), log[i].seq()).second && duplicates++ < 5) {
      ADD_FAILURE() << "stored twice: " << log[i].body().text();
    }
  }
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seq_of_text.size(), 2u * messages_per_chatter);
  int missing = 0;
  for (const auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    ASSERT_EQ(chatter->acknowledged.size(), static_cast<std::size_t>(messages_per_chatter));
    for (const auto& [id, seq] : chatter->acknowledged) {
      const auto found = seq_of_text.find(chatter->texts.at(id));
      if (found == seq_of_text.end()) {
        if (missing++ < 5) ADD_FAILURE() << id << " acknowledged as seq " << seq << " is lost";
      } else {
        EXPECT_EQ(found->second, seq) << id << " was acknowledged under another seq";
      }
    }
  }
  EXPECT_EQ(missing, 0);

  for (auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    const bool complete =
        follow_until(*chatter->client, *chatter->follower, log.size(),
                     SteadyClock::now() + event_wait, chatter->shown);
    if (!complete) {
      // Which post never came as a live event, and whether its poster had to resend it.
      const auto absent = chatter->follower->last_seen() + 1;
      std::string origin = "a system notice";
      for (const auto* poster : {&conversation.clinician, &conversation.specialist}) {
        for (const auto& [id, seq] : poster->acknowledged) {
          if (seq != absent) continue;
          origin = id + " of " + poster->username +
                   (poster->resent.count(id) ? ", sent again after a failed attempt" : "");
        }
      }
      ADD_FAILURE() << chatter->username << " (on node " << chatter->node + 1
                    << ") never got the live event of seq " << absent << " (" << origin
                    << "); live events reached seq " << chatter->follower->last_seen() << " of "
                    << log.size()
                    << (chatter->follower->has_gap() ? ", later ones held behind the gap" : "");
      // A client fills a gap with a sync: the rest of the view is still checked.
      catch_up(*chatter, *chatter->client);
    }
    ASSERT_EQ(chatter->shown.size(), log.size() - conversation.start_seq) << chatter->username;
    for (std::size_t i = 0; i < chatter->shown.size(); ++i) {
      const auto& stored = log[conversation.start_seq + i];
      EXPECT_EQ(chatter->shown[i].seq(), stored.seq());
      EXPECT_EQ(chatter->shown[i].body().text(), stored.body().text());
    }
  }
}

std::string describe(const Chatter& chatter) {
  std::string codes;
  for (const auto& code : chatter.transient_codes) codes += (codes.empty() ? "" : ",") + code;
  return chatter.username + ": " + std::to_string(chatter.reconnects) + " reconnects, " +
         std::to_string(chatter.moves) + " to another node, retried answers {" + codes + "}";
}

class FailoverTest : public ::testing::Test {
 protected:
  // The nodes go first, while their database is still there to finish their work.
  void TearDown() override {
    cluster_.reset();
    schema_.reset();
    postgres_.reset();
  }
  std::optional<ThrowawayPostgres> postgres_;
  std::optional<::tmc::testing::PostgresTestSchema> schema_;
  std::optional<Cluster> cluster_;
};

TEST_F(FailoverTest, ClientsOfAKilledNodeResumeOnTheOtherWithNothingLostOrDuplicated) {
  schema_.emplace("cl_");
  cluster_.emplace(schema_->conninfo_in_schema("tmc_cluster_e2e"));
  auto& cluster = *cluster_;
  auto conversation = start_conversation(cluster);
  NodeDirectory nodes({cluster.node(0).port(), cluster.node(1).port()});

  std::optional<ExitStatus> killed;
  const auto error =
      run_chat(conversation, nodes, cluster.node(0).client_options(), [&] {
        nodes.take_down(0);
        killed = cluster.node(0).kill();
      });
  ASSERT_EQ(error, "");
  ASSERT_TRUE(killed && killed->signal == SIGKILL) << (killed ? killed->describe() : "not run");
  ASSERT_EQ(conversation.clinician.failure, "");
  ASSERT_EQ(conversation.specialist.failure, "");
  // The clinician's session went on on node 2, the specialist's never left it.
  EXPECT_EQ(conversation.clinician.node, 1u);
  EXPECT_GE(conversation.clinician.moves, 1);
  EXPECT_EQ(conversation.specialist.moves, 0);
  expect_nothing_lost_or_duplicated(conversation);
  std::cout << describe(conversation.clinician) << "\n" << describe(conversation.specialist)
            << "\n";
}

TEST_F(FailoverTest, NodesRideOutAPostgresRestartAndRetriesAreNotDuplicated) {
  // Restarting the shared development server would disturb everybody on it: this test brings
  // its own.
  auto& postgres = postgres_.emplace();
  cluster_.emplace(postgres.uri());
  auto& cluster = *cluster_;
  auto conversation = start_conversation(cluster);
  NodeDirectory nodes({cluster.node(0).port(), cluster.node(1).port()});

  const auto error = run_chat(conversation, nodes, cluster.node(0).client_options(),
                              [&] { postgres.restart(); });
  ASSERT_EQ(error, "");
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const auto exited = cluster.node(i).wait_exit(0ms);
    EXPECT_FALSE(exited.has_value()) << "node " << i + 1 << " ended: " << exited->describe();
  }
  ASSERT_EQ(conversation.clinician.failure, "") << describe(conversation.clinician);
  ASSERT_EQ(conversation.specialist.failure, "") << describe(conversation.specialist);
  expect_nothing_lost_or_duplicated(conversation);

  // Resending acknowledged posts (a client unsure of its last answers) returns their seqs.
  for (auto* chatter : {&conversation.clinician, &conversation.specialist}) {
    for (int i = messages_per_chatter - 5; i < messages_per_chatter; ++i) {
      const auto id = message_id(*chatter, i);
      const auto again = chatter->client->call(
          post_text_frame(conversation.consultation_id, id, chatter->texts.at(id)));
      ASSERT_EQ(again.status().code(), v1::OK) << again.status().message();
      EXPECT_EQ(again.post_message().seq(), chatter->acknowledged.at(id)) << id;
    }
  }
  const auto log = sync_whole_log(*conversation.clinician.client, conversation.consultation_id);
  EXPECT_EQ(log.size(), conversation.specialist.follower->last_seen());
  std::cout << describe(conversation.clinician) << "\n" << describe(conversation.specialist)
            << "\n";
}

}  // namespace
}  // namespace tmc::e2e

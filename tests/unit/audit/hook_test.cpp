// The background-writer hook: batching from many threads, flush, drain on destruction, and
// recording from inside a store write op without deadlock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/store_audit_hook.hpp"
#include "audit/verifier.hpp"
#include "audit_fixture.hpp"

namespace tmc::audit {
namespace {

class Hook : public testing::AuditStoreTest {
 protected:
  std::int64_t size() {
    std::int64_t n = 0;
    store_->read([&](store::Tx& tx) { n = tx.audit_log_size(); });
    return n;
  }
  static domain::AuditEvent event(int i) {
    return {"usr_" + std::to_string(i), "bachu", "consultation.read", {"con_1"},
            domain::AuditOutcome::success, "10.0.0.1:1"};
  }
  ManualClock clock_{TimePoint(std::chrono::hours(24 * 365 * 55))};
};

TEST_F(Hook, ConcurrentRecordsAreAllStoredAndSigned) {
  StoreAuditHook hook;
  hook.start(*store_, SigningKey::generate(), clock_);
  const auto public_key = [&] {
    // The hook owns its key; read it back from the head it signs.
    hook.record(event(-1));
    hook.flush();
    return latest_head(*store_)->public_key;
  }();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&hook, t] {
      for (int i = 0; i < 50; ++i) hook.record(event(t * 100 + i));
    });
  }
  for (auto& thread : threads) thread.join();
  hook.flush();
  EXPECT_EQ(size(), 201);
  const auto head = latest_head(*store_);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->tree_size, 201);
  EXPECT_EQ(head->signed_at, clock_.now());
  const auto report = verify_log(*store_, public_key);
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.signed_records, 201);
}

// Events recorded one by one off the write path (a `resume` each) wait for company before the
// writer stores them; a flush or a stop ends the wait at once, however long it may be.
TEST_F(Hook, EventsRecordedWhileTheWriterGathersShareOneCommit) {
  {
    AuditHookOptions options;
    options.gather_delay = std::chrono::hours(1);
    StoreAuditHook hook;
    hook.start(*store_, SigningKey::generate(), clock_, options);
    const auto commits = [&] { return store_->writer_stats().batches_committed; };
    const auto before = commits();
    hook.record(event(0));
    // The writer wakes for the first event and then waits: nothing is committed meanwhile. (Only
    // a writer that does not gather can fail this; one that does never commits here.)
    const auto watch_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (std::chrono::steady_clock::now() < watch_until) {
      ASSERT_EQ(commits(), before);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (int i = 1; i < 20; ++i) hook.record(event(i));
    hook.flush();
    EXPECT_EQ(size(), 20);
    EXPECT_EQ(commits() - before, 1u);  // the 20 events and the head
    for (int i = 20; i < 23; ++i) hook.record(event(i));
  }  // the stop does not wait for the hour either
  EXPECT_EQ(size(), 23);
}

TEST_F(Hook, DestructionDrainsTheQueueAndSignsAHead) {
  {
    StoreAuditHook hook;
    AuditHookOptions options;
    options.head_interval = std::chrono::hours(1);
    options.default_actor = "tmc-admin:root";
    hook.start(*store_, SigningKey::generate(), clock_, options);
    for (int i = 0; i < 30; ++i) hook.record({"", "", "admin.user.add", {"usr_1"},
                                              domain::AuditOutcome::success, ""});
  }
  EXPECT_EQ(size(), 30);
  const auto head = latest_head(*store_);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->tree_size, 30);
  EXPECT_NE(rows().front().record.find("\"actor\":\"tmc-admin:root\""), std::string::npos);
  EXPECT_EQ(rows().front().actor_id, "tmc-admin:root");
}

TEST_F(Hook, EventsRecordedBeforeStartAreKept) {
  StoreAuditHook hook;
  hook.record(event(1));
  hook.start(*store_, SigningKey::generate(), clock_);
  hook.record(event(2));
  hook.flush();
  EXPECT_EQ(size(), 2);
}

TEST_F(Hook, RecordingInsideAStoreWriteDoesNotBlock) {
  StoreAuditHook hook;
  hook.start(*store_, SigningKey::generate(), clock_);
  store_->write([&](store::Tx&) {
    hook.record(event(1));  // on the store's writer thread, as process_deadlines does
    return true;
  });
  hook.flush();
  EXPECT_EQ(size(), 1);
}

TEST_F(Hook, AnEventRecordedInAWriteOpIsStoredByThatOpsOwnCommit) {
  StoreAuditHook hook;
  AuditHookOptions options;
  options.head_interval = std::chrono::hours(1);
  hook.start(*store_, SigningKey::generate(), clock_, options);
  const auto before = store_->writer_stats().batches_committed;
  store_->write([&](store::Tx& tx) {
    hook.record_in(tx, event(1));
    return true;
  });
  // Durable when the op's caller hears of it, without a batch of the hook's own.
  EXPECT_EQ(size(), 1);
  EXPECT_EQ(store_->writer_stats().batches_committed, before + 1);
  // An op whose own changes are rolled back is still audited (a refused attempt).
  store_->write([&](store::Tx& tx) {
    auto refused = event(2);
    refused.outcome = domain::AuditOutcome::denied;
    hook.record_in(tx, refused);
    return false;
  });
  EXPECT_EQ(size(), 2);
  EXPECT_EQ(store_->writer_stats().batches_committed, before + 2);
  hook.flush();  // covered by a signed head like any other event
  const auto head = latest_head(*store_);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->tree_size, 2);
  EXPECT_EQ(rows().back().actor_id, "usr_2");
}

TEST_F(Hook, RecordsCommittedByATailAreSignedWithinTheHeadInterval) {
  StoreAuditHook hook;
  AuditHookOptions options;
  options.head_interval = std::chrono::milliseconds(20);
  hook.start(*store_, SigningKey::generate(), clock_, options);
  store_->write([&](store::Tx& tx) {
    hook.record_in(tx, event(1));
    return true;
  });
  // No flush and nothing else recorded: the hook's own clock must bring the head.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<SignedTreeHead> head;
  while (!(head = latest_head(*store_)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(head);
  EXPECT_EQ(head->tree_size, 1);
}

TEST_F(Hook, InAWriteOpBeforeStartTheEventIsQueuedAndTheStoreOutlivesTheHook) {
  {
    StoreAuditHook hook;  // not started: no batch tail yet
    store_->write([&](store::Tx& tx) {
      hook.record_in(tx, event(1));
      return true;
    });
    hook.start(*store_, SigningKey::generate(), clock_);
    hook.flush();
    EXPECT_EQ(size(), 1);
  }
  // The destroyed hook is no longer the store's batch tail.
  EXPECT_TRUE(store_->write([](store::Tx&) { return true; }));
  EXPECT_EQ(size(), 1);
}

TEST_F(Hook, AppendsAfterAnotherWriterContinueTheSameLog) {
  // A second process (tmc-admin) appends between two batches of the server's hook.
  StoreAuditHook hook;
  const auto key_file = dir() / "audit.key";
  hook.start(*store_, SigningKey::load_or_create(key_file), clock_);
  hook.record(event(1));
  hook.flush();
  append_simple(3, false);  // the fixture's own AuditLog, with another in-memory state
  hook.record(event(2));
  hook.flush();
  EXPECT_EQ(size(), 5);
  const auto report = verify_log(*store_, SigningKey::load(key_file).public_key());
  // The fixture's log signs no heads with the hook's key; the chain must still be intact.
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.signed_records, 5);
}

// The store of the tests below: refuses every write while away, and refuses a write that appends
// a record of action "test.unstorable" (as a value the store cannot hold) or "test.refused" (as
// a fault of the store's own, which only the record's writes meet).
class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}

  void read(const std::function<void(store::Tx&)>& fn) override { inner_.read(fn); }
  bool write(store::WriteOp op) override {
    if (away) {
      ++writes_refused_while_away;
      throw store::StoreError("database unreachable");
    }
    return inner_.write([&](store::Tx& tx) {
      const auto before = tx.audit_log_size();
      const bool keep = op(tx);
      const auto added = static_cast<int>(tx.audit_log_size() - before);
      for (const auto& row : tx.list_audit_records(before, added)) {
        if (row.action == "test.unstorable") throw store::UnstorableValue("cannot hold a value");
        if (row.action == "test.refused") throw store::StoreError("refused by the database");
      }
      return keep;
    });
  }
  void write_async(store::WriteOp op,
                   std::function<void(bool, std::exception_ptr)> done) override {
    inner_.write_async(std::move(op), std::move(done));
  }
  int schema_version() override { return inner_.schema_version(); }

  std::atomic<bool> away{false};
  std::atomic<int> writes_refused_while_away{0};

 private:
  store::Store& inner_;
};

class HookOnAFaultyStore : public Hook {
 protected:
  HookOnAFaultyStore() { options_.retry_delay = std::chrono::milliseconds(10); }

  static domain::AuditEvent action(const std::string& name) {
    return {"usr_1", "bachu", name, {"con_1"}, domain::AuditOutcome::success, "10.0.0.1:1"};
  }
  // Waits for the log to hold n records (a hook that never stores them would block a flush for
  // good), then for a head over them.
  bool stored(StoreAuditHook& hook, std::int64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (size() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    hook.flush();
    return true;
  }
  std::vector<std::string> actions() {
    std::vector<std::string> out;
    for (const auto& row : rows()) out.push_back(row.action);
    return out;
  }

  FaultyStore faulty_{*store_};
  AuditHookOptions options_;
};

// One record the store can never hold must not hold back every record behind it for good (nor
// the flush and the stop that wait for them): it is set aside, and the log says so.
TEST_F(HookOnAFaultyStore, ARecordTheStoreCannotHoldIsSetAsideAndTheOthersStored) {
  auto key = SigningKey::generate();
  const auto public_key = key.public_key();
  StoreAuditHook hook;
  // Recorded before the start, the five share the first batch.
  for (const auto* name : {"login", "consultation.read", "test.unstorable", "message.post",
                           "logout"}) {
    hook.record(action(name));
  }
  hook.start(faulty_, std::move(key), clock_, options_);
  ASSERT_TRUE(stored(hook, 5));
  EXPECT_EQ(actions(), (std::vector<std::string>{"login", "consultation.read", "message.post",
                                                 "logout", "audit.record_not_stored"}));
  EXPECT_NE(rows().back().record.find("action:test.unstorable"), std::string::npos);
  const auto report = verify_log(*store_, public_key);
  EXPECT_TRUE(report.ok()) << report.problems.front();
  EXPECT_EQ(report.signed_records, 5);
}

// A record the database refuses while it takes every other write is retried first (the fault
// may pass), then set aside the same way.
TEST_F(HookOnAFaultyStore, ARecordRefusedWhileTheStoreWorksIsSetAsideAfterRetries) {
  StoreAuditHook hook;
  hook.start(faulty_, SigningKey::generate(), clock_, options_);
  hook.record(action("test.refused"));
  hook.record(action("login"));
  ASSERT_TRUE(stored(hook, 2));
  EXPECT_EQ(actions(), (std::vector<std::string>{"login", "audit.record_not_stored"}));
}

// A store that is away is not a record at fault: nothing is set aside however long it takes.
TEST_F(HookOnAFaultyStore, WhileTheStoreIsAwayNothingIsSetAside) {
  StoreAuditHook hook;
  hook.start(faulty_, SigningKey::generate(), clock_, options_);
  faulty_.away = true;
  hook.record(action("login"));
  hook.record(action("consultation.read"));
  // Many more refused writes than a record's strikes.
  while (faulty_.writes_refused_while_away < 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  faulty_.away = false;
  ASSERT_TRUE(stored(hook, 2));
  EXPECT_EQ(actions(), (std::vector<std::string>{"login", "consultation.read"}));
}

// A stop while the database is away waits a bounded time for the audit log, not for the
// database; once it is back, the same records are stored and signed.
TEST_F(HookOnAFaultyStore, AFlushWithATimeoutEndsWhileTheStoreIsAway) {
  StoreAuditHook hook;
  hook.start(faulty_, SigningKey::generate(), clock_, options_);
  faulty_.away = true;
  hook.record(action("login"));
  EXPECT_FALSE(hook.flush_for(std::chrono::milliseconds(50)));
  faulty_.away = false;
  EXPECT_TRUE(hook.flush_for(std::chrono::seconds(30)));
  EXPECT_EQ(actions(), (std::vector<std::string>{"login"}));
  EXPECT_TRUE(latest_head(*store_).has_value());
}

}  // namespace
}  // namespace tmc::audit

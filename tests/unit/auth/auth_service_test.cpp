// AuthService against a real SQLite store and a manual clock: TOTP (single use, enforcement per
// role, secret wrapped at rest), throttling, idle timeout and the live-session sweep.
#include "domain/auth_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <thread>
#include <filesystem>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "crypto/password.hpp"
#include "crypto/totp.hpp"
#include "domain/directory_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::domain {

void PrintTo(const EndedSession& ended, std::ostream* out) {
  *out << "{token_hash size " << ended.token_hash.size() << ", "
       << (ended.expired ? "expired" : "revoked") << "}";
}

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Ended = std::vector<EndedSession>;

const std::string kAddress = "10.20.0.1:50000";

// Keeps what was recorded (the service audits from the caller's thread).
class RecordingAuditHook final : public AuditHook {
 public:
  void record(const AuditEvent& event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  std::vector<AuditEvent> of(const std::string& action) {
    std::lock_guard lock(mutex_);
    std::vector<AuditEvent> found;
    for (const auto& event : events_) {
      if (event.action == action) found.push_back(event);
    }
    return found;
  }

 private:
  std::mutex mutex_;
  std::vector<AuditEvent> events_;
};

class AuthServiceTest : public ::testing::Test {
 protected:
  AuthServiceTest() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("tmc-auth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir_);
    store::SqliteOptions options;
    options.path = (dir_ / "tmc.db").string();
    store_ = store::open_sqlite_store(options);
    directory_ = std::make_unique<DirectoryService>(*store_, clock_, audit_);
    EXPECT_TRUE(directory_->add_organization({"county", "County Hospital",
                                              store::OrganizationKind::county_hospital, "Kashgar",
                                              "Asia/Urumqi"}));
    auth_ = make_auth(AuthOptions{});
    add_user("root", store::Role::admin);
    add_user("alice", store::Role::clinician);
  }
  ~AuthServiceTest() override {
    auth_.reset();
    directory_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<AuthService> make_auth(AuthOptions options) {
    options.password_params = crypto::ScryptParams{1024, 8, 1};
    return std::make_unique<AuthService>(*store_, clock_, audit_, options, &keys_);
  }

  void add_user(const std::string& username, store::Role role) {
    NewUser user{username, username, role, "county", {}};
    ASSERT_TRUE(directory_->add_user(user, auth_->hash_password(password(username))));
  }
  static std::string password(const std::string& username) { return "pw-of-" + username; }

  std::string code_now(const std::string& secret) const {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch());
    return crypto::totp_code(secret, seconds.count());
  }

  Result<LoginOutcome> login(const std::string& username, const std::string& code = {}) {
    return auth_->login(username, password(username), kAddress, code);
  }

  fs::path dir_;
  ManualClock clock_{TimePoint(std::chrono::seconds(1'700'000'015))};
  RecordingAuditHook audit_;
  crypto::KeyRing keys_ = crypto::KeyRing::generate();
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<DirectoryService> directory_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, AdminWithoutSecondFactorCannotSignIn) {
  const auto refused = login("root");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::failed_precondition);
  EXPECT_NE(refused.error().message.find("tmc-admin user totp enroll"), std::string::npos);
  EXPECT_TRUE(login("alice"));  // clinicians need no second factor by default
}

TEST_F(AuthServiceTest, TotpCodesAreSingleUse) {
  const auto enrolled = auth_->enroll_totp("root");
  ASSERT_TRUE(enrolled);
  EXPECT_EQ(enrolled->uri.rfind("otpauth://totp/", 0), 0u);

  const auto missing = login("root");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::unauthenticated);
  EXPECT_NE(missing.error().message.find("second factor required"), std::string::npos);

  const auto code = code_now(enrolled->secret);
  EXPECT_TRUE(login("root", code));
  const auto replay = login("root", code);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, Code::unauthenticated);
  EXPECT_EQ(replay.error().message, "invalid username or password");

  // The next step's code works once; the previous step's (still in the window) does not.
  clock_.advance(30s);
  EXPECT_TRUE(login("root", code_now(enrolled->secret)));
  EXPECT_FALSE(login("root", code));
}

TEST_F(AuthServiceTest, WrongCodeIsRefusedAndCountsAsAFailure) {
  const auto enrolled = auth_->enroll_totp("alice");
  ASSERT_TRUE(enrolled);
  const auto right = code_now(enrolled->secret);
  const std::string wrong = right == "000000" ? "111111" : "000000";
  for (int i = 0; i < 5; ++i) {
    const auto refused = login("alice", wrong);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Code::unauthenticated);
  }
  const auto throttled = login("alice", right);
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code, Code::resource_exhausted);
  EXPECT_NE(throttled.error().message.find("retry in 1 s"), std::string::npos);
  clock_.advance(1s);
  EXPECT_TRUE(login("alice", right));
}

TEST_F(AuthServiceTest, ThrottlesWrongPasswordsEvenForUnknownUsers) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth_->login("nobody", "guess", kAddress).error().code, Code::unauthenticated);
  }
  EXPECT_EQ(auth_->login("nobody", "guess", kAddress).error().code, Code::resource_exhausted);
  // Another port of the same address is the same address.
  EXPECT_EQ(auth_->login("nobody", "guess", "10.20.0.1:1").error().code,
            Code::resource_exhausted);
  EXPECT_TRUE(login("alice"));
}

TEST_F(AuthServiceTest, NamesNoAccountCanHaveShareOneStreakPerAddress) {
  // Each failure would otherwise keep its name, whatever its size, for an hour: a few MiB a try.
  for (int i = 0; i < 5; ++i) {
    const std::string name(100 * 1024, static_cast<char>('a' + i));
    EXPECT_EQ(auth_->login(name, "guess", kAddress).error().code, Code::unauthenticated);
  }
  EXPECT_EQ(auth_->login(std::string(100 * 1024, 'z'), "guess", kAddress).error().code,
            Code::resource_exhausted);
  EXPECT_EQ(auth_->login("", "guess", kAddress).error().code, Code::resource_exhausted);
  EXPECT_TRUE(login("alice"));  // real accounts keep their own streaks
}

// Refusals that cost the client no credential check cannot fill the audit log: past 20 per
// address and minute they are counted, and the count is recorded once the minute is over.
TEST_F(AuthServiceTest, RefusalsBeforeAnyCheckAreAuditedWithinABudget) {
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(auth_->resume("not-a-token", kAddress).error().code, Code::unauthenticated);
  }
  EXPECT_EQ(audit_.of("resume").size(), 20u);
  EXPECT_TRUE(audit_.of("auth.refusals_not_recorded").empty());
  // A sign-in whose password was checked is always recorded, budget or not.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(auth_->login("alice", "wrong", kAddress).error().code, Code::unauthenticated);
  }
  EXPECT_EQ(audit_.of("login").size(), 3u);

  clock_.advance(1min);
  EXPECT_EQ(auth_->login("", "guess", "10.20.0.1:1").error().code, Code::unauthenticated);
  const auto counted = audit_.of("auth.refusals_not_recorded");
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_EQ(counted[0].object_ids, std::vector<std::string>{"attempts:5"});
  EXPECT_EQ(counted[0].remote_address, "10.20.0.1");
  EXPECT_EQ(counted[0].outcome, AuditOutcome::denied);
  EXPECT_EQ(audit_.of("login").size(), 4u);

  // Without a later refusal, the timer records the count once the minute is over.
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(auth_->resume("not-a-token", "10.40.0.1:1"));
  auth_->record_refusal_counts();
  EXPECT_EQ(audit_.of("auth.refusals_not_recorded").size(), 1u);
  clock_.advance(1min);
  auth_->record_refusal_counts();
  const auto timed = audit_.of("auth.refusals_not_recorded");
  ASSERT_EQ(timed.size(), 2u);
  EXPECT_EQ(timed[1].object_ids, std::vector<std::string>{"attempts:10"});
  EXPECT_EQ(timed[1].remote_address, "10.40.0.1");
}

TEST_F(AuthServiceTest, PasswordChecksTakeTurns) {
  AuthOptions options;
  options.concurrent_password_checks = 1;
  options.password_check_wait = 0ms;
  auth_ = make_auth(options);
  {
    const auto running = auth_->password_checks().try_enter();  // another sign-in's check
    ASSERT_TRUE(running);
    EXPECT_EQ(login("alice").error().code, Code::resource_exhausted);
  }
  EXPECT_TRUE(login("alice"));
}

// A sign-in waiting for its password check (`change` runs meanwhile) must not open a session
// when the change ends the user's sessions.
class SignInDuringChange : public AuthServiceTest {
 protected:
  Result<LoginOutcome> login_while(const std::function<void()>& change) {
    AuthOptions options;
    options.concurrent_password_checks = 1;
    auth_ = make_auth(options);
    std::optional<Result<LoginOutcome>> result;
    std::thread signing_in;
    {
      const auto running = auth_->password_checks().try_enter();  // another sign-in's check
      signing_in = std::thread([&] { result = login("alice"); });
      while (auth_->password_checks().waiting() == 0) std::this_thread::yield();
      change();  // the hash was read; the check has not run yet
    }
    signing_in.join();
    return *result;
  }
};

// Wrong passwords sent all at once (one per connection) get no more checks than one by one: the
// throttle is asked again when each check's turn comes.
TEST_F(AuthServiceTest, AttemptsSentAtOnceAreThrottledLikeOneByOne) {
  AuthOptions options;
  options.concurrent_password_checks = 1;
  auth_ = make_auth(options);
  constexpr int kAttempts = 10;
  std::vector<std::optional<Result<LoginOutcome>>> results(kAttempts);
  std::vector<std::thread> attempts;
  {
    const auto running = auth_->password_checks().try_enter();  // another sign-in's check
    for (int i = 0; i < kAttempts; ++i) {
      attempts.emplace_back([&, i] { results[i] = auth_->login("alice", "guess", kAddress); });
    }
    while (auth_->password_checks().waiting() < kAttempts) std::this_thread::yield();
  }
  for (auto& attempt : attempts) attempt.join();
  int checked = 0;
  int throttled = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value() && !result->has_value());
    if (result->error().code == Code::unauthenticated) ++checked;
    if (result->error().code == Code::resource_exhausted) ++throttled;
  }
  EXPECT_EQ(checked, ThrottleOptions{}.backoff_after);
  EXPECT_EQ(throttled, kAttempts - checked);
}

TEST_F(SignInDuringChange, PasswordResetRefusesTheOldPassword) {
  const auto outcome = login_while(
      [&] { ASSERT_TRUE(directory_->set_password_hash("alice", auth_->hash_password("new"))); });
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::unauthenticated);
  EXPECT_TRUE(auth_->login("alice", "new", kAddress));
}

TEST_F(SignInDuringChange, DisablingRefusesTheSignIn) {
  const auto outcome = login_while([&] { ASSERT_TRUE(directory_->set_disabled("alice", true)); });
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::unauthenticated);
}

TEST_F(AuthServiceTest, SignInRehashesAPasswordHashedAtAnotherCost) {
  const auto old_hash = crypto::hash_password(password("bob"), crypto::ScryptParams{2048, 8, 1});
  ASSERT_TRUE(directory_->add_user({"bob", "bob", store::Role::clinician, "county", {}}, old_hash));
  ASSERT_TRUE(login("bob"));
  std::optional<std::string> stored;
  store_->read([&](store::Tx& tx) {
    const auto user = tx.find_user_by_username("bob");
    ASSERT_TRUE(user);
    stored = tx.find_password_hash(user->id);
  });
  ASSERT_TRUE(stored);
  EXPECT_NE(*stored, old_hash);
  EXPECT_EQ(crypto::password_params(*stored), (crypto::ScryptParams{1024, 8, 1}));
  EXPECT_TRUE(login("bob")) << "the new hash is of the same password";
}

TEST_F(AuthServiceTest, SecretIsStoredOnlyWrapped) {
  const auto enrolled = auth_->enroll_totp("alice");
  ASSERT_TRUE(enrolled);
  std::optional<store::TotpEnrollment> stored;
  store_->read([&](store::Tx& tx) { stored = tx.find_totp(enrolled->user_id); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->wrapped_secret.find(enrolled->secret), std::string::npos);
  EXPECT_EQ(keys_.unwrap(stored->wrapped_secret), enrolled->secret);
  ASSERT_TRUE(auth_->disable_totp("alice"));
  EXPECT_TRUE(login("alice"));
  EXPECT_EQ(auth_->disable_totp("alice").error().code, Code::not_found);
}

TEST_F(AuthServiceTest, IdleSessionsCannotBeResumed) {
  const auto session = login("alice");
  ASSERT_TRUE(session);
  clock_.advance(29min);
  EXPECT_TRUE(auth_->resume(session->session_token, kAddress));
  clock_.advance(2min);  // 31 minutes without use
  const auto resumed = auth_->resume(session->session_token, kAddress);
  ASSERT_FALSE(resumed);
  EXPECT_EQ(resumed.error().code, Code::unauthenticated);
}

TEST_F(AuthServiceTest, SweepKeepsLiveSessionsInUse) {
  const auto session = login("alice");
  ASSERT_TRUE(session);
  const std::vector<std::string> live{session->caller.session_token_hash};
  for (int minute = 0; minute < 60; minute += 5) {
    clock_.advance(5min);
    EXPECT_TRUE(auth_->sweep_sessions(live).empty()) << minute;
  }
  EXPECT_TRUE(auth_->resume(session->session_token, kAddress));
}

TEST_F(AuthServiceTest, SweepFindsRevokedExpiredAndDisabledSessions) {
  auto options = AuthOptions{};
  options.session_lifetime = 1h;
  auth_ = make_auth(options);
  add_user("bob", store::Role::clinician);
  add_user("carol", store::Role::clinician);
  const auto alice = login("alice");
  const auto bob = login("bob");
  const auto carol = login("carol");
  ASSERT_TRUE(alice && bob && carol);
  const std::vector<std::string> live{alice->caller.session_token_hash,
                                      bob->caller.session_token_hash,
                                      carol->caller.session_token_hash, std::string(32, 'x')};
  EXPECT_EQ(auth_->sweep_sessions(live), (Ended{{std::string(32, 'x'), false}}));

  ASSERT_TRUE(directory_->set_disabled("bob", true));
  ASSERT_TRUE(auth_->logout(carol->caller));
  auto ended = auth_->sweep_sessions(live);
  const auto by_token = [](const EndedSession& a, const EndedSession& b) {
    return a.token_hash < b.token_hash;
  };
  std::sort(ended.begin(), ended.end(), by_token);
  Ended expected{{bob->caller.session_token_hash, false},
                 {carol->caller.session_token_hash, false},
                 {std::string(32, 'x'), false}};
  std::sort(expected.begin(), expected.end(), by_token);
  EXPECT_EQ(ended, expected);

  // Told apart from a revocation: the client hears SESSION_CLOSING_KIND_EXPIRED.
  clock_.advance(1h);
  EXPECT_EQ(auth_->sweep_sessions({alice->caller.session_token_hash}),
            (Ended{{alice->caller.session_token_hash, true}}));
}

TEST_F(AuthServiceTest, SweepChecksManySessionsInBatches) {
  std::vector<std::string> live;
  for (int i = 0; i < 150; ++i) live.push_back(std::string(31, 'a') + static_cast<char>(i));
  const auto alice = login("alice");
  ASSERT_TRUE(alice);
  live.push_back(alice->caller.session_token_hash);
  const auto ended = auth_->sweep_sessions(live);
  EXPECT_EQ(ended.size(), 150u);
  EXPECT_EQ(std::find(ended.begin(), ended.end(),
                      EndedSession{alice->caller.session_token_hash, false}),
            ended.end());
}

// The sweep as the server runs it: the live tokens with the generation of their set.
class SweepTest : public AuthServiceTest {
 protected:
  Ended sweep() {
    return auth_->sweep_sessions(generation_, [&] {
      ++listed_;
      return live_;
    });
  }
  void set_live(std::vector<std::string> live) {
    live_ = std::move(live);
    ++generation_;
  }
  // Whether the sweep listed the live tokens since the last call.
  bool listed() { return std::exchange(listed_, 0) > 0; }
  // The same database as another process (tmc-admin, another node) sees it.
  std::unique_ptr<store::Store> other_process() {
    store::SqliteOptions options;
    options.path = (dir_ / "tmc.db").string();
    return store::open_sqlite_store(options);
  }

  std::vector<std::string> live_;
  std::uint64_t generation_ = 0;
  int listed_ = 0;
};

TEST_F(SweepTest, ListsTheLiveTokensOnlyWhenSomethingMayHaveChanged) {
  const auto alice = login("alice");
  ASSERT_TRUE(alice);
  set_live({alice->caller.session_token_hash});
  EXPECT_TRUE(sweep().empty());
  EXPECT_TRUE(listed()) << "the first sweep";
  for (int i = 0; i < 10; ++i) {
    clock_.advance(500ms);
    EXPECT_TRUE(sweep().empty());
    EXPECT_FALSE(listed()) << "nothing changed, sweep " << i;
  }
  add_user("bob", store::Role::clinician);
  const auto bob = login("bob");
  ASSERT_TRUE(bob);
  clock_.advance(500ms);
  EXPECT_TRUE(sweep().empty());
  EXPECT_FALSE(listed()) << "a new session elsewhere that is not live here";
  set_live({alice->caller.session_token_hash, bob->caller.session_token_hash});
  EXPECT_TRUE(sweep().empty());
  EXPECT_TRUE(listed()) << "a token joined";
  // The touches, due a minute after the last, keep both from idling out: half an hour later,
  // with nothing else happening, both sessions can still be resumed.
  for (int second = 0; second < 1800; second += 5) {
    clock_.advance(5s);
    EXPECT_TRUE(sweep().empty());
  }
  EXPECT_TRUE(auth_->resume(alice->session_token, kAddress));
  EXPECT_TRUE(auth_->resume(bob->session_token, kAddress));
}

TEST_F(SweepTest, EndsSessionsRevokedOrDisabledByAnotherProcess) {
  add_user("bob", store::Role::clinician);
  add_user("carol", store::Role::clinician);
  const auto alice = login("alice");
  const auto bob = login("bob");
  const auto carol = login("carol");
  ASSERT_TRUE(alice && bob && carol);
  set_live({alice->caller.session_token_hash, bob->caller.session_token_hash,
            carol->caller.session_token_hash});
  EXPECT_TRUE(sweep().empty());

  auto other = other_process();
  ASSERT_TRUE(other->write([&](store::Tx& tx) {
    return tx.revoke_session(bob->caller.session_token_hash);
  }));
  clock_.advance(500ms);
  EXPECT_EQ(sweep(), (Ended{{bob->caller.session_token_hash, false}}));
  clock_.advance(500ms);
  EXPECT_EQ(sweep(), (Ended{{bob->caller.session_token_hash, false}}))
      << "told again until its connections are gone";
  set_live({alice->caller.session_token_hash, carol->caller.session_token_hash});
  clock_.advance(500ms);
  EXPECT_TRUE(sweep().empty());

  ASSERT_TRUE(other->write([&](store::Tx& tx) {
    return tx.set_user_disabled(carol->caller.user.id, true);
  }));
  clock_.advance(500ms);
  EXPECT_EQ(sweep(), (Ended{{carol->caller.session_token_hash, false}}));
}

TEST_F(SweepTest, EndsASessionWhenItExpiresThoughNothingElseChanged) {
  auto options = AuthOptions{};
  options.session_lifetime = 10s;
  auth_ = make_auth(options);
  const auto alice = login("alice");
  ASSERT_TRUE(alice);
  set_live({alice->caller.session_token_hash});
  EXPECT_TRUE(sweep().empty());
  clock_.advance(9500ms);
  EXPECT_TRUE(sweep().empty());
  clock_.advance(500ms);
  EXPECT_EQ(sweep(), (Ended{{alice->caller.session_token_hash, true}}));
}

}  // namespace
}  // namespace tmc::domain

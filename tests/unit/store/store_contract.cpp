// Store contract suite: behaviour every Store backend must show. No backend specifics here.
#include "store_contract.hpp"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "audit_search_cases.hpp"

namespace tmc::store::testing {

TempDir::TempDir() {
  auto pattern = (std::filesystem::temp_directory_path() / "tmc-store-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void StoreContract::SetUp() {
  dir_ = std::make_unique<TempDir>();
  try {
    store_ = GetParam().open(dir_->path());
  } catch (const BackendUnavailable& e) {
    GTEST_SKIP() << e.what();
  }
}

void StoreContract::TearDown() {
  store_.reset();
  dir_.reset();
}

void StoreContract::reopen() {
  store_.reset();
  store_ = GetParam().open(dir_->path());
}

Consultation make_consultation(std::string id, ConsultationState state) {
  Consultation c;
  c.id = std::move(id);
  c.state = state;
  c.urgency = Urgency::urgent;
  c.specialty = "cardiology";
  c.patient_reference = "PR-77";
  c.patient_age_years = 63;
  c.patient_sex = Sex::female;
  c.requesting_organization_id = "county";
  c.requester_id = "clin";
  c.assigned_specialist_id = "";
  c.target_organization_id = "partner";
  c.preferred_specialist_id = "spec1";
  c.wrapped_key = std::string("\x00\x01\xfe\xff key", 9);
  c.sealed_question = std::string("q\x00uestion", 9);
  c.sealed_summary = std::string("\x00summary", 8);
  c.sealed_report = "";
  c.last_seq = 4;
  c.candidate_count = 2;
  c.respond_by = TimePoint(std::chrono::seconds(1'700'007'200)) + std::chrono::microseconds(5);
  c.escalated = false;
  c.created_at = TimePoint(std::chrono::seconds(1'700'000'000)) + std::chrono::microseconds(1);
  c.updated_at = TimePoint(std::chrono::seconds(1'700'000'100)) + std::chrono::microseconds(2);
  return c;
}

namespace {

TimePoint at(std::int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

Organization make_org(std::string id, OrganizationKind kind) {
  return Organization{id, "Hospital " + id, kind, "Region of " + id, "Asia/Urumqi"};
}

User make_user(std::string id, Role role, std::string org,
               std::vector<std::string> specialties = {}, bool disabled = false) {
  User user;
  user.username = "name-" + id;
  user.id = std::move(id);
  user.display_name = "Dr " + user.id;
  user.role = role;
  user.organization_id = std::move(org);
  user.specialties = std::move(specialties);
  user.disabled = disabled;
  user.created_at = at(1'700'000'000) + std::chrono::microseconds(123);
  return user;
}


auto fields(const Organization& o) {
  return std::make_tuple(o.id, o.name, static_cast<int>(o.kind), o.region, o.time_zone);
}

auto fields(const User& u) {
  return std::make_tuple(u.id, u.username, u.display_name, static_cast<int>(u.role),
                         u.organization_id, u.specialties, u.disabled,
                         u.created_at.time_since_epoch().count());
}

auto fields(const SessionRecord& s) {
  return std::make_tuple(s.token_hash, s.user_id, s.created_at.time_since_epoch().count(),
                         s.expires_at.time_since_epoch().count(), s.revoked);
}

auto fields(const Consultation& c) {
  auto micros = [](std::optional<TimePoint> t) -> std::optional<std::int64_t> {
    if (!t) return std::nullopt;
    return t->time_since_epoch().count();
  };
  return std::make_tuple(c.id, static_cast<int>(c.state), static_cast<int>(c.urgency), c.specialty,
                         c.patient_reference, c.patient_age_years, static_cast<int>(c.patient_sex),
                         c.requesting_organization_id, c.requester_id, c.assigned_specialist_id,
                         c.target_organization_id, c.preferred_specialist_id, c.wrapped_key,
                         c.sealed_question, c.sealed_summary, c.sealed_report, c.last_seq,
                         c.candidate_count, micros(c.respond_by), c.escalated,
                         c.created_at.time_since_epoch().count(),
                         c.updated_at.time_since_epoch().count());
}

auto fields(const LogRecord& r) {
  return std::make_tuple(r.consultation_id, r.seq, r.sender_id, r.client_msg_id,
                         r.posted_at.time_since_epoch().count(), r.sealed_body);
}

template <class Record>
std::vector<std::string> ids(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) out.push_back(record.id);
  return out;
}

std::vector<std::string> usernames(const std::vector<User>& users) {
  std::vector<std::string> out;
  for (const auto& user : users) out.push_back(user.username);
  return out;
}

std::string token(char fill) {
  std::string hash(32, fill);
  hash[3] = '\0';  // raw SHA-256 bytes may hold NULs
  return hash;
}

}  // namespace

// Organisations county (paired with partner), partner and other; users in each.
void StoreContract::seed_directory() {
  ASSERT_TRUE(write([](Tx& tx) {
    bool ok = tx.insert_organization(make_org("county", OrganizationKind::county_hospital));
    ok = ok && tx.insert_organization(make_org("partner", OrganizationKind::partner_hospital));
    ok = ok && tx.insert_organization(make_org("other", OrganizationKind::partner_hospital));
    ok = ok && tx.insert_pairing(Pairing{"county", "partner"});
    const std::vector<User> users = {
        make_user("clin", Role::clinician, "county"),
        make_user("stranger", Role::clinician, "county"),
        make_user("coord-c", Role::coordinator, "county"),
        make_user("spec1", Role::specialist, "partner", {"cardiology"}),
        make_user("spec2", Role::specialist, "partner", {"cardiology", "dermatology"}),
        make_user("coord-p", Role::coordinator, "partner"),
        make_user("spec3", Role::specialist, "other", {"cardiology"}, true),
        make_user("spec4", Role::specialist, "other", {"neurology"}),
        make_user("coord-x", Role::coordinator, "other"),
    };
    for (const auto& user : users) ok = ok && tx.insert_user(user, "hash-of-" + user.id);
    return ok;
  }));
}

std::vector<Consultation> StoreContract::store_consultations_with_long_texts() {
  seed_directory();
  std::vector<Consultation> originals;
  for (const char* id : {"c-1", "c-2", "c-3"}) {
    auto c = make_consultation(id, ConsultationState::in_session);
    c.sealed_summary = std::string(id) + std::string(20'000, '\x01');  // several pages
    originals.push_back(c);
  }
  originals[1].sealed_report = std::string("rep\x00rt", 6);
  EXPECT_TRUE(write([&](Tx& tx) {
    for (const auto& c : originals) EXPECT_TRUE(tx.insert_consultation(c));
    return true;
  }));
  store_.reset();
  return originals;
}

void StoreContract::expect_texts_whole_after_reopening(
    const std::vector<Consultation>& originals) {
  reopen();
  for (const auto& original : originals) {
    const auto found =
        read([&](Tx& tx) { return tx.find_consultation(original.id, SealedTexts::read); });
    ASSERT_TRUE(found) << original.id;
    EXPECT_EQ(fields(*found), fields(original)) << original.id;
  }
  write([](Tx& tx) {
    tx.set_consultation_last_seq("c-2", 5, at(1'700'000'500));
    return true;
  });
  auto expected = originals[1];
  expected.last_seq = 5;
  expected.updated_at = at(1'700'000'500);
  const auto posted = read([](Tx& tx) { return tx.find_consultation("c-2", SealedTexts::read); });
  ASSERT_TRUE(posted);
  EXPECT_EQ(fields(*posted), fields(expected));
}

// ---- directory ----

TEST_P(StoreContract, OrganizationsAndPairings) {
  const auto county = make_org("county", OrganizationKind::county_hospital);
  const auto partner = make_org("partner", OrganizationKind::partner_hospital);
  EXPECT_TRUE(write([&](Tx& tx) { return tx.insert_organization(partner); }));
  EXPECT_TRUE(write([&](Tx& tx) { return tx.insert_organization(county); }));
  auto renamed = county;
  renamed.name = "Another name";
  EXPECT_FALSE(write([&](Tx& tx) { return tx.insert_organization(renamed); }));

  auto found = read([](Tx& tx) { return tx.find_organization("county"); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(county));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_organization("nowhere"); }));
  EXPECT_EQ(ids(read([](Tx& tx) { return tx.list_organizations(); })),
            (std::vector<std::string>{"county", "partner"}));

  EXPECT_TRUE(write([](Tx& tx) { return tx.insert_pairing({"county", "partner"}); }));
  EXPECT_FALSE(write([](Tx& tx) { return tx.insert_pairing({"county", "partner"}); }));
  const auto pairings = read([](Tx& tx) { return tx.list_pairings(); });
  ASSERT_EQ(pairings.size(), 1u);
  EXPECT_EQ(pairings[0].county_organization_id, "county");
  EXPECT_EQ(pairings[0].partner_organization_id, "partner");
}

TEST_P(StoreContract, UsersRoundTripAndUniqueness) {
  seed_directory();
  const auto user = make_user("new", Role::specialist, "partner", {"cardiology", "neurology"});
  EXPECT_TRUE(write([&](Tx& tx) { return tx.insert_user(user, "$scrypt$abc"); }));

  auto by_id = read([](Tx& tx) { return tx.find_user("new"); });
  ASSERT_TRUE(by_id);
  EXPECT_EQ(fields(*by_id), fields(user));
  auto by_name = read([](Tx& tx) { return tx.find_user_by_username("name-new"); });
  ASSERT_TRUE(by_name);
  EXPECT_EQ(fields(*by_name), fields(user));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_user("ghost"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_user_by_username("NAME-NEW"); }));

  auto same_id = make_user("new", Role::clinician, "county");
  same_id.username = "fresh-name";
  EXPECT_FALSE(write([&](Tx& tx) { return tx.insert_user(same_id, "h"); }));
  auto same_username = make_user("other-id", Role::clinician, "county");
  same_username.username = user.username;
  EXPECT_FALSE(write([&](Tx& tx) { return tx.insert_user(same_username, "h"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_user("other-id"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_password_hash("other-id"); }));

  EXPECT_EQ(read([](Tx& tx) { return tx.find_password_hash("new"); }),
            std::optional<std::string>("$scrypt$abc"));
  EXPECT_TRUE(write([](Tx& tx) { return tx.set_password_hash("new", "$scrypt$def"); }));
  EXPECT_EQ(read([](Tx& tx) { return tx.find_password_hash("new"); }),
            std::optional<std::string>("$scrypt$def"));
  EXPECT_FALSE(write([](Tx& tx) { return tx.set_password_hash("ghost", "x"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_password_hash("ghost"); }));

  EXPECT_TRUE(write([](Tx& tx) { return tx.set_user_disabled("new", true); }));
  EXPECT_TRUE(read([](Tx& tx) { return tx.find_user("new"); })->disabled);
  EXPECT_TRUE(write([](Tx& tx) { return tx.set_user_disabled("new", false); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_user("new"); })->disabled);
  EXPECT_FALSE(write([](Tx& tx) { return tx.set_user_disabled("ghost", true); }));
}

TEST_P(StoreContract, ListUsersFilters) {
  seed_directory();
  auto filter = [](std::optional<Role> role, std::string organization, std::string specialty,
                   bool include_disabled) {
    UserFilter f;
    f.role = role;
    f.organization_id = std::move(organization);
    f.specialty = std::move(specialty);
    f.include_disabled = include_disabled;
    return f;
  };
  auto list = [&](std::optional<Role> role, std::string organization, std::string specialty,
                  bool include_disabled) {
    const auto f = filter(role, std::move(organization), std::move(specialty), include_disabled);
    return usernames(read([&](Tx& tx) { return tx.list_users(f); }));
  };
  using names = std::vector<std::string>;
  const auto any = std::nullopt;
  EXPECT_EQ(list(any, "", "", false),
            (names{"name-clin", "name-coord-c", "name-coord-p", "name-coord-x", "name-spec1",
                   "name-spec2", "name-spec4", "name-stranger"}));
  EXPECT_EQ(list(any, "", "", true).size(), 9u);
  EXPECT_EQ(list(Role::specialist, "", "", false),
            (names{"name-spec1", "name-spec2", "name-spec4"}));
  EXPECT_EQ(list(Role::specialist, "", "", true),
            (names{"name-spec1", "name-spec2", "name-spec3", "name-spec4"}));
  EXPECT_EQ(list(any, "partner", "", false), (names{"name-coord-p", "name-spec1", "name-spec2"}));
  EXPECT_EQ(list(any, "", "cardiology", false), (names{"name-spec1", "name-spec2"}));
  EXPECT_EQ(list(any, "", "cardiology", true), (names{"name-spec1", "name-spec2", "name-spec3"}));
  EXPECT_EQ(list(Role::specialist, "other", "neurology", false), (names{"name-spec4"}));
  EXPECT_EQ(list(Role::coordinator, "", "cardiology", false), names{});
  EXPECT_EQ(list(any, "", "oncology", false), names{});

  const auto dermatology = filter(any, "", "dermatology", false);
  const auto listed = read([&](Tx& tx) { return tx.list_users(dermatology); });
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].specialties, (names{"cardiology", "dermatology"}));
}

// ---- sessions ----

TEST_P(StoreContract, Sessions) {
  seed_directory();
  const SessionRecord first{token('a'), "clin", at(10), at(100), false};
  const SessionRecord second{token('b'), "clin", at(20), at(200), false};
  const SessionRecord third{token('c'), "spec1", at(30), at(300), false};
  ASSERT_TRUE(write([&](Tx& tx) {
    tx.insert_session(first);
    tx.insert_session(second);
    tx.insert_session(third);
    return true;
  }));

  auto found = read([&](Tx& tx) { return tx.find_session(first.token_hash); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(first));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_session(token('z')); }));

  EXPECT_TRUE(write([&](Tx& tx) { return tx.revoke_session(first.token_hash); }));
  EXPECT_TRUE(read([&](Tx& tx) { return tx.find_session(first.token_hash); })->revoked);
  EXPECT_FALSE(write([](Tx& tx) { return tx.revoke_session(token('z')); }));

  int revoked = -1;
  write([&](Tx& tx) {
    revoked = tx.revoke_user_sessions("clin");
    return true;
  });
  EXPECT_EQ(revoked, 1);  // the first one was revoked already
  EXPECT_TRUE(read([&](Tx& tx) { return tx.find_session(second.token_hash); })->revoked);
  EXPECT_FALSE(read([&](Tx& tx) { return tx.find_session(third.token_hash); })->revoked);

  int deleted = -1;
  write([&](Tx& tx) {
    deleted = tx.delete_expired_sessions(at(200));
    return true;
  });
  EXPECT_EQ(deleted, 2);
  EXPECT_FALSE(read([&](Tx& tx) { return tx.find_session(first.token_hash); }));
  EXPECT_FALSE(read([&](Tx& tx) { return tx.find_session(second.token_hash); }));
  EXPECT_TRUE(read([&](Tx& tx) { return tx.find_session(third.token_hash); }));
}

TEST_P(StoreContract, ValidSessionsComeWithTheirExpiry) {
  seed_directory();
  ASSERT_TRUE(write([&](Tx& tx) {
    tx.insert_session({token('a'), "clin", at(10), at(1000), false});
    tx.insert_session({token('b'), "clin", at(20), at(2000), false});
    tx.insert_session({token('c'), "clin", at(30), at(3000), false});  // revoked below
    tx.insert_session({token('d'), "clin", at(40), at(500), false});   // expired at 500
    tx.insert_session({token('e'), "spec1", at(50), at(5000), false});  // user disabled below
    tx.insert_session({token('f'), "clin", at(5), at(6000), false});   // idle since 5
    tx.revoke_session(token('c'));
    tx.set_user_disabled("spec1", true);
    tx.touch_sessions({token('a')}, at(60));
    return true;
  }));
  std::vector<std::string> asked{token('a'), token('b'), token('c'), token('d'),
                                 token('e'), token('f'), token('z'), token('b')};
  for (int i = 0; i < 150; ++i) asked.push_back(std::string(31, 'q') + static_cast<char>(i));
  asked.push_back(token('a'));  // after a whole batch of unknown ones
  auto valid = read([&](Tx& tx) { return tx.list_valid_sessions(asked, at(500), at(8)); });
  std::sort(valid.begin(), valid.end(),
            [](const auto& x, const auto& y) { return x.token_hash < y.token_hash; });
  ASSERT_EQ(valid.size(), 2u);
  EXPECT_EQ(valid[0].token_hash, token('a'));
  EXPECT_EQ(valid[0].expires_at, at(1000));
  EXPECT_EQ(valid[1].token_hash, token('b'));
  EXPECT_EQ(valid[1].expires_at, at(2000));
  // Idle is measured from the last touch: 'a' was touched at 60, 'b' not since 20.
  valid = read([&](Tx& tx) { return tx.list_valid_sessions(asked, at(500), at(30)); });
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].token_hash, token('a'));
  EXPECT_TRUE(read([&](Tx& tx) { return tx.list_valid_sessions({}, at(500), at(8)); }).empty());
}

TEST_P(StoreContract, SessionEpochMovesWithEveryChangeThatCanEndASession) {
  seed_directory();
  const auto epoch = [&] { return read([](Tx& tx) { return tx.session_epoch(); }); };
  auto last = epoch();
  // Whether the epoch moved since the last call.
  const auto moved = [&] {
    const auto now = epoch();
    return std::exchange(last, now) != now;
  };
  ASSERT_TRUE(write([&](Tx& tx) {
    tx.insert_session({token('a'), "clin", at(10), at(100), false});
    tx.insert_session({token('b'), "clin", at(20), at(200), false});
    tx.insert_session({token('c'), "spec1", at(30), at(300), false});
    tx.insert_session({token('d'), "spec2", at(30), at(300), false});
    return true;
  }));
  EXPECT_FALSE(moved()) << "a new session";
  write([&](Tx& tx) {
    tx.touch_sessions({token('a'), token('b')}, at(40));
    return true;
  });
  EXPECT_FALSE(moved()) << "a touch";
  EXPECT_FALSE(write([&](Tx& tx) {
    tx.revoke_session(token('a'));
    return false;  // rolled back
  }));
  EXPECT_FALSE(moved()) << "a revocation rolled back";
  EXPECT_FALSE(write([](Tx& tx) { return tx.revoke_session(token('z')); }));
  EXPECT_FALSE(moved()) << "an unknown session";
  EXPECT_TRUE(write([&](Tx& tx) { return tx.revoke_session(token('a')); }));
  EXPECT_TRUE(moved()) << "a revocation";
  write([](Tx& tx) { return tx.revoke_user_sessions("clin") == 1; });
  EXPECT_TRUE(moved()) << "a user's sessions revoked";
  EXPECT_TRUE(write([](Tx& tx) { return tx.set_user_disabled("spec1", true); }));
  EXPECT_TRUE(moved()) << "a user disabled";
  write([](Tx& tx) { return tx.set_user_disabled("spec1", true); });
  EXPECT_FALSE(moved()) << "a disabled user disabled again";
  EXPECT_TRUE(write([](Tx& tx) { return tx.set_user_disabled("spec1", false); }));
  EXPECT_TRUE(moved()) << "a user enabled";
  write([](Tx& tx) { return tx.delete_expired_sessions(at(50)) == 0; });
  EXPECT_FALSE(moved()) << "no expired session to delete";
  write([](Tx& tx) { return tx.delete_expired_sessions(at(250)) == 2; });
  EXPECT_TRUE(moved()) << "expired sessions deleted";
  reopen();
  EXPECT_EQ(epoch(), last) << "the epoch is stored";
  write([&](Tx& tx) { return tx.revoke_session(token('d')); });
  EXPECT_TRUE(moved()) << "a revocation after a restart";
}

// ---- consultations ----

TEST_P(StoreContract, ConsultationRoundTripsEveryField) {
  seed_directory();
  const auto original = make_consultation("c-0001");
  EXPECT_TRUE(write([&](Tx& tx) { return tx.insert_consultation(original); }));
  EXPECT_FALSE(write([&](Tx& tx) { return tx.insert_consultation(original); }));
  auto found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(original));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_consultation("c-9999", SealedTexts::read); }));

  auto changed = original;
  changed.state = ConsultationState::reported;
  changed.urgency = Urgency::emergency;
  changed.specialty = "neurology";
  changed.patient_reference = "PR-78";
  changed.patient_age_years = 7;
  changed.patient_sex = Sex::other;
  changed.requesting_organization_id = "partner";
  changed.requester_id = "stranger";
  changed.assigned_specialist_id = "spec2";
  changed.target_organization_id = "";
  changed.preferred_specialist_id = "";
  changed.wrapped_key = std::string("\x00\x00", 2);
  changed.last_seq = 1'000'000'000'000;
  changed.candidate_count = 5;
  changed.respond_by.reset();
  changed.escalated = true;
  changed.created_at = at(5);
  changed.updated_at = at(-5);  // before the epoch still round-trips
  write([&](Tx& tx) {
    tx.update_consultation(changed);
    return true;
  });
  found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(changed));
}

Consultation without_texts(Consultation c) {
  c.sealed_question.clear();
  c.sealed_summary.clear();
  c.sealed_report.clear();
  return c;
}

// A post reads and writes back the consultation without its sealed texts: they must survive
// that, and only set_consultation_report changes one of them.
TEST_P(StoreContract, SealedTextsAreReadWhenAskedForAndKeptByUpdates) {
  seed_directory();
  auto original = make_consultation("c-0001", ConsultationState::requested);
  original.sealed_summary = std::string(40'000, 's');  // longer than a database page
  original.respond_by = at(10);
  ASSERT_TRUE(write([&](Tx& tx) { return tx.insert_consultation(original); }));
  auto bare = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::skip); });
  ASSERT_TRUE(bare);
  EXPECT_EQ(fields(*bare), fields(without_texts(original)));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_consultation("c-9999", SealedTexts::skip); }));
  ConsultationQuery query;
  query.coordinator_organization_id = "county";
  const auto listed = read([&](Tx& tx) { return tx.list_consultations(query); });
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(fields(listed[0]), fields(without_texts(original)));
  const auto due = read([](Tx& tx) { return tx.list_due_consultations(at(20), 5); });
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(fields(due[0]), fields(without_texts(original)));

  auto moved = *bare;  // written back as read, and once with texts it should not write
  moved.state = ConsultationState::in_session;
  moved.updated_at = at(30);
  auto stray = moved;
  stray.sealed_question = "not the question";
  stray.sealed_report = "not a report";
  write([&](Tx& tx) {
    tx.update_consultation(moved);
    tx.update_consultation(stray);
    tx.set_consultation_last_seq("c-0001", 9, at(40));
    return true;
  });
  auto expected = original;
  expected.state = ConsultationState::in_session;
  expected.last_seq = 9;
  expected.updated_at = at(40);
  auto found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(expected));

  const auto report = std::string("rep\x00rt", 6) + std::string(70'000, 'r');
  write([&](Tx& tx) {
    tx.set_consultation_report("c-0001", report);
    return true;
  });
  expected.sealed_report = report;
  found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(expected));
  EXPECT_THROW(write([](Tx& tx) {
                 tx.set_consultation_report("c-9999", "report");
                 return true;
               }),
               StoreError);
}

TEST_P(StoreContract, SetConsultationLastSeqChangesOnlyItAndUpdatedAt) {
  seed_directory();
  const auto original = make_consultation("c-0001", ConsultationState::in_session);
  ASSERT_TRUE(write([&](Tx& tx) { return tx.insert_consultation(original); }));
  write([](Tx& tx) {
    tx.set_consultation_last_seq("c-0001", 42, at(9));
    return true;
  });
  auto expected = original;
  expected.last_seq = 42;
  expected.updated_at = at(9);
  auto found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(expected));
  EXPECT_THROW(write([](Tx& tx) {
                 tx.set_consultation_last_seq("c-9999", 1, at(9));
                 return true;
               }),
               StoreError);
}

// A begin_upload sent again is recognised by what it declares; anything declared otherwise,
// or by another user, is another upload.
TEST_P(StoreContract, AnUnfinishedUploadIsFoundByWhatItDeclared) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) { return tx.insert_consultation(make_consultation("c-0001")); }));
  const auto upload = [](std::string id, std::string consultation, int created) {
    Upload u;
    u.id = std::move(id);
    u.user_id = "clin";
    u.organization_id = "county";
    u.consultation_id = std::move(consultation);
    u.file_name = "scan.dcm";
    u.media_type = "application/dicom";
    u.size = 5'000'000'000;  // past 32 bits
    u.sha256 = std::string(31, '\x07') + '\0';
    u.wrapped_key = "key";
    u.header = "header";
    u.created_at = at(created);
    u.updated_at = at(created);
    return u;
  };
  const auto later = upload("upl-later", "c-0001", 5);
  const auto earlier = upload("upl-earlier", "c-0001", 3);
  const auto unshared = upload("upl-unshared", "", 1);  // the oldest of all
  ASSERT_TRUE(write([&](Tx& tx) {
    for (const auto& u : {later, earlier, unshared}) tx.insert_upload(u);
    return true;
  }));
  const auto found = [&](const Upload& declared) {
    auto open = read([&](Tx& tx) { return tx.find_open_upload_like(declared); });
    return open ? open->id : std::string("none");
  };
  auto declared = upload("", "c-0001", 9);
  EXPECT_EQ(found(declared), "upl-earlier");  // the oldest of two alike
  EXPECT_EQ(found(upload("", "", 9)), "upl-unshared");
  auto changed = declared;
  changed.user_id = "stranger";
  EXPECT_EQ(found(changed), "none");
  changed = declared;
  changed.file_name = "scan2.dcm";
  EXPECT_EQ(found(changed), "none");
  changed = declared;
  changed.media_type = "image/jpeg";
  EXPECT_EQ(found(changed), "none");
  changed = declared;
  changed.size += 1;
  EXPECT_EQ(found(changed), "none");
  changed = declared;
  changed.sha256.back() = '\x01';
  EXPECT_EQ(found(changed), "none");
  ASSERT_TRUE(write([](Tx& tx) { return tx.delete_upload("upl-earlier"); }));
  EXPECT_EQ(found(declared), "upl-later");
}

TEST_P(StoreContract, ListConsultationsVisibility) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) {
    // c-0001: requested by county, offered to spec1 (open) and spec2 (declined).
    tx.insert_consultation(make_consultation("c-0001", ConsultationState::offered));
    tx.add_participant("c-0001", {"clin", ParticipantKind::requester, 0});
    tx.add_candidates("c-0001", {"spec1", "spec2"});
    tx.mark_candidate_declined("c-0001", "spec2");
    // c-0002: requested by county, spec4 (org other) participates.
    auto second = make_consultation("c-0002", ConsultationState::in_session);
    second.assigned_specialist_id = "spec4";
    tx.insert_consultation(second);
    tx.add_participant("c-0002", {"clin", ParticipantKind::requester, 0});
    tx.add_participant("c-0002", {"spec4", ParticipantKind::specialist, 0});
    // c-0003: requested by county, assigned to spec4 with no participants or candidates.
    auto third = make_consultation("c-0003", ConsultationState::accepted);
    third.assigned_specialist_id = "spec4";
    tx.insert_consultation(third);
    return true;
  }));
  auto visible = [&](std::string user, std::string coordinator_org) {
    ConsultationQuery query;
    query.user_id = std::move(user);
    query.coordinator_organization_id = std::move(coordinator_org);
    return ids(read([&](Tx& tx) { return tx.list_consultations(query); }));
  };
  using names = std::vector<std::string>;
  EXPECT_EQ(visible("clin", ""), (names{"c-0001", "c-0002"}));
  EXPECT_EQ(visible("spec1", ""), (names{"c-0001"}));
  EXPECT_EQ(visible("spec2", ""), names{});  // declined candidates no longer see the offer
  EXPECT_EQ(visible("spec4", ""), (names{"c-0002"}));
  EXPECT_EQ(visible("coord-c", "county"), (names{"c-0001", "c-0002", "c-0003"}));
  EXPECT_EQ(visible("coord-p", "partner"), (names{"c-0001"}));
  EXPECT_EQ(visible("coord-x", "other"), (names{"c-0002", "c-0003"}));
  EXPECT_EQ(visible("stranger", ""), names{});
  EXPECT_EQ(visible("", ""), names{});
}

TEST_P(StoreContract, ListConsultationsStateFilterAndPaging) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) {
    tx.insert_consultation(make_consultation("c-0001", ConsultationState::requested));
    tx.insert_consultation(make_consultation("c-0002", ConsultationState::closed));
    tx.insert_consultation(make_consultation("c-0003", ConsultationState::requested));
    tx.insert_consultation(make_consultation("c-0004", ConsultationState::requested));
    return true;
  }));
  auto page = [&](std::optional<ConsultationState> state, std::string after, int limit) {
    ConsultationQuery query;
    query.coordinator_organization_id = "county";
    query.state = state;
    query.after_id = std::move(after);
    query.limit = limit;
    return ids(read([&](Tx& tx) { return tx.list_consultations(query); }));
  };
  using names = std::vector<std::string>;
  EXPECT_EQ(page(std::nullopt, "", 50), (names{"c-0001", "c-0002", "c-0003", "c-0004"}));
  EXPECT_EQ(page(ConsultationState::closed, "", 50), (names{"c-0002"}));
  EXPECT_EQ(page(ConsultationState::requested, "", 2), (names{"c-0001", "c-0003"}));
  EXPECT_EQ(page(ConsultationState::requested, "c-0003", 2), (names{"c-0004"}));
  EXPECT_EQ(page(std::nullopt, "c-0001", 2), (names{"c-0002", "c-0003"}));
  EXPECT_EQ(page(std::nullopt, "c-0004", 2), names{});
  EXPECT_EQ(page(std::nullopt, "", 0), names{});
}

TEST_P(StoreContract, ListDueConsultations) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) {
    auto add = [&](std::string id, ConsultationState state, std::optional<TimePoint> respond_by) {
      auto c = make_consultation(std::move(id), state);
      c.respond_by = respond_by;
      return tx.insert_consultation(c);
    };
    return add("c-0001", ConsultationState::requested, at(100)) &&
           add("c-0002", ConsultationState::offered, at(50)) &&
           add("c-0003", ConsultationState::accepted, at(10)) &&
           add("c-0004", ConsultationState::requested, std::nullopt) &&
           add("c-0005", ConsultationState::requested, at(200));
  }));
  auto due = [&](std::int64_t now, int limit) {
    return ids(read([&](Tx& tx) { return tx.list_due_consultations(at(now), limit); }));
  };
  using names = std::vector<std::string>;
  EXPECT_EQ(due(150, 10), (names{"c-0002", "c-0001"}));
  EXPECT_EQ(due(100, 10), (names{"c-0002", "c-0001"}));  // a deadline equal to now is due
  EXPECT_EQ(due(99, 10), (names{"c-0002"}));
  EXPECT_EQ(due(150, 1), (names{"c-0002"}));
  EXPECT_EQ(due(49, 10), names{});
}

TEST_P(StoreContract, ParticipantsReadSeqOnlyMovesForward) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) { return tx.insert_consultation(make_consultation("c-0001")); }));
  EXPECT_TRUE(write([](Tx& tx) {
    return tx.add_participant("c-0001", {"spec1", ParticipantKind::specialist, 0});
  }));
  EXPECT_TRUE(write([](Tx& tx) {
    return tx.add_participant("c-0001", {"clin", ParticipantKind::requester, 2});
  }));
  EXPECT_FALSE(write([](Tx& tx) {
    return tx.add_participant("c-0001", {"clin", ParticipantKind::invited, 0});
  }));

  auto participants = read([](Tx& tx) { return tx.list_participants("c-0001"); });
  ASSERT_EQ(participants.size(), 2u);
  EXPECT_EQ(participants[0].user_id, "clin");
  EXPECT_EQ(participants[0].kind, ParticipantKind::requester);
  EXPECT_EQ(participants[0].read_seq, 2);
  EXPECT_EQ(participants[1].user_id, "spec1");
  EXPECT_EQ(participants[1].kind, ParticipantKind::specialist);

  auto read_seq = [&](const std::string& user) {
    for (const auto& p : read([](Tx& tx) { return tx.list_participants("c-0001"); })) {
      if (p.user_id == user) return p.read_seq;
    }
    return std::int64_t{-1};
  };
  EXPECT_TRUE(write([](Tx& tx) { return tx.advance_read_seq("c-0001", "clin", 5); }));
  EXPECT_EQ(read_seq("clin"), 5);
  EXPECT_TRUE(write([](Tx& tx) { return tx.advance_read_seq("c-0001", "clin", 3); }));
  EXPECT_EQ(read_seq("clin"), 5);
  EXPECT_EQ(read_seq("spec1"), 0);
  EXPECT_FALSE(write([](Tx& tx) { return tx.advance_read_seq("c-0001", "stranger", 9); }));
  EXPECT_FALSE(write([](Tx& tx) { return tx.advance_read_seq("c-0002", "clin", 9); }));
  EXPECT_TRUE(read([](Tx& tx) { return tx.list_participants("c-0002"); }).empty());
}

TEST_P(StoreContract, CandidatesAndDeclines) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) {
    tx.insert_consultation(make_consultation("c-0001"));
    tx.add_candidates("c-0001", {"spec2", "spec1"});
    return tx.mark_candidate_declined("c-0001", "spec2");
  }));
  EXPECT_FALSE(write([](Tx& tx) { return tx.mark_candidate_declined("c-0001", "spec4"); }));
  ASSERT_TRUE(write([](Tx& tx) {
    tx.add_candidates("c-0001", {"spec2", "spec4"});  // spec2 stays declined
    return true;
  }));
  const auto candidates = read([](Tx& tx) { return tx.list_candidates("c-0001"); });
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0].user_id, "spec1");
  EXPECT_FALSE(candidates[0].declined);
  EXPECT_EQ(candidates[1].user_id, "spec2");
  EXPECT_TRUE(candidates[1].declined);
  EXPECT_EQ(candidates[2].user_id, "spec4");
  EXPECT_FALSE(candidates[2].declined);
  EXPECT_TRUE(read([](Tx& tx) { return tx.list_candidates("c-0002"); }).empty());
}

TEST_P(StoreContract, LogAppendIdempotencyAndPaging) {
  seed_directory();
  std::vector<LogRecord> records;
  for (int seq = 1; seq <= 7; ++seq) {
    // The last two carry no client id (e.g. system entries): empty ids never collide.
    const std::string client_id = seq <= 5 ? "m" + std::to_string(seq) : "";
    records.push_back(LogRecord{"c-0001", seq, "clin", client_id, at(1000 + seq),
                                std::string("body\x00", 5) + std::to_string(seq)});
  }
  ASSERT_TRUE(write([&](Tx& tx) {
    tx.insert_consultation(make_consultation("c-0001"));
    for (const auto& record : records) EXPECT_TRUE(tx.append_log(record));
    return true;
  }));

  auto found = read([](Tx& tx) { return tx.find_log_by_client_msg_id("c-0001", "clin", "m3"); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(records[2]));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_log_by_client_msg_id("c-0001", "spec1", "m3"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_log_by_client_msg_id("c-0002", "clin", "m3"); }));
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_log_by_client_msg_id("c-0001", "clin", ""); }));

  auto seqs = [&](std::int64_t after, int limit) {
    std::vector<std::int64_t> out;
    for (const auto& r : read([&](Tx& tx) { return tx.list_log("c-0001", after, limit); })) {
      out.push_back(r.seq);
    }
    return out;
  };
  using numbers = std::vector<std::int64_t>;
  EXPECT_EQ(seqs(0, 3), (numbers{1, 2, 3}));
  EXPECT_EQ(seqs(3, 10), (numbers{4, 5, 6, 7}));
  EXPECT_EQ(seqs(7, 10), numbers{});
  EXPECT_EQ(read([](Tx& tx) { return tx.list_log("c-0001", 0, 10); })[6].sealed_body,
            records[6].sealed_body);

  // A repeated seq is refused; a repeated client id from the same sender is a retry, which
  // stores nothing and says so. The log is intact.
  auto duplicate_seq = records[0];
  duplicate_seq.client_msg_id = "m-new";
  EXPECT_THROW(write([&](Tx& tx) {
                 tx.append_log(duplicate_seq);
                 return true;
               }),
               StoreError);
  auto duplicate_client_id = records[0];
  duplicate_client_id.seq = 8;
  duplicate_client_id.sealed_body = "retried";
  EXPECT_TRUE(write([&](Tx& tx) {
    EXPECT_FALSE(tx.append_log(duplicate_client_id));
    return true;
  }));
  EXPECT_EQ(seqs(0, 100), (numbers{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(read([](Tx& tx) { return tx.list_log("c-0001", 0, 1); })[0].sealed_body,
            records[0].sealed_body);
  // Entries without a client id are never retries of each other.
  auto second_system_entry = records[6];
  second_system_entry.seq = 9;
  EXPECT_TRUE(write([&](Tx& tx) { return tx.append_log(second_system_entry); }));
  auto other_sender = duplicate_client_id;
  other_sender.sender_id = "spec1";
  EXPECT_TRUE(write([&](Tx& tx) { return tx.append_log(other_sender); }));
  EXPECT_EQ(seqs(7, 100), (numbers{8, 9}));
}

// ---- transactions and the writer ----

TEST_P(StoreContract, ReadTransactionRejectsWrites) {
  store_->read([](Tx& tx) {
    EXPECT_THROW(tx.insert_organization(make_org("x", OrganizationKind::county_hospital)),
                 StoreError);
    EXPECT_THROW(tx.revoke_user_sessions("clin"), StoreError);
    EXPECT_THROW(tx.append_log(LogRecord{}), StoreError);
  });
  EXPECT_TRUE(read([](Tx& tx) { return tx.list_organizations(); }).empty());
}

TEST_P(StoreContract, WriteAsyncCompletesAfterCommit) {
  std::promise<bool> seen_by_reader;
  store_->write_async(
      [](Tx& tx) {
        return tx.insert_organization(make_org("a", OrganizationKind::county_hospital));
      },
      [&](bool kept, std::exception_ptr error) {
        // A fresh snapshot on another connection must already see the committed row.
        bool visible = false;
        store_->read([&](Tx& tx) { visible = tx.find_organization("a").has_value(); });
        seen_by_reader.set_value(kept && !error && visible);
      });
  EXPECT_TRUE(seen_by_reader.get_future().get());
}

namespace {

// Enqueues a first op that holds the writer until the returned function is called, so ops queued
// in between are taken together as the next batch.
std::function<void()> hold_writer(Store& store) {
  auto entered = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  store.write_async(
      [entered, gate = release->get_future().share()](Tx&) {
        entered->set_value();
        gate.wait();
        return true;
      },
      nullptr);
  entered->get_future().wait();
  return [release] { release->set_value(); };
}

struct Completion {
  std::promise<std::pair<bool, std::exception_ptr>> promise;
  auto callback() {
    return [this](bool kept, std::exception_ptr error) { promise.set_value({kept, error}); };
  }
};

}  // namespace

TEST_P(StoreContract, RejectedOpLeavesNoTraceWhileBatchMateCommits) {
  auto release = hold_writer(*store_);
  Completion rejected;
  Completion kept;
  store_->write_async(
      [](Tx& tx) {
        tx.insert_organization(make_org("rejected", OrganizationKind::county_hospital));
        return false;
      },
      rejected.callback());
  store_->write_async(
      [](Tx& tx) {
        return tx.insert_organization(make_org("kept", OrganizationKind::county_hospital));
      },
      kept.callback());
  release();

  const auto [rejected_kept, rejected_error] = rejected.promise.get_future().get();
  const auto [kept_kept, kept_error] = kept.promise.get_future().get();
  EXPECT_FALSE(rejected_kept);
  EXPECT_FALSE(rejected_error);
  EXPECT_TRUE(kept_kept);
  EXPECT_FALSE(kept_error);
  EXPECT_EQ(store_->writer_stats().last_batch_size, 2u);
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_organization("rejected"); }));
  EXPECT_TRUE(read([](Tx& tx) { return tx.find_organization("kept"); }));
}

// What the ops of one batch read of a consultation and its participants (the SQLite writer
// remembers it for the rest of the batch): each op sees what the ops before it kept, and
// nothing of what a rolled-back op did.
TEST_P(StoreContract, OpsOfOneBatchSeeTheConsultationAsTheOpsBeforeThemLeftIt) {
  seed_directory();
  const auto original = make_consultation("c-0001", ConsultationState::in_session);
  ASSERT_TRUE(write([&](Tx& tx) {
    return tx.insert_consultation(original) &&
           tx.add_participant("c-0001", {"clin", ParticipantKind::requester, 0});
  }));
  struct Seen {
    std::optional<Consultation> consultation;
    std::vector<Participant> participants;
  };
  std::vector<Seen> seen;
  const auto look = [&seen](Tx& tx) {
    seen.push_back({tx.find_consultation("c-0001", SealedTexts::skip),
                    tx.list_participants("c-0001")});
    return true;
  };
  std::vector<Completion> done(7);
  auto release = hold_writer(*store_);
  store_->write_async(look, done[0].callback());
  store_->write_async(
      [&](Tx& tx) {  // changes and reads both, then is rolled back
        auto changed = original;
        changed.state = ConsultationState::closed;
        tx.update_consultation(changed);
        tx.add_participant("c-0001", {"spec1", ParticipantKind::specialist, 0});
        look(tx);
        return false;
      },
      done[1].callback());
  store_->write_async(look, done[2].callback());
  store_->write_async(
      [](Tx& tx) { return tx.add_participant("c-0001", {"spec1", ParticipantKind::specialist, 0}); },
      done[3].callback());
  store_->write_async(look, done[4].callback());
  store_->write_async(
      [](Tx& tx) {  // what a post and an acknowledgement write
        tx.set_consultation_last_seq("c-0001", 9, at(9));
        return tx.advance_read_seq("c-0001", "clin", 9);
      },
      done[5].callback());
  store_->write_async(look, done[6].callback());
  release();
  for (auto& completion : done) {
    const auto [kept, error] = completion.promise.get_future().get();
    EXPECT_FALSE(error);
  }
  EXPECT_EQ(store_->writer_stats().last_batch_size, 7u);

  ASSERT_EQ(seen.size(), 5u);
  for (const auto& each : seen) ASSERT_TRUE(each.consultation.has_value());
  EXPECT_EQ(seen[0].consultation->state, ConsultationState::in_session);
  EXPECT_EQ(seen[0].participants.size(), 1u);
  EXPECT_EQ(seen[1].consultation->state, ConsultationState::closed);  // inside the rolled-back op
  EXPECT_EQ(seen[1].participants.size(), 2u);
  EXPECT_EQ(seen[2].consultation->state, ConsultationState::in_session);  // and after it
  EXPECT_EQ(seen[2].participants.size(), 1u);
  EXPECT_EQ(seen[3].participants.size(), 2u);  // a participant added by a kept op
  EXPECT_EQ(seen[3].consultation->last_seq, original.last_seq);
  EXPECT_EQ(seen[4].consultation->last_seq, 9);
  EXPECT_EQ(seen[4].consultation->updated_at, at(9));
  ASSERT_EQ(seen[4].participants.size(), 2u);
  EXPECT_EQ(seen[4].participants[0].user_id, "clin");
  EXPECT_EQ(seen[4].participants[0].read_seq, 9);
  EXPECT_EQ(seen[4].participants[1].read_seq, 0);
}

TEST_P(StoreContract, ThrowingOpFailsOnlyItsCaller) {
  auto release = hold_writer(*store_);
  Completion thrower;
  Completion bystander;
  store_->write_async(
      [](Tx& tx) -> bool {
        tx.insert_organization(make_org("thrower", OrganizationKind::county_hospital));
        throw std::logic_error("domain bug");
      },
      thrower.callback());
  store_->write_async(
      [](Tx& tx) {
        return tx.insert_organization(make_org("bystander", OrganizationKind::county_hospital));
      },
      bystander.callback());
  release();

  const auto [thrower_kept, thrower_error] = thrower.promise.get_future().get();
  const auto [bystander_kept, bystander_error] = bystander.promise.get_future().get();
  EXPECT_FALSE(thrower_kept);
  ASSERT_TRUE(thrower_error);
  EXPECT_THROW(std::rethrow_exception(thrower_error), std::logic_error);
  EXPECT_TRUE(bystander_kept);
  EXPECT_FALSE(bystander_error);
  EXPECT_EQ(store_->writer_stats().last_batch_size, 2u);
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_organization("thrower"); }));
  EXPECT_TRUE(read([](Tx& tx) { return tx.find_organization("bystander"); }));

  // The blocking form rethrows to its caller.
  EXPECT_THROW(store_->write([](Tx&) -> bool { throw std::logic_error("again"); }),
               std::logic_error);
}

TEST_P(StoreContract, ConcurrentWritersAllLandInSharedBatches) {
  constexpr int threads = 16;
  constexpr int ops_per_thread = 200;
  const auto before = store_->writer_stats();
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < ops_per_thread; ++i) {
        const auto id = "org-" + std::to_string(t) + "-" + std::to_string(i);
        if (!write([&](Tx& tx) {
              return tx.insert_organization(make_org(id, OrganizationKind::county_hospital));
            })) {
          ++refused;
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();

  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(read([](Tx& tx) { return tx.list_organizations(); }).size(),
            static_cast<std::size_t>(threads * ops_per_thread));
  const auto after = store_->writer_stats();
  const auto ops = after.ops_committed - before.ops_committed;
  const auto batches = after.batches_committed - before.batches_committed;
  EXPECT_EQ(ops, static_cast<std::uint64_t>(threads * ops_per_thread));
  EXPECT_GT(batches, 0u);
  EXPECT_LT(batches, ops);  // some batches carried more than one op
  EXPECT_EQ(after.batches_failed, before.batches_failed);
}

TEST_P(StoreContract, DataSurvivesCloseAndReopen) {
  seed_directory();
  ASSERT_TRUE(write([](Tx& tx) {
    tx.insert_consultation(make_consultation("c-0001"));
    tx.append_log(LogRecord{"c-0001", 1, "clin", "m1", at(5), "sealed"});
    return true;
  }));
  const auto version = store_->schema_version();
  reopen();
  EXPECT_EQ(store_->schema_version(), version);
  EXPECT_EQ(read([](Tx& tx) { return tx.list_organizations(); }).size(), 3u);
  auto user = read([](Tx& tx) { return tx.find_user("spec2"); });
  ASSERT_TRUE(user);
  EXPECT_EQ(fields(*user),
            fields(make_user("spec2", Role::specialist, "partner", {"cardiology", "dermatology"})));
  auto found = read([](Tx& tx) { return tx.find_consultation("c-0001", SealedTexts::read); });
  ASSERT_TRUE(found);
  EXPECT_EQ(fields(*found), fields(make_consultation("c-0001")));
  EXPECT_EQ(read([](Tx& tx) { return tx.list_log("c-0001", 0, 10); }).size(), 1u);
}

TEST_P(StoreContract, PendingAsyncWritesAreDrainedOnClose) {
  std::atomic<int> completed{0};
  for (int i = 0; i < 50; ++i) {
    store_->write_async(
        [i](Tx& tx) {
          return tx.insert_organization(
              make_org("o-" + std::to_string(i), OrganizationKind::county_hospital));
        },
        [&](bool kept, std::exception_ptr error) {
          if (kept && !error) ++completed;
        });
  }
  reopen();  // destroying the store waits for the queued ops
  EXPECT_EQ(completed.load(), 50);
  EXPECT_EQ(read([](Tx& tx) { return tx.list_organizations(); }).size(), 50u);
}

TEST_P(StoreContract, AuditSearchFindsRecordsByActorPatientAndTimeInPages) {
  constexpr std::int64_t records = 40;
  audit_search::append(*store_, 0, records);
  for (const auto& filter : audit_search::filters()) {
    SCOPED_TRACE("actor '" + filter.actor_id + "' patient '" + filter.patient_reference + "'");
    EXPECT_EQ(audit_search::search(*store_, filter), audit_search::expected(records, filter));
  }
}

TEST_P(StoreContract, TheAuditFrontierIsOneRowReplacedByEachSaveAndKeptAcrossReopening) {
  EXPECT_FALSE(read([](Tx& tx) { return tx.find_audit_frontier(); }).has_value());
  const std::string bytes_with_nul("\x00\x01\xff subtrees", 13);
  ASSERT_TRUE(store_->write([&](Tx& tx) {
    tx.save_audit_frontier({3, bytes_with_nul});
    return true;
  }));
  ASSERT_TRUE(store_->write([](Tx& tx) {
    tx.save_audit_frontier({7, std::string(96, 'x')});
    return true;
  }));
  reopen();
  const auto frontier = read([](Tx& tx) { return tx.find_audit_frontier(); });
  ASSERT_TRUE(frontier.has_value());
  EXPECT_EQ(frontier->tree_size, 7);
  EXPECT_EQ(frontier->subtrees, std::string(96, 'x'));
  ASSERT_TRUE(store_->write([&](Tx& tx) {
    tx.save_audit_frontier({8, bytes_with_nul});
    return true;
  }));
  EXPECT_EQ(read([](Tx& tx) { return tx.find_audit_frontier(); })->subtrees, bytes_with_nul);
}

}  // namespace tmc::store::testing

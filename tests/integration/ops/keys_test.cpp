// Key rotation and retirement on a stopped server: everything still decrypts, old key unused.
#include <chrono>
#include <set>

#include "app/data_dir.hpp"
#include "crypto/keyring.hpp"
#include "crypto/totp.hpp"
#include "domain/auth_service.hpp"
#include "keys.hpp"
#include "ops_support.hpp"

namespace tmc::testing::ops {
namespace {

std::set<std::string> key_ids_in_use(store::Store& store) {
  std::set<std::string> ids;
  store.read([&](store::Tx& tx) {
    for (const auto& row : tx.list_wrapped_keys()) {
      ids.insert(crypto::KeyRing::key_id_of(row.wrapped_key));
    }
  });
  return ids;
}

TEST(KeyRotation, RotateThenRetireKeepsEveryConsultationAndFileReadable) {
  TestServer server;
  const app::DataDir data_dir(server.data_dir() / "data");
  std::string id, file_id;
  const auto data = files::random_data(300 * 1024, 7);
  {
    auto clinician = server.login("bachu.clinician");
    auto specialist = server.login("shanghai.ortho");
    id = open_accepted_consultation(*clinician, *specialist, "Fasciotomy now?");
    for (int i = 0; i < 5; ++i) {
      const auto posted =
          clinician->call(post_frame(id, "k-" + std::to_string(i), "note " + std::to_string(i)));
      ASSERT_EQ(posted.status().code(), v1::OK);
    }
    const auto finished = files::upload(*clinician, "ct.dcm", data, id);
    ASSERT_EQ(finished.status().code(), v1::OK) << finished.status().message();
    file_id = finished.case_file().id();
    // An unfinished upload holds a wrapped key too.
    const auto begun = clinician->call(files::begin_frame("half.dcm", 1000, std::string(32, 'x')));
    ASSERT_EQ(begun.status().code(), v1::OK) << begun.status().message();
  }
  server.stop();  // rotation is done with the server stopped (docs/operations.md)

  const auto old_key = crypto::KeyRing::load(data_dir.key_file()).active_key_id();
  {
    auto store = server.open_store();
    ASSERT_EQ(key_ids_in_use(*store), std::set<std::string>{old_key});
    // Not while data depends on it, and never the active key.
    EXPECT_THROW(admin::retire_key(data_dir.key_file(), *store, old_key), std::runtime_error);

    const auto rotation = admin::rotate_keys(data_dir.key_file(), *store);
    EXPECT_EQ(rotation.previous_key_id, old_key);
    EXPECT_NE(rotation.new_key_id, old_key);
    EXPECT_GE(rotation.rewrap.rewrapped, 3u);  // consultation, case file, upload
    EXPECT_EQ(rotation.rewrap.already_current, 0u);
    EXPECT_EQ(key_ids_in_use(*store), std::set<std::string>{rotation.new_key_id});
    EXPECT_EQ(admin::rewrap_all(data_dir.key_file(), *store).rewrapped, 0u);  // idempotent

    for (const auto& usage : admin::key_usage(data_dir.key_file(), *store)) {
      EXPECT_EQ(usage.wrapped_keys, usage.key_id == old_key ? 0u : rotation.rewrap.rewrapped);
    }
    EXPECT_THROW(admin::retire_key(data_dir.key_file(), *store, rotation.new_key_id),
                 std::runtime_error);
    admin::retire_key(data_dir.key_file(), *store, old_key);
  }
  const auto ring = crypto::KeyRing::load(data_dir.key_file());
  EXPECT_FALSE(ring.has_key(old_key));
  EXPECT_EQ(ring.key_ids().size(), 1u);

  server.restart();
  auto reader = server.login("shanghai.ortho");
  const auto got = reader->call(get_frame(id));
  ASSERT_EQ(got.status().code(), v1::OK) << got.status().message();
  EXPECT_EQ(got.consultation().question(), "Fasciotomy now?");
  std::vector<std::string> texts;  // the log also records the file share
  for (const auto& entry : full_log(*reader, id)) {
    if (entry.body().has_text()) texts.push_back(entry.body().text());
  }
  ASSERT_EQ(texts.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(texts[i], "note " + std::to_string(i));
  EXPECT_EQ(files::download(*reader, file_id, data.size()), data);
}

// TOTP secrets are wrapped by the same keys: rotation rewraps them, and retiring the old key
// leaves second-factor sign-in working.
TEST(KeyRotation, RotateThenRetireKeepsSecondFactorsWorking) {
  TestServer server([](app::Config& config) { config.totp_required_roles = {store::Role::admin}; });
  const app::DataDir data_dir(server.data_dir() / "data");
  std::string secret;
  {
    const auto keys = data_dir.load_key_ring();
    auto store = server.open_store();
    SystemClock clock;
    domain::NullAuditHook audit;
    domain::AuthService auth(*store, clock, audit, {}, &keys);
    const auto enrolled = auth.enroll_totp("admin");
    ASSERT_TRUE(enrolled);
    secret = enrolled->secret;
  }
  server.stop();
  const auto old_key = crypto::KeyRing::load(data_dir.key_file()).active_key_id();
  {
    auto store = server.open_store();
    ASSERT_EQ(key_ids_in_use(*store), std::set<std::string>{old_key});  // the secret's key
    const auto rotation = admin::rotate_keys(data_dir.key_file(), *store);
    EXPECT_EQ(key_ids_in_use(*store), std::set<std::string>{rotation.new_key_id});
    admin::retire_key(data_dir.key_file(), *store, old_key);
  }
  server.restart();
  const auto code_now = [&] {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return crypto::totp_code(secret, std::chrono::duration_cast<std::chrono::seconds>(now).count());
  };
  auto client = server.connect();
  auto signed_in = client->login("admin", server.password("admin"), code_now());
  if (signed_in.status().code() != v1::OK) {  // the step turned between reading and checking
    signed_in = client->login("admin", server.password("admin"), code_now());
  }
  EXPECT_EQ(signed_in.status().code(), v1::OK) << signed_in.status().message();
}

}  // namespace
}  // namespace tmc::testing::ops

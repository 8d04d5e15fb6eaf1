// tmc-admin on a PostgreSQL store: init and demo seed the database, keys stay in the data
// directory, SQLite-only commands refuse.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

#include "app/data_dir.hpp"
#include "ops_support.hpp"
#include "postgres_test_schema.hpp"

namespace tmc::testing::ops {
namespace {

namespace fs = std::filesystem;

const std::string admin_binary = std::string(TMC_BINARY_DIR) + "/server/admin/tmc-admin";

class AdminOnPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      schema_.emplace("blob_admin_");
    } catch (const PostgresUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
    store_uri_ = schema_->conninfo_in_schema();
    data_dir_ = scratch_.path() / "data";
  }

  // tmc-admin --data-dir D --store URI <arguments> (the URI quoted for the shell).
  CommandResult admin(const std::string& arguments) {
    return run_command(admin_binary + " --data-dir '" + data_dir_.string() + "' --store '" +
                           store_uri_ + "' --scrypt-log2n 10 " + arguments,
                       scratch_.path());
  }

  TempDir scratch_;
  std::optional<PostgresTestSchema> schema_;
  std::string store_uri_;
  fs::path data_dir_;
};

// "login <username> <password> <role> <org>" lines of `tmc-admin demo`.
struct Login {
  std::string username, role, organization_id;
};

std::vector<Login> demo_logins(const std::string& out) {
  std::vector<Login> logins;
  std::istringstream lines(out);
  std::string word, password;
  while (lines >> word) {
    if (word != "login") continue;
    Login login;
    lines >> login.username >> password >> login.role >> login.organization_id;
    logins.push_back(login);
  }
  return logins;
}

std::string role_name(store::Role role) {
  switch (role) {
    case store::Role::clinician:
      return "clinician";
    case store::Role::specialist:
      return "specialist";
    case store::Role::coordinator:
      return "coordinator";
    case store::Role::admin:
      return "admin";
    default:
      return "?";
  }
}

TEST_F(AdminOnPostgres, InitAndDemoSeedTheDatabaseAndKeepKeysInTheDataDirectory) {
  const auto init = admin("init");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_TRUE(fs::exists(data_dir_ / "kek.keys"));
  EXPECT_TRUE(fs::exists(data_dir_ / "audit.key"));
  EXPECT_FALSE(fs::exists(data_dir_ / "tmc.db"));
  EXPECT_EQ(init.out.find(store_uri_), std::string::npos) << "the store URI was printed";

  const auto demo = admin("demo");
  ASSERT_EQ(demo.exit_code, 0) << demo.err;
  const auto logins = demo_logins(demo.out);
  ASSERT_GE(logins.size(), 3u) << demo.out;
  EXPECT_FALSE(fs::exists(data_dir_ / "tmc.db"));

  // Read back through the store the server would open.
  const auto store = app::DataDir(data_dir_).open_store(store_uri_);
  store->read([&](store::Tx& tx) {
    for (const auto& login : logins) {
      const auto user = tx.find_user_by_username(login.username);
      ASSERT_TRUE(user) << login.username;
      EXPECT_EQ(role_name(user->role), login.role) << login.username;
      EXPECT_EQ(user->organization_id, login.organization_id) << login.username;
      EXPECT_FALSE(user->disabled) << login.username;
    }
  });

  // TMC_STORE stands in for --store, as for tmc-server.
  const std::string user = logins.front().username;
  ::setenv("TMC_STORE", store_uri_.c_str(), 1);
  const auto disabled =
      run_command(admin_binary + " --data-dir '" + data_dir_.string() + "' user disable " + user,
                  scratch_.path());
  ::unsetenv("TMC_STORE");
  ASSERT_EQ(disabled.exit_code, 0) << disabled.err;
  store->read([&](store::Tx& tx) {
    const auto found = tx.find_user_by_username(user);
    ASSERT_TRUE(found);
    EXPECT_TRUE(found->disabled);
  });
  EXPECT_FALSE(fs::exists(data_dir_ / "tmc.db"));
}

// A second node's data directory initialised against a database in use would get keys that
// unwrap none of its data: init refuses and says to copy the deployment's keys.
TEST_F(AdminOnPostgres, InitRefusesADatabaseThatAnotherNodeUses) {
  ASSERT_EQ(admin("init").exit_code, 0);
  ASSERT_EQ(admin("demo").exit_code, 0);
  const auto first = data_dir_;
  data_dir_ = scratch_.path() / "second";
  const auto again = admin("init");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("copy kek.keys and audit.key"), std::string::npos) << again.err;
  EXPECT_FALSE(fs::exists(data_dir_ / "kek.keys"));
  EXPECT_FALSE(fs::exists(data_dir_ / "audit.key"));
  EXPECT_TRUE(fs::exists(first / "kek.keys"));
}

TEST_F(AdminOnPostgres, SqliteOnlyCommandsRefuse) {
  ASSERT_EQ(admin("init").exit_code, 0);
  const auto backup = admin("backup --out '" + (scratch_.path() / "backup").string() + "'");
  EXPECT_NE(backup.exit_code, 0);
  EXPECT_NE(backup.err.find("SQLite store only"), std::string::npos) << backup.err;
  EXPECT_FALSE(fs::exists(scratch_.path() / "backup"));

  const auto restore = admin("restore --from '" + (scratch_.path() / "backup").string() +
                             "' --key-file '" + (data_dir_ / "kek.keys").string() +
                             "' --data-dir '" + (scratch_.path() / "restored").string() + "'");
  EXPECT_NE(restore.exit_code, 0);
  EXPECT_NE(restore.err.find("SQLite store only"), std::string::npos) << restore.err;
  EXPECT_FALSE(fs::exists(scratch_.path() / "restored"));
}

TEST_F(AdminOnPostgres, RejectsAStoreThatIsNeitherSqliteNorPostgres) {
  const auto result = run_command(
      admin_binary + " --data-dir '" + data_dir_.string() + "' --store 'mysql://secret@db' init",
      scratch_.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("invalid --store"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("secret"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(data_dir_ / "kek.keys"));
}

}  // namespace
}  // namespace tmc::testing::ops

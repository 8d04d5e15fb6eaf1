// The store's SQLite library settings, in a test executable of its own: they apply only if the
// store's first SQLite call in the process comes before any other, so no other test may run in
// this process first (ctest runs each test in its own process; running this binary by hand
// runs only this test).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "store/sqlite/sqlite_store.hpp"

namespace tmc::store::testing {
namespace {

// SQLite's allocation wrappers take a process-wide mutex around every malloc and free while it
// keeps statistics of its memory use; the store turns them off before SQLite initialises. Any
// SQLite call made first (sqlite3_vfs_find is one) would initialise it with statistics on.
TEST(SqliteLibrary, StoreOpensWithoutSqliteMemoryStatistics) {
  ASSERT_EQ(sqlite3_memory_used(), 0) << "SQLite counted memory before the store opened";
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tmc-sqlite-library-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    SqliteOptions options;
    options.path = (dir / "tmc.db").string();
    auto store = open_sqlite_store(options);
    ASSERT_TRUE(store->write([](Tx& tx) {
      return tx.insert_organization(Organization{"org-1", "Hospital 1",
                                                 OrganizationKind::county_hospital, "Region",
                                                 "Asia/Urumqi"});
    }));
    EXPECT_EQ(sqlite3_memory_used(), 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace tmc::store::testing

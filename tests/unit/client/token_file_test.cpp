// The session token file is owner-only, replaced on login and removable.
#include "cli/token_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tmc::cli {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tmc-token-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TokenFileTest, CreatesOwnerOnlyFileAndDirectories) {
  const fs::path path = dir_ / "config" / "tmc" / "session.token";
  ASSERT_TRUE(write_token(path, "tok-123"));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(dir_ / "config"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "config" / "tmc"), 0700u);
  auto token = read_token(path);
  ASSERT_TRUE(token);
  EXPECT_EQ(*token, "tok-123");
}

TEST_F(TokenFileTest, ReplacesContentAndTightensAnExistingFile) {
  const fs::path path = dir_ / "session.token";
  { std::ofstream(path) << "an-old-and-much-longer-token\n"; }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(write_token(path, "new"));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(*read_token(path), "new");
}

TEST_F(TokenFileTest, DoesNotFollowSymbolicLinks) {
  const fs::path target = dir_ / "elsewhere";
  { std::ofstream(target) << "precious\n"; }
  const fs::path link = dir_ / "session.token";
  fs::create_symlink(target, link);
  EXPECT_FALSE(write_token(link, "tok"));
  EXPECT_EQ(*read_token(target), "precious");
}

TEST_F(TokenFileTest, ReportsMissingAndEmptyFiles) {
  const fs::path path = dir_ / "session.token";
  auto missing = read_token(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), boost::system::errc::no_such_file_or_directory);

  { std::ofstream(path) << " \n"; }
  auto empty = read_token(path);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), boost::system::errc::invalid_argument);
}

TEST_F(TokenFileTest, RemoveDeletesAndToleratesMissingFile) {
  const fs::path path = dir_ / "session.token";
  ASSERT_TRUE(write_token(path, "tok"));
  EXPECT_TRUE(remove_token(path));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(remove_token(path));
}

}  // namespace
}  // namespace tmc::cli

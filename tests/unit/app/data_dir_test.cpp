// Data directory initialisation: key file custody and refusal to overwrite a deployment.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "app/data_dir.hpp"

namespace tmc::app {
namespace {

std::filesystem::path fresh_dir(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             (std::string("tmc-datadir-") + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(DataDir, InitialiseCreatesPrivateKeyFileAndDatabase) {
  const DataDir dir(fresh_dir("init"));
  dir.initialize();
  struct stat info {};
  ASSERT_EQ(::stat(dir.key_file().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(dir.root().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.database()));
  EXPECT_GE(dir.open_store()->schema_version(), 1);
  EXPECT_NO_THROW(dir.load_key_ring());
  std::filesystem::remove_all(dir.root());
}

TEST(DataDir, RefusesToOverwriteAnExistingDeployment) {
  const DataDir dir(fresh_dir("twice"));
  dir.initialize();
  const auto before = dir.load_key_ring().active_key_id();
  EXPECT_THROW(dir.initialize(), std::runtime_error);
  EXPECT_EQ(dir.load_key_ring().active_key_id(), before);
  std::filesystem::remove_all(dir.root());
}

TEST(DataDir, MissingDeploymentIsExplained) {
  const DataDir dir(fresh_dir("missing"));
  try {
    dir.load_key_ring();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("tmc-admin"), std::string::npos);
  }
}

}  // namespace
}  // namespace tmc::app

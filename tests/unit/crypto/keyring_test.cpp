// Key ring: key file creation and loading, permission checks, wrapping and rotation.
#include "crypto/keyring.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/encoding.hpp"

namespace tmc::crypto {
namespace {

namespace fs = std::filesystem;

// A unique directory under $TMPDIR (or /tmp), removed with its contents afterwards.
class KeyRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = (fs::path(tmp && *tmp ? tmp : "/tmp") / "tmc-keyring-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  fs::path path(const std::string& name = "kek.keys") const { return directory_ / name; }

  static std::string read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream contents;
    contents << in.rdbuf();
    return contents.str();
  }

  static void write(const fs::path& file, const std::string& contents, mode_t mode = 0600) {
    std::ofstream(file) << contents;
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
  }

  static mode_t mode_of(const fs::path& file) {
    struct stat status {};
    EXPECT_EQ(::stat(file.c_str(), &status), 0);
    return status.st_mode & 07777;
  }

  // Expects load() to throw a message naming the file and containing needle.
  void expect_load_refused(const fs::path& file, const std::string& needle) const {
    try {
      static_cast<void>(KeyRing::load(file));
      ADD_FAILURE() << "load accepted " << file;
    } catch (const std::runtime_error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(file.string()), std::string::npos) << message;
      EXPECT_NE(message.find(needle), std::string::npos) << message;
    }
  }

  fs::path directory_;
};

const std::string key_a(64, 'a');
const std::string key_b(64, 'b');

TEST_F(KeyRingTest, CreateWritesMode0600AndLoadReadsTheSameKeys) {
  const KeyRing created = KeyRing::create(path());
  EXPECT_EQ(mode_of(path()), 0600u);
  ASSERT_EQ(created.key_ids().size(), 1u);
  EXPECT_EQ(created.key_ids().front(), created.active_key_id());

  const std::string data_key = KeyRing::new_data_key();
  EXPECT_EQ(data_key.size(), 32u);
  const std::string wrapped = created.wrap(data_key);
  const KeyRing loaded = KeyRing::load(path());
  EXPECT_EQ(loaded.active_key_id(), created.active_key_id());
  EXPECT_EQ(loaded.unwrap(wrapped), data_key);
}

TEST_F(KeyRingTest, CreateRefusesAnExistingFile) {
  write(path(), "precious");
  EXPECT_THROW(static_cast<void>(KeyRing::create(path())), std::runtime_error);
  EXPECT_EQ(read(path()), "precious");
}

TEST_F(KeyRingTest, LoadRefusesGroupOrOtherAccess) {
  static_cast<void>(KeyRing::create(path()));
  for (const mode_t mode : {0644, 0640, 0604, 0660, 0601}) {
    ASSERT_EQ(::chmod(path().c_str(), mode), 0);
    expect_load_refused(path(), "group or others");
  }
  ASSERT_EQ(::chmod(path().c_str(), 0400), 0);
  EXPECT_NO_THROW(static_cast<void>(KeyRing::load(path())));
}

TEST_F(KeyRingTest, LoadRefusesMissingAndMalformedFiles) {
  expect_load_refused(path("absent.keys"), "could not be opened");
  expect_load_refused(directory_, "not a regular file");

  const std::string header = "tmc-keyring 1\n";
  const std::string good_line = "kek k1 " + key_a + "\n";
  const struct {
    const char* name;
    std::string contents;
  } cases[] = {
      {"empty", ""},
      {"no-header", good_line + "active k1\n"},
      {"wrong-version", "tmc-keyring 2\n" + good_line + "active k1\n"},
      {"no-active", header + good_line},
      {"unknown-active", header + good_line + "active k2\n"},
      {"two-active", header + good_line + "kek k2 " + key_b + "\nactive k1\nactive k2\n"},
      {"short-key", header + "kek k1 " + key_a.substr(2) + "\nactive k1\n"},
      {"non-hex-key", header + "kek k1 " + std::string(64, 'z') + "\nactive k1\n"},
      {"bad-id", header + "kek k$1 " + key_a + "\nactive k$1\n"},
      {"duplicate-id", header + good_line + good_line + "active k1\n"},
      {"extra-field", header + "kek k1 " + key_a + " extra\nactive k1\n"},
      {"unknown-entry", header + good_line + "active k1\nfoo bar\n"},
  };
  for (const auto& test_case : cases) {
    SCOPED_TRACE(test_case.name);
    write(path(test_case.name), test_case.contents);
    expect_load_refused(path(test_case.name), "key file");
  }
}

TEST_F(KeyRingTest, ErrorMessagesNeverContainKeyMaterial) {
  write(path(), "tmc-keyring 1\nkek k1 " + key_a + "\nkek k1 " + key_b + "\nactive k1\n");
  try {
    static_cast<void>(KeyRing::load(path()));
    FAIL() << "duplicate id accepted";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find("aaaa"), std::string::npos) << message;
    EXPECT_EQ(message.find("bbbb"), std::string::npos) << message;
  }
}

TEST_F(KeyRingTest, LoadsAHandWrittenFileWithCommentsAndBlankLines) {
  write(path(), "# comment\n\ntmc-keyring 1\r\n  kek old " + key_a + "\n\tkek new " + key_b +
                    "\n# another\nactive new\n");
  const KeyRing ring = KeyRing::load(path());
  EXPECT_EQ(ring.active_key_id(), "new");
  EXPECT_EQ(ring.key_ids(), (std::vector<std::string>{"new", "old"}));
  EXPECT_EQ(KeyRing::key_id_of(ring.wrap("data key")), "new");
}

TEST_F(KeyRingTest, WrappedKeysAreSelfDescribingAndTamperEvident) {
  const KeyRing ring = KeyRing::generate();
  const std::string data_key = KeyRing::new_data_key();
  const std::string wrapped = ring.wrap(data_key);
  EXPECT_EQ(KeyRing::key_id_of(wrapped), ring.active_key_id());
  EXPECT_EQ(wrapped.find(hex_encode(data_key)), std::string::npos);
  EXPECT_NE(ring.wrap(data_key), wrapped);  // fresh nonce
  EXPECT_EQ(ring.unwrap(wrapped), data_key);

  for (std::size_t i = 0; i < wrapped.size(); ++i) {
    std::string tampered = wrapped;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    ASSERT_FALSE(ring.unwrap(tampered)) << i;
  }
  EXPECT_FALSE(ring.unwrap(""));
  EXPECT_FALSE(ring.unwrap("kek1$"));
  EXPECT_FALSE(ring.unwrap(wrapped.substr(0, wrapped.size() - 1)));
  EXPECT_EQ(KeyRing::key_id_of("nonsense"), "");

  const KeyRing other = KeyRing::generate();
  EXPECT_FALSE(other.unwrap(wrapped));  // unknown key id
}

TEST_F(KeyRingTest, RotationKeepsOldDataReadableUntilTheOldKeyIsRetired) {
  KeyRing ring = KeyRing::create(path());
  const std::string old_id = ring.active_key_id();
  const std::string data_key = KeyRing::new_data_key();
  const std::string old_wrapped = ring.wrap(data_key);

  const std::string new_id = ring.add_key_and_activate();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(ring.active_key_id(), new_id);
  EXPECT_EQ(ring.key_ids().size(), 2u);
  EXPECT_EQ(ring.unwrap(old_wrapped), data_key);
  const std::string new_wrapped = ring.wrap(data_key);
  EXPECT_EQ(KeyRing::key_id_of(new_wrapped), new_id);
  const auto rewrapped = ring.rewrap(old_wrapped);
  ASSERT_TRUE(rewrapped);
  EXPECT_EQ(KeyRing::key_id_of(*rewrapped), new_id);

  // Persist the rotation and read it back.
  ring.save(path());
  EXPECT_EQ(mode_of(path()), 0600u);
  KeyRing reloaded = KeyRing::load(path());
  EXPECT_EQ(reloaded.active_key_id(), new_id);
  EXPECT_EQ(reloaded.unwrap(old_wrapped), data_key);

  // The active key cannot be retired; an unknown one is reported as such.
  EXPECT_EQ(reloaded.retire(new_id).error().code, Code::failed_precondition);
  EXPECT_EQ(reloaded.retire("no-such-key").error().code, Code::not_found);

  ASSERT_TRUE(reloaded.retire(old_id));
  EXPECT_FALSE(reloaded.unwrap(old_wrapped));
  EXPECT_EQ(reloaded.unwrap(new_wrapped), data_key);
  EXPECT_EQ(reloaded.unwrap(*rewrapped), data_key);
  EXPECT_EQ(reloaded.key_ids(), std::vector<std::string>{new_id});

  reloaded.save(path());
  EXPECT_FALSE(KeyRing::load(path()).unwrap(old_wrapped));
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(directory_), fs::directory_iterator()), 1);
}

TEST_F(KeyRingTest, SaveReplacesAFileWithLooserModeWith0600) {
  write(path(), "old contents", 0644);
  const KeyRing ring = KeyRing::generate();
  ring.save(path());
  EXPECT_EQ(mode_of(path()), 0600u);
  EXPECT_EQ(KeyRing::load(path()).active_key_id(), ring.active_key_id());
}

TEST_F(KeyRingTest, MovedRingKeepsItsKeys) {
  KeyRing ring = KeyRing::generate();
  const std::string wrapped = ring.wrap("k");
  KeyRing moved = std::move(ring);
  EXPECT_EQ(moved.unwrap(wrapped), "k");
}

}  // namespace
}  // namespace tmc::crypto

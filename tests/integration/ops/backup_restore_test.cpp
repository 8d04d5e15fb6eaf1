// Online backup during a chat load, restored into a fresh directory: nothing acknowledged lost.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "app/data_dir.hpp"
#include "backup.hpp"
#include "ops_support.hpp"

namespace tmc::testing::ops {
namespace {

namespace fs = std::filesystem;

// Posts messages one after the other and remembers each acknowledged one (seq -> text).
class ChatLoad {
 public:
  ChatLoad(client::BlockingClient& client, std::string consultation_id)
      : client_(client), id_(std::move(consultation_id)) {
    thread_ = std::thread([this] { run(); });
  }
  ~ChatLoad() { stop(); }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Blocks until at least count messages are acknowledged (or the deadline passes).
  bool wait_for(std::size_t count, std::chrono::seconds deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] { return acked_.size() >= count || failed_; }) &&
           !failed_;
  }
  std::map<std::uint64_t, std::string> acked() const {
    std::lock_guard lock(mutex_);
    return acked_;
  }

 private:
  void run() {
    for (int i = 0; !stopping_; ++i) {
      const auto text = "load message " + std::to_string(i);
      const auto response = client_.call(post_frame(id_, "load-" + std::to_string(i), text));
      std::lock_guard lock(mutex_);
      if (response.status().code() != v1::OK) {
        failed_ = true;
      } else {
        acked_[response.post_message().seq()] = text;
      }
      changed_.notify_all();
      if (failed_) return;
    }
  }

  client::BlockingClient& client_;
  std::string id_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, std::string> acked_;
  bool failed_ = false;
  std::thread thread_;
};

// A live server with a consultation Bachu's clinician opened and Shanghai's orthopedist
// accepted (both still signed in), and a scratch directory for backups and restores.
class BackupRestore : public ::testing::Test {
 protected:
  std::string open_consultation(const std::string& question) {
    clinician_ = server.login("bachu.clinician");
    specialist_ = server.login("shanghai.ortho");
    return open_accepted_consultation(*clinician_, *specialist_, question);
  }

  TestServer server;
  TempDir scratch;
  std::unique_ptr<client::BlockingClient> clinician_;
  std::unique_ptr<client::BlockingClient> specialist_;
};

TEST_F(BackupRestore, BackupDuringChatLoadRestoresEveryAcknowledgedMessageAndFile) {
  const auto id = open_consultation("Save the leg?");

  const auto data = files::random_data(700 * 1024, 42);  // several chunks
  const auto finished = files::upload(*clinician_, "tibia.dcm", data, id);
  ASSERT_EQ(finished.status().code(), v1::OK) << finished.status().message();
  const auto file_id = finished.case_file().id();

  ChatLoad load(*clinician_, id);
  ASSERT_TRUE(load.wait_for(20, 30s));
  const auto acked_before_backup = load.acked();

  const app::DataDir live(server.data_dir() / "data");
  const auto backup_dir = scratch.path() / "backup";
  {
    auto store = live.open_store();  // like tmc-admin: a second connection beside the server
    const auto summary = admin::backup(live, *store, backup_dir);
    EXPECT_GE(summary.blob_files, 1u);
    EXPECT_GE(summary.wrapped_keys, 2u);  // the consultation and the file
    ASSERT_EQ(summary.key_ids.size(), 1u);
  }
  const auto acked_after_backup = load.acked();
  ASSERT_TRUE(load.wait_for(acked_after_backup.size() + 5, 30s));  // the server kept serving
  load.stop();

  EXPECT_FALSE(fs::exists(backup_dir / "kek.keys"));
  EXPECT_FALSE(fs::exists(backup_dir / "audit.key"));
  EXPECT_TRUE(fs::exists(backup_dir / "MANIFEST"));

  // Restore needs the key file, kept apart from the backup.
  admin::RestoreOptions options;
  options.from = backup_dir;
  options.data_dir = scratch.path() / "restored";
  EXPECT_THROW(admin::restore(options), std::runtime_error);
  EXPECT_FALSE(fs::exists(options.data_dir));
  options.key_file = live.key_file();
  options.audit_key_file = live.audit_key_file();
  const auto restored = admin::restore(options);
  EXPECT_TRUE(restored.audit_key_restored);
  EXPECT_GE(restored.wrapped_keys, 2u);

  ServerOnDir copy(options.data_dir);
  auto reader = copy.login(server, "bachu.clinician");
  const auto log = full_log(*reader, id);
  std::map<std::uint64_t, std::string> restored_texts;
  for (const auto& entry : log) restored_texts[entry.seq()] = entry.body().text();
  for (const auto& [seq, text] : acked_before_backup) {
    ASSERT_TRUE(restored_texts.count(seq)) << "acknowledged message " << seq << " lost";
    EXPECT_EQ(restored_texts[seq], text);
  }
  // Gap-free: the restored log is a prefix of what the live server holds.
  for (std::size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].seq(), i + 1);
  EXPECT_EQ(files::download(*reader, file_id, data.size()), data);

  // A second restore into the same place is refused; the first is left alone.
  EXPECT_THROW(admin::restore(options), std::runtime_error);
  EXPECT_TRUE(fs::exists(options.data_dir / "tmc.db"));
}

TEST_F(BackupRestore, RestoreRefusesAKeyFileWithoutTheBackupsKeys) {
  open_consultation("Which key?");
  const app::DataDir live(server.data_dir() / "data");
  {
    auto store = live.open_store();
    admin::backup(live, *store, scratch.path() / "backup");
    EXPECT_THROW(admin::backup(live, *store, scratch.path() / "backup"), std::runtime_error);
  }
  const app::DataDir other(scratch.path() / "other");
  other.initialize();  // a different key ring
  admin::RestoreOptions options;
  options.from = scratch.path() / "backup";
  options.data_dir = scratch.path() / "restored";
  options.key_file = other.key_file();
  try {
    admin::restore(options);
    FAIL() << "restore accepted a key file without the backup's key";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("lacks key id"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(options.data_dir));
}

// The commands as an operator runs them: a backup and a restore are on record, and a log
// restored without its audit key verifies once the old key's public part is trusted.
TEST_F(BackupRestore, CommandsAreOnRecordAndAnOldAuditKeyCanBeTrusted) {
  open_consultation("On record?");
  const fs::path live_dir = server.data_dir() / "data";
  const app::DataDir live(live_dir);
  const auto admin = [&](const fs::path& data_dir, const std::string& arguments) {
    return run_command(std::string(TMC_BINARY_DIR) + "/server/admin/tmc-admin --data-dir '" +
                           data_dir.string() + "' " + arguments,
                       scratch.path());
  };
  const auto head = admin(live_dir, "audit head");
  ASSERT_EQ(head.exit_code, 0) << head.err;
  const auto key_at = head.out.find("public_key ");
  ASSERT_NE(key_at, std::string::npos) << head.out;
  const auto old_key = head.out.substr(key_at + 11, head.out.find('\n', key_at) - key_at - 11);

  const auto backup_dir = scratch.path() / "backup";
  const auto backup = admin(live_dir, "backup --out '" + backup_dir.string() + "'");
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const auto restored_dir = scratch.path() / "restored";
  const auto restore =
      admin(restored_dir, "restore --from '" + backup_dir.string() + "' --key-file '" +
                              live.key_file().string() + "'");
  ASSERT_EQ(restore.exit_code, 0) << restore.err;

  EXPECT_EQ(admin(restored_dir, "audit verify").exit_code, 1);  // heads by an unknown key
  const auto verified = admin(restored_dir, "audit verify --trust-key " + old_key);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_EQ(admin(restored_dir, "audit verify --trust-key zz").exit_code, 2);

  const auto actions = [](store::Store& store) {
    std::set<std::string> found;
    store.read([&](store::Tx& tx) {
      for (const auto& row : tx.list_audit_records(0, 100000)) found.insert(row.action);
    });
    return found;
  };
  EXPECT_TRUE(actions(*server.open_store()).contains("admin.backup"));
  EXPECT_TRUE(actions(*app::DataDir(restored_dir).open_store()).contains("admin.restore"));
}

}  // namespace
}  // namespace tmc::testing::ops

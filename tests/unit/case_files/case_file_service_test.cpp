// CaseFileService against SQLite, an in-memory blob store and a manual clock: expiry of idle
// uploads and recovery after a crash between a segment write and the row update.
#include "domain/case_file_service.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "crypto/hash.hpp"
#include "crypto/keyring.hpp"
#include "domain/directory_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tmc::domain {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint32_t kChunk = 1024;

// Holds segment writes back while closed, fails the write of one segment index once, and fails
// blob removals while told to.
class WriteControl {
 public:
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  void fail_once_at(std::int64_t index) { fail_index_ = index; }
  void fail_removes(bool fail) { fail_removes_ = fail; }
  void check_remove(const std::string& id) {
    if (fail_removes_) throw blob::BlobStoreError("cannot delete blob file for blob " + id);
  }
  // Called by a writer: waits while closed; throws for the index set to fail.
  void pass(std::uint32_t index) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return open_; });
    std::int64_t expected = index;
    if (fail_index_.compare_exchange_strong(expected, -1)) {
      throw blob::BlobStoreError("injected write failure");
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  std::atomic<std::int64_t> fail_index_{-1};
  std::atomic<bool> fail_removes_{false};
};

// Forwards to a store the test keeps, so a "restarted" service sees the same segments.
class SharedBlobStore final : public blob::BlobStore {
 public:
  SharedBlobStore(blob::BlobStore& inner, WriteControl& control)
      : inner_(inner), control_(control) {}
  void put_segment(const std::string& id, std::uint32_t index, std::string_view sealed) override {
    control_.pass(index);
    inner_.put_segment(id, index, sealed);
  }
  std::optional<std::string> get_segment(const std::string& id, std::uint32_t index) override {
    return inner_.get_segment(id, index);
  }
  std::uint32_t segment_count(const std::string& id) override { return inner_.segment_count(id); }
  void truncate(const std::string& id, std::uint32_t count) override { inner_.truncate(id, count); }
  void remove(const std::string& id) override {
    control_.check_remove(id);
    inner_.remove(id);
  }
  std::uint64_t stored_bytes(const std::string& id) override { return inner_.stored_bytes(id); }

 private:
  blob::BlobStore& inner_;
  WriteControl& control_;
};

// Keeps the audit events' actions (the service audits from several threads).
class RecordingAuditHook final : public AuditHook {
 public:
  void record(const AuditEvent& event) override {
    std::lock_guard lock(mutex_);
    actions_.push_back(event.action);
  }
  long count(const std::string& action) {
    std::lock_guard lock(mutex_);
    return std::count(actions_.begin(), actions_.end(), action);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> actions_;
};

std::string bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string out(size, '\0');
  for (auto& ch : out) ch = static_cast<char>(generator() & 0xffu);
  return out;
}

class CaseFileServiceTest : public ::testing::Test {
 protected:
  CaseFileServiceTest() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("tmc-case-file-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir_);
    store::SqliteOptions options;
    options.path = (dir_ / "tmc.db").string();
    store_ = store::open_sqlite_store(options);
    DirectoryService directory(*store_, clock_, audit_);
    EXPECT_TRUE(directory.add_organization({"county", "County Hospital",
                                            store::OrganizationKind::county_hospital, "Kashgar",
                                            "Asia/Urumqi"}));
    auto user = directory.add_user({"alice", "Alice", store::Role::clinician, "county", {}}, "x");
    EXPECT_TRUE(user.has_value());
    caller_.user = *user;
    consultations_ =
        std::make_unique<ConsultationService>(*store_, clock_, audit_, vault_, DeadlinePolicy{});
    restart();
  }
  ~CaseFileServiceTest() override {
    service_.reset();
    consultations_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A new service instance: in-memory writers are lost, stored rows and segments remain.
  void restart() {
    service_.reset();
    service_ = another_node();
  }

  // A service sharing the store and the segments with service_, as another node does.
  std::unique_ptr<CaseFileService> another_node() {
    CaseFileLimits limits;
    limits.chunk_bytes = kChunk;
    limits.upload_expiry = 1h;
    return std::make_unique<CaseFileService>(
        *store_, std::make_unique<SharedBlobStore>(*blobs_, writes_), clock_, audit_, vault_,
        *consultations_, limits);
  }

  // What begin_upload declares for a new upload of data.
  static BeginUpload new_upload(const std::string& data) {
    BeginUpload request;
    request.file_name = "scan.dcm";
    request.media_type = "application/dicom";
    request.size = data.size();
    request.sha256 = crypto::sha256(data);
    return request;
  }

  UploadSession begin(const std::string& data) {
    auto session = service_->begin_upload(caller_, new_upload(data));
    EXPECT_TRUE(session.has_value());
    return *session;
  }

  void send(const std::string& id, const std::string& data, std::uint64_t from, std::uint64_t to) {
    for (auto offset = from; offset < to; offset += kChunk) {
      const auto piece = data.substr(offset, std::min<std::uint64_t>(kChunk, data.size() - offset));
      auto committed = service_->upload_chunk(caller_, id, offset, piece);
      ASSERT_TRUE(committed.has_value()) << committed.error().message;
      EXPECT_EQ(*committed, offset + piece.size());
    }
  }

  // Pretends a crash hit after the segments were stored but before the row recorded them.
  void rewind_row(const std::string& id, std::uint64_t offset) {
    store_->write([&](store::Tx& tx) { return tx.set_upload_progress(id, offset, clock_.now()); });
  }

  // The row as stored once every write queued before the call has run.
  store::Upload stored_row(const std::string& id) {
    store_->write([](store::Tx&) { return false; });  // the writer runs writes in order
    std::optional<store::Upload> row;
    store_->read([&](store::Tx& tx) { row = tx.find_upload(id); });
    EXPECT_TRUE(row.has_value());
    return row.value_or(store::Upload{});
  }

  // Finishing gives the file's hash, and its fourth chunk reads back.
  void finishes_whole(const std::string& id, const std::string& data) {
    auto file = service_->finish_upload(caller_, id);
    ASSERT_TRUE(file.has_value()) << file.error().message;
    EXPECT_EQ(file->value.sha256, crypto::sha256(data));
    auto read = service_->read(caller_, file->value.id, 3 * kChunk, kChunk);
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->data, data.substr(3 * kChunk, kChunk));
  }

  std::uint64_t resumed_offset(const std::string& id) {
    BeginUpload request;
    request.upload_id = id;
    auto session = service_->begin_upload(caller_, request);
    EXPECT_TRUE(session.has_value());
    return session ? session->committed_offset : 0;
  }

  fs::path dir_;
  ManualClock clock_{TimePoint(std::chrono::microseconds(1'700'000'000'000'000))};
  RecordingAuditHook audit_;
  crypto::KeyRing keys_ = crypto::KeyRing::generate();
  Vault vault_{keys_};
  std::unique_ptr<blob::BlobStore> blobs_ = blob::make_memory_blob_store();
  WriteControl writes_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ConsultationService> consultations_;
  std::unique_ptr<CaseFileService> service_;
  Caller caller_;
};

// Logs of the default logger while it lives (the service logs through spdlog's default logger).
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  bool contains(const std::string& text) const {
    const auto lines = sink_->last_formatted();
    return std::any_of(lines.begin(), lines.end(), [&text](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// A blob that cannot be deleted does not stop the expiry: the upload is gone, and the log names
// the file that is left behind so that an operator can remove it.
TEST_F(CaseFileServiceTest, ABlobThatCannotBeDeletedIsLeftAndLogged) {
  const auto data = bytes(3 * kChunk, 4);
  const auto session = begin(data);
  send(session.upload_id, data, 0, kChunk);
  CapturedLog log;
  writes_.fail_removes(true);
  clock_.advance(2h);
  EXPECT_EQ(service_->expire_uploads(clock_.now()), 1);
  EXPECT_EQ(blobs_->segment_count(session.upload_id), 1u);  // left on disk
  EXPECT_TRUE(log.contains("case files: cannot delete blob file for blob " + session.upload_id +
                           "; the upload is gone, the file only takes space"));
  BeginUpload resume;
  resume.upload_id = session.upload_id;
  EXPECT_EQ(service_->begin_upload(caller_, resume).error().code, Code::not_found);
}

TEST_F(CaseFileServiceTest, IdleUploadsExpireWithTheirSegments) {
  const auto data = bytes(3 * kChunk, 1);
  const auto session = begin(data);
  send(session.upload_id, data, 0, kChunk);
  EXPECT_EQ(blobs_->segment_count(session.upload_id), 1u);

  clock_.advance(59min);
  EXPECT_EQ(service_->expire_uploads(clock_.now()), 0);
  send(session.upload_id, data, kChunk, 2 * kChunk);  // activity restarts the idle time
  clock_.advance(59min);
  EXPECT_EQ(service_->expire_uploads(clock_.now()), 0);
  clock_.advance(2min);
  EXPECT_EQ(service_->expire_uploads(clock_.now()), 1);

  EXPECT_EQ(blobs_->segment_count(session.upload_id), 0u);
  BeginUpload resume;
  resume.upload_id = session.upload_id;
  auto gone = service_->begin_upload(caller_, resume);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, Code::not_found);
  auto chunk =
      service_->upload_chunk(caller_, session.upload_id, 2 * kChunk, data.substr(0, kChunk));
  ASSERT_FALSE(chunk.has_value());
  EXPECT_EQ(chunk.error().code, Code::not_found);
}

// An upload whose contents did not match is discarded; when the store fails to delete its row,
// the client is told to retry, and the upload still expires when left idle.
TEST_F(CaseFileServiceTest, AnUploadWhoseDiscardFailedStillExpires) {
  const auto data = bytes(2 * kChunk, 4);
  auto declared = new_upload(data);
  declared.sha256 = crypto::sha256("something else");
  auto session = service_->begin_upload(caller_, declared);
  ASSERT_TRUE(session.has_value());
  send(session->upload_id, data, 0, data.size());

  const auto sql = [&](const char* statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "tmc.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);  // the store's writer may hold the lock a moment
    EXPECT_EQ(sqlite3_exec(db, statement, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  };
  sql("CREATE TRIGGER refuse BEFORE DELETE ON uploads BEGIN SELECT RAISE(ABORT, 'i/o'); END");
  EXPECT_ANY_THROW(static_cast<void>(service_->finish_upload(caller_, session->upload_id)));
  sql("DROP TRIGGER refuse");
  EXPECT_EQ(stored_row(session->upload_id).id, session->upload_id);  // the row stayed

  clock_.advance(61min);
  EXPECT_EQ(service_->expire_uploads(clock_.now()), 1);
  std::optional<store::Upload> row;
  store_->read([&](store::Tx& tx) { row = tx.find_upload(session->upload_id); });
  EXPECT_FALSE(row.has_value());
  EXPECT_EQ(blobs_->segment_count(session->upload_id), 0u);
}

TEST_F(CaseFileServiceTest, SegmentsBeyondTheRowAreAuthenticatedAndKeptAfterARestart) {
  const auto data = bytes(5 * kChunk + 7, 2);
  const auto session = begin(data);
  send(session.upload_id, data, 0, 3 * kChunk);
  rewind_row(session.upload_id, kChunk);
  restart();
  EXPECT_EQ(resumed_offset(session.upload_id), 3 * kChunk);
  send(session.upload_id, data, 3 * kChunk, data.size());
  auto file = service_->finish_upload(caller_, session.upload_id);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  EXPECT_EQ(file->value.sha256, crypto::sha256(data));
  auto read = service_->read(caller_, file->value.id, 0, 0);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->data, data.substr(0, kChunk));
}

TEST_F(CaseFileServiceTest, AFinishedBlobWhoseRowLaggedIsRecognisedAfterARestart) {
  const auto data = bytes(2 * kChunk, 3);  // a multiple: the last segment is empty
  const auto session = begin(data);
  send(session.upload_id, data, 0, data.size());
  rewind_row(session.upload_id, 0);
  restart();
  EXPECT_EQ(resumed_offset(session.upload_id), data.size());
  auto file = service_->finish_upload(caller_, session.upload_id);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  EXPECT_EQ(file->value.size, data.size());
  auto tail = service_->read(caller_, file->value.id, kChunk, kChunk);
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->data, data.substr(kChunk));
  EXPECT_TRUE(tail->eof);
}

TEST_F(CaseFileServiceTest, TheRowRecordsAnUploadsProgressAtMostOnceASecond) {
  const auto data = bytes(4 * kChunk, 6);
  const auto id = begin(data).upload_id;
  const auto started = clock_.now();
  send(id, data, 0, kChunk);
  EXPECT_EQ(stored_row(id).committed_offset, kChunk);
  send(id, data, kChunk, 3 * kChunk);  // within the same second: no update of the row
  EXPECT_EQ(stored_row(id).committed_offset, kChunk);
  EXPECT_EQ(resumed_offset(id), 3 * kChunk);  // the segments tell, and resume records them
  EXPECT_EQ(stored_row(id).committed_offset, 3 * kChunk);

  clock_.advance(1s);
  send(id, data, 3 * kChunk, 4 * kChunk);
  const auto row = stored_row(id);
  EXPECT_EQ(row.committed_offset, 4 * kChunk);
  EXPECT_EQ(row.updated_at, started + 1s);
}

TEST_F(CaseFileServiceTest, AnUploadTakenFurtherOnAnotherNodeResumesWhereItsSegmentsEnd) {
  const auto data = bytes(5 * kChunk + 7, 4);
  const auto id = begin(data).upload_id;
  send(id, data, 0, 2 * kChunk);  // this node holds a writer after two chunks

  // The client moves to another node, which goes on from the stored segments.
  auto other = another_node();
  BeginUpload resume;
  resume.upload_id = id;
  auto there = other->begin_upload(caller_, resume);
  ASSERT_TRUE(there.has_value()) << there.error().message;
  EXPECT_EQ(there->committed_offset, 2 * kChunk);
  for (std::uint64_t offset = 2 * kChunk; offset < 4 * kChunk; offset += kChunk) {
    auto committed = other->upload_chunk(caller_, id, offset, data.substr(offset, kChunk));
    ASSERT_TRUE(committed.has_value()) << committed.error().message;
  }
  rewind_row(id, 2 * kChunk);  // its row has not caught up with its segments

  // Back on the first node: its writer is stale, so it resumes after the other node's chunks.
  EXPECT_EQ(resumed_offset(id), 4 * kChunk);
  send(id, data, 4 * kChunk, data.size());
  finishes_whole(id, data);
}

TEST_F(CaseFileServiceTest, FileNamesAreLabels) {
  EXPECT_TRUE(valid_file_name("left tibia AP.dcm"));
  EXPECT_TRUE(valid_file_name("\xe5\xb7\xa6\xe8\x83\xab\xe9\xaa\xa8.dcm"));
  EXPECT_TRUE(valid_file_name("..hidden"));
  EXPECT_FALSE(valid_file_name(""));
  EXPECT_FALSE(valid_file_name(".."));
  EXPECT_FALSE(valid_file_name("../x"));
  EXPECT_FALSE(valid_file_name("a\\b"));
  EXPECT_FALSE(valid_file_name("tab\there"));
  EXPECT_FALSE(valid_file_name("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(valid_file_name("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(valid_file_name(std::string(256, 'x')));
}

// Uploads are bulk work: the threads that write them yield the core to chat and requests
// (case_file_service.cpp says why), and nothing else in the process is lowered with them.
TEST_F(CaseFileServiceTest, FileWritersRunAtTheLowestPriorityAndNothingElseDoes) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));  // the test's own
  ASSERT_EQ(errno, 0);
  int writers = 0;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    const auto tid = static_cast<id_t>(std::stoul(task.path().filename().string()));
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, tid);
    if (errno == ESRCH) continue;  // a thread that ended meanwhile
    ASSERT_EQ(errno, 0) << name;
    if (name == "tmc-files") {
      ++writers;
      EXPECT_EQ(nice, 19);
    } else {
      EXPECT_EQ(nice, base) << name;
    }
  }
  EXPECT_EQ(writers, 4);
}

// Answers of upload_chunk_async in the order they arrive: (chunk number, result).
class Answers {
 public:
  CaseFileService::ChunkDone recorder(int number) {
    return [this, number](Result<std::uint64_t> result) {
      {
        std::lock_guard lock(mutex_);
        answers_.emplace_back(number, std::move(result));
      }
      arrived_.notify_all();
    };
  }
  std::vector<std::pair<int, Result<std::uint64_t>>> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(arrived_.wait_for(lock, 10s, [&] { return answers_.size() >= count; }));
    return answers_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::pair<int, Result<std::uint64_t>>> answers_;
};

TEST_F(CaseFileServiceTest, ChunksAreSealedWhileEarlierOnesWaitForTheDiskAndAnsweredInOrder) {
  const auto data = bytes(4 * kChunk + 10, 4);
  const auto session = begin(data);
  const auto& id = session.upload_id;
  const auto piece = [&](int n) { return std::string_view(data).substr(n * kChunk, kChunk); };
  Answers answers;
  writes_.close();  // the first chunk's write waits; the later chunks are sealed meanwhile
  for (int n = 0; n < 3; ++n)
    service_->upload_chunk_async(caller_, id, n * kChunk, piece(n), answers.recorder(n));
  // Refused at once, but answered after the three before it.
  service_->upload_chunk_async(caller_, id, 0, piece(0), answers.recorder(-1));
  service_->upload_chunk_async(caller_, id, 3 * kChunk, piece(3), answers.recorder(3));
  EXPECT_EQ(blobs_->segment_count(id), 0u);
  writes_.open();
  const auto got = answers.wait_for(5);
  ASSERT_EQ(got.size(), 5u);
  const std::vector<int> order = {got[0].first, got[1].first, got[2].first, got[3].first,
                                  got[4].first};
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, -1, 3}));
  for (const int i : {0, 1, 2, 4}) {
    ASSERT_TRUE(got[i].second.has_value()) << got[i].second.error().message;
    EXPECT_EQ(*got[i].second, (got[i].first + 1) * std::uint64_t{kChunk});
  }
  ASSERT_FALSE(got[3].second.has_value());
  EXPECT_EQ(got[3].second.error().code, Code::failed_precondition);

  send(id, data, 4 * kChunk, data.size());
  auto file = service_->finish_upload(caller_, id);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  EXPECT_EQ(file->value.sha256, crypto::sha256(data));
}

// A chunk that reaches the service after its connection closed is not taken: a resume on
// another connection, once the client saw the first one end, may already have said where to
// continue, and nothing else may move the upload past that.
TEST_F(CaseFileServiceTest, AChunkWhoseConnectionHasClosedIsNotTaken) {
  const auto data = bytes(3 * kChunk, 6);
  const auto session = begin(data);
  const auto& id = session.upload_id;
  const auto piece = [&](int n) { return std::string_view(data).substr(n * kChunk, kChunk); };
  const auto closed = std::make_shared<std::atomic<bool>>(false);
  Caller connection = caller_;
  connection.connection_closed = closed;
  auto taken = service_->upload_chunk(connection, id, 0, piece(0));
  ASSERT_TRUE(taken.has_value()) << taken.error().message;
  closed->store(true);
  auto refused = service_->upload_chunk(connection, id, kChunk, piece(1));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::cancelled);
  EXPECT_EQ(blobs_->segment_count(id), 1u);

  EXPECT_EQ(resumed_offset(id), kChunk);
  send(id, data, kChunk, data.size());
  auto file = service_->finish_upload(caller_, id);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  EXPECT_EQ(file->value.sha256, crypto::sha256(data));
}

TEST_F(CaseFileServiceTest,
       AFailedWriteRefusesTheChunksBehindItAndTheUploadResumesWhereItIsDurable) {
  const auto data = bytes(6 * kChunk, 5);
  const auto session = begin(data);
  const auto& id = session.upload_id;
  const auto piece = [&](int n) { return std::string_view(data).substr(n * kChunk, kChunk); };
  Answers answers;
  writes_.close();
  writes_.fail_once_at(1);
  for (int n = 0; n < 4; ++n)
    service_->upload_chunk_async(caller_, id, n * kChunk, piece(n), answers.recorder(n));
  writes_.open();
  const auto got = answers.wait_for(4);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0].second.has_value());
  EXPECT_EQ(*got[0].second, kChunk);
  for (int i = 1; i < 4; ++i) {  // the failed one and the two sealed behind it
    ASSERT_FALSE(got[i].second.has_value()) << i;
    EXPECT_EQ(got[i].second.error().code, Code::unavailable) << i;
  }
  EXPECT_EQ(blobs_->segment_count(id), 1u);  // nothing was written after the failure

  EXPECT_EQ(resumed_offset(id), kChunk);
  send(id, data, kChunk, data.size());
  finishes_whole(id, data);
}
// A size that is a multiple of the chunk ends in an empty last segment, written after the last
// full one. A failed write (or a crash) between the two leaves every byte stored and the file
// unsealed: the upload must still finish, since the client has nothing left to send.
TEST_F(CaseFileServiceTest, AFileLostBeforeItsEmptyLastSegmentStillFinishes) {
  for (const bool restarted : {false, true}) {
    SCOPED_TRACE(restarted ? "after a restart" : "on the same server");
    const auto data = bytes(4 * kChunk, restarted ? 9 : 8);
    const auto session = begin(data);
    const auto& id = session.upload_id;
    send(id, data, 0, 3 * kChunk);
    writes_.fail_once_at(4);  // segments 0-3 hold the data, 4 is the empty end
    auto last = service_->upload_chunk(caller_, id, 3 * kChunk,
                                       std::string_view(data).substr(3 * kChunk));
    ASSERT_FALSE(last.has_value());
    EXPECT_EQ(last.error().code, Code::unavailable);
    EXPECT_EQ(blobs_->segment_count(id), 4u);
    if (restarted) restart();
    EXPECT_EQ(resumed_offset(id), data.size());
    finishes_whole(id, data);
  }
}
// Each unfinished upload is kept until it finishes or expires (a day): one user may not open
// them without end.
TEST_F(CaseFileServiceTest, AUserHasAtMostSoManyUnfinishedUploads) {
  CaseFileLimits limits;
  limits.chunk_bytes = kChunk;
  limits.max_open_uploads_per_user = 2;
  service_ = std::make_unique<CaseFileService>(
      *store_, std::make_unique<SharedBlobStore>(*blobs_, writes_), clock_, audit_, vault_,
      *consultations_, limits);
  const auto data = bytes(kChunk, 12);
  const auto first = begin(data);
  begin(bytes(kChunk, 13));
  const auto third = new_upload(bytes(kChunk, 14));
  auto refused = service_->begin_upload(caller_, third);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::resource_exhausted);
  send(first.upload_id, data, 0, data.size());
  ASSERT_TRUE(service_->finish_upload(caller_, first.upload_id).has_value());
  EXPECT_TRUE(service_->begin_upload(caller_, third).has_value());  // a finished one frees a place
}

// A county link may lose the answer to a new upload's begin_upload; the client, which has no
// upload id yet, sends the same begin again. It continues the upload the first one started
// instead of leaving that one to hold a place and the organisation's quota for a day.
TEST_F(CaseFileServiceTest, ABeginSentAgainContinuesTheUploadItStarted) {
  const auto data = bytes(3 * kChunk, 15);
  const auto first = begin(data);
  send(first.upload_id, data, 0, kChunk);
  const auto open_uploads = [&] {
    std::int64_t count = 0;
    store_->read([&](store::Tx& tx) { count = tx.count_user_uploads(caller_.user.id); });
    return count;
  };
  auto again = service_->begin_upload(caller_, new_upload(data));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->upload_id, first.upload_id);
  EXPECT_EQ(again->committed_offset, kChunk);
  EXPECT_EQ(open_uploads(), 1);
  EXPECT_EQ(audit_.count("case_file.upload_resume"), 1);
  restart();  // and after a restart, from the stored segments
  again = service_->begin_upload(caller_, new_upload(data));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->upload_id, first.upload_id);
  EXPECT_EQ(again->committed_offset, kChunk);
  send(first.upload_id, data, kChunk, data.size());
  ASSERT_TRUE(service_->finish_upload(caller_, first.upload_id).has_value());
  // Once finished, the same file may be uploaded again: that is a new upload.
  const auto later = begin(data);
  EXPECT_NE(later.upload_id, first.upload_id);
  EXPECT_EQ(later.committed_offset, 0u);
}

// Only the same user's begin declaring the same file, name, type and consultation continues an
// upload; anything else starts its own.
TEST_F(CaseFileServiceTest, ABeginDeclaringAnythingElseStartsAnotherUpload) {
  const auto data = bytes(2 * kChunk, 16);
  const auto first = begin(data);
  send(first.upload_id, data, 0, kChunk);
  std::vector<BeginUpload> others(4, new_upload(data));
  others[0].file_name = "scan-2.dcm";
  others[1].media_type = "application/octet-stream";
  others[2] = new_upload(bytes(2 * kChunk, 17));  // same size, other bytes
  others[3] = new_upload(data + "x");
  for (const auto& other : others) {
    auto session = service_->begin_upload(caller_, other);
    ASSERT_TRUE(session.has_value()) << session.error().message;
    EXPECT_NE(session->upload_id, first.upload_id);
    EXPECT_EQ(session->committed_offset, 0u);
  }
  DirectoryService directory(*store_, clock_, audit_);
  auto bob = directory.add_user({"bob", "Bob", store::Role::clinician, "county", {}}, "x");
  ASSERT_TRUE(bob.has_value());
  Caller other_user = caller_;
  other_user.user = *bob;
  auto theirs = service_->begin_upload(other_user, new_upload(data));
  ASSERT_TRUE(theirs.has_value()) << theirs.error().message;
  EXPECT_NE(theirs->upload_id, first.upload_id);
  EXPECT_EQ(theirs->committed_offset, 0u);
  EXPECT_EQ(audit_.count("case_file.upload_resume"), 0);
}

// Another user's upload id is as unknown as a wrong one, and each attempt is on record.
TEST_F(CaseFileServiceTest, AnotherUsersUploadIsNotFoundAndTheAttemptAudited) {
  const auto data = bytes(2 * kChunk, 11);
  const auto session = begin(data);
  send(session.upload_id, data, 0, kChunk);
  Caller other = caller_;
  other.user.id = "usr_other";
  BeginUpload resume;
  resume.upload_id = session.upload_id;
  EXPECT_EQ(service_->begin_upload(other, resume).error().code, Code::not_found);
  EXPECT_EQ(service_->upload_chunk(other, session.upload_id, kChunk, data.substr(kChunk))
                .error()
                .code,
            Code::not_found);
  EXPECT_EQ(service_->finish_upload(other, session.upload_id).error().code, Code::not_found);
  EXPECT_EQ(audit_.count("case_file.upload"), 3);
  // The owner is not disturbed: the upload goes on where it was.
  EXPECT_EQ(resumed_offset(session.upload_id), kChunk);
  send(session.upload_id, data, kChunk, data.size());
  EXPECT_TRUE(service_->finish_upload(caller_, session.upload_id).has_value());
  EXPECT_EQ(audit_.count("case_file.upload"), 3);
  // Finished, the upload id is as unknown to the other user, and each attempt still on record.
  EXPECT_EQ(service_->begin_upload(other, resume).error().code, Code::not_found);
  EXPECT_EQ(service_->upload_chunk(other, session.upload_id, 0, data.substr(0, kChunk))
                .error()
                .code,
            Code::not_found);
  EXPECT_EQ(service_->finish_upload(other, session.upload_id).error().code, Code::not_found);
  EXPECT_EQ(audit_.count("case_file.upload"), 6);
  // The owner's own retries of a finished upload are no denials.
  EXPECT_EQ(resumed_offset(session.upload_id), data.size());
  EXPECT_EQ(audit_.count("case_file.upload"), 6);
}

// Every download is in the audit trail whatever offset it starts at, once and not per chunk.
TEST_F(CaseFileServiceTest, ADownloadIsAuditedOnceWhereverItStarts) {
  const auto data = bytes(4 * kChunk, 10);
  const auto session = begin(data);
  send(session.upload_id, data, 0, data.size());
  auto file = service_->finish_upload(caller_, session.upload_id);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  const auto& id = file->value.id;
  const auto reads = [&] { return audit_.count("case_file.read"); };
  const auto read_at = [&](const Caller& who, std::uint64_t offset) {
    auto chunk = service_->read(who, id, offset, kChunk);
    ASSERT_TRUE(chunk.has_value()) << chunk.error().message;
    EXPECT_EQ(chunk->data, data.substr(offset, kChunk));
  };
  caller_.session_token_hash = "session-1";
  read_at(caller_, kChunk);  // a range read, or a download resumed after a restart
  EXPECT_EQ(reads(), 1);
  read_at(caller_, 2 * kChunk);  // the same download's next chunk
  read_at(caller_, 3 * kChunk);
  EXPECT_EQ(reads(), 1);
  read_at(caller_, 0);  // a new download
  EXPECT_EQ(reads(), 2);
  clock_.advance(11min);  // taken up again much later
  read_at(caller_, 2 * kChunk);
  EXPECT_EQ(reads(), 3);
  Caller other = caller_;  // the same user signed in elsewhere
  other.session_token_hash = "session-2";
  read_at(other, 3 * kChunk);
  EXPECT_EQ(reads(), 4);
}
}  // namespace
}  // namespace tmc::domain

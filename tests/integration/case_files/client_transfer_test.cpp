// The client library's case-file transfers: round trip, resume after drops, hash verification.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "case_file_client.hpp"
#include "test_server.hpp"
#include "tmc/client/case_files.hpp"

namespace tmc::testing {
namespace {

using client::CaseFileClient;
using client::TransferProgress;
using files::random_data;
namespace v1 = ::telemed::v1;

constexpr std::size_t MiB = 1u << 20;

void write_file(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good());
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Retries quickly: the tests drop connections on purpose.
client::TransferOptions quick_retries() {
  client::TransferOptions options;
  options.first_retry = std::chrono::milliseconds(10);
  return options;
}

// A session of one user whose connection can be dropped and re-established with `resume`, as
// the Connector contract asks; follows the server to its new port after a restart.
class ResumableSession {
 public:
  ResumableSession(const TestServer& server, const std::string& username) : server_(server) {
    client_ = server_.connect();
    auto login = client_->login(username, server_.password(username));
    EXPECT_EQ(login.status().code(), v1::OK) << login.status().message();
    token_ = login.login().session_token();
  }

  client::BlockingClient& operator()(bool reconnect) {
    if (reconnect) {
      ++reconnects_;
      client_.reset();
      client_ = std::make_unique<client::BlockingClient>(server_.client_options());
      client_->connect();
      auto resumed = client_->resume(token_);
      if (resumed.status().code() != v1::OK) {
        throw std::runtime_error("resume refused: " + resumed.status().message());
      }
    }
    return *client_;
  }

  client::BlockingClient& current() { return *client_; }
  int reconnects() const { return reconnects_; }

 private:
  const TestServer& server_;
  std::unique_ptr<client::BlockingClient> client_;
  std::string token_;
  int reconnects_ = 0;
};

class ClientTransfers : public ::testing::Test {
 protected:
  TestServer server_;
  TempDir dir_;
};

TEST_F(ClientTransfers, UploadAndDownloadAFileByteIdentical) {
  const auto data = random_data(5 * MiB + 1234, 11);
  const auto source = dir_.path() / "chest-xray.dcm";
  write_file(source, data);

  auto clinician = server_.login("bachu.clinician");
  CaseFileClient files(*clinician);
  std::vector<TransferProgress> seen;
  auto uploaded = files.upload(
      source, {.file_name = {}, .media_type = "application/dicom", .consultation_id = {}},
      [&](const TransferProgress& progress) { seen.push_back(progress); });
  ASSERT_TRUE(uploaded) << uploaded.status.message();
  EXPECT_EQ(uploaded.value.file_name(), "chest-xray.dcm");
  EXPECT_EQ(uploaded.value.media_type(), "application/dicom");
  EXPECT_EQ(uploaded.value.size(), data.size());
  EXPECT_EQ(uploaded.value.sha256(), crypto::sha256(data));

  // Hashing first, then confirmed bytes that only grow and end at the size.
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().stage, TransferProgress::Stage::hashing);
  std::uint64_t last = 0;
  for (const auto& progress : seen) {
    if (progress.stage != TransferProgress::Stage::transferring) continue;
    EXPECT_GE(progress.done, last);
    EXPECT_EQ(progress.total, data.size());
    last = progress.done;
  }
  EXPECT_EQ(last, data.size());

  const auto copy = dir_.path() / "copy.dcm";
  auto downloaded = files.download(uploaded.value, copy);
  ASSERT_TRUE(downloaded) << downloaded.status.message();
  EXPECT_TRUE(read_whole(copy) == data);
  EXPECT_FALSE(std::filesystem::exists(copy.string() + "." + uploaded.value.id() + ".part"));
}

TEST_F(ClientTransfers, UploadResumesFromTheCommittedOffsetAfterTheServerRestarts) {
  const auto data = random_data(6 * MiB + 99, 12);
  ResumableSession session(server_, "bachu.clinician");
  CaseFileClient files(std::ref(session), quick_retries());

  bool restarted = false;
  std::uint64_t committed_at_restart = 0;
  std::optional<std::uint64_t> resumed_at;  // the first offset confirmed after reconnecting
  std::istringstream in(data);
  auto uploaded =
      files.upload(in, {.file_name = "echo.mp4", .media_type = "video/mp4", .consultation_id = {}},
                   [&](const TransferProgress& progress) {
                     if (progress.stage != TransferProgress::Stage::transferring) return;
                     if (!restarted && progress.done >= data.size() / 2) {
                       restarted = true;
                       committed_at_restart = progress.done;
                       server_.restart();  // every connection drops; chunks in flight are lost
                     } else if (restarted && progress.reconnects > 0 && !resumed_at) {
                       resumed_at = progress.done;
                     }
                   });
  ASSERT_TRUE(uploaded) << uploaded.status.message();
  EXPECT_TRUE(restarted);
  EXPECT_GE(session.reconnects(), 1);
  // It continued where the server's durable copy ended, not from the start.
  ASSERT_TRUE(resumed_at.has_value());
  EXPECT_GE(*resumed_at, committed_at_restart);
  EXPECT_EQ(uploaded.value.sha256(), crypto::sha256(data));

  const auto copy = dir_.path() / "echo.mp4";
  auto downloaded = files.download(uploaded.value, copy);
  ASSERT_TRUE(downloaded) << downloaded.status.message();
  EXPECT_TRUE(read_whole(copy) == data);
}

// The blob file of the one upload the server has started.
std::filesystem::path only_blob(const TestServer& server) {
  std::vector<std::filesystem::path> blobs;
  for (const auto& entry :
       std::filesystem::directory_iterator(server.data_dir() / "data" / "blobs")) {
    if (entry.path().extension() == ".blob") blobs.push_back(entry.path());
  }
  EXPECT_EQ(blobs.size(), 1u);
  return blobs.empty() ? std::filesystem::path() : blobs.front();
}

TEST_F(ClientTransfers, UploadResumesFromTheCommittedOffsetAfterStorageWasUnavailable) {
  const auto data = random_data(4 * MiB + 77, 16);
  auto clinician = server_.login("bachu.clinician");
  CaseFileClient files(*clinician, quick_retries());

  // Half-way, a directory takes the blob file's place: the server cannot store the next chunk
  // and answers UNAVAILABLE until the file is back, which it is when the client says it waits.
  std::filesystem::path blob;
  std::filesystem::path aside;
  std::uint64_t committed_at_failure = 0;
  std::optional<std::uint64_t> resumed_at;
  int retries = 0;
  std::istringstream in(data);
  auto uploaded = files.upload(
      in, {.file_name = "ct-head.dcm", .media_type = "application/dicom", .consultation_id = {}},
      [&](const TransferProgress& progress) {
        if (progress.stage == TransferProgress::Stage::retrying) {
          ++retries;
          EXPECT_NE(progress.reason.find("unavailable"), std::string::npos) << progress.reason;
          if (!aside.empty()) {
            committed_at_failure = progress.done;
            std::filesystem::remove(blob);
            std::filesystem::rename(aside, blob);
            aside.clear();
          }
          return;
        }
        if (progress.stage != TransferProgress::Stage::transferring) return;
        if (blob.empty() && progress.done >= data.size() / 2) {
          blob = only_blob(server_);
          aside = blob.string() + ".aside";
          std::filesystem::rename(blob, aside);
          std::filesystem::create_directory(blob);
        } else if (retries > 0 && !resumed_at) {
          resumed_at = progress.done;
        }
      });
  ASSERT_TRUE(uploaded) << uploaded.status.message();
  EXPECT_EQ(retries, 1);
  // It went on from what the server had stored, on the same connection.
  ASSERT_TRUE(resumed_at.has_value());
  EXPECT_GE(*resumed_at, committed_at_failure);
  EXPECT_LT(*resumed_at, data.size());
  EXPECT_TRUE(clinician->is_open());
  EXPECT_EQ(uploaded.value.sha256(), crypto::sha256(data));

  const auto copy = dir_.path() / "ct-head.dcm";
  auto downloaded = files.download(uploaded.value, copy);
  ASSERT_TRUE(downloaded) << downloaded.status.message();
  EXPECT_TRUE(read_whole(copy) == data);
}

// The link drops after the server has started an upload but before its answer arrives: the
// client, which never learnt the upload's id, declares the file again and continues that upload
// rather than leaving it behind to hold the organisation's quota.
TEST_F(ClientTransfers, AnUploadWhoseFirstAnswerWasLostContinuesTheUploadItStarted) {
  const auto data = random_data(2 * MiB + 31, 17);
  std::string started;
  {
    auto lost = server_.login("bachu.clinician");
    auto frame = files::begin_frame("lab-report.pdf", data.size(), crypto::sha256(data));
    frame.mutable_begin_upload()->set_media_type("application/pdf");
    auto begun = lost->call(frame);
    ASSERT_EQ(begun.status().code(), v1::OK) << begun.status().message();
    started = begun.upload_session().upload_id();
  }  // the connection closes; the client below knows nothing of it
  auto clinician = server_.login("bachu.clinician");
  CaseFileClient files(*clinician, quick_retries());
  std::istringstream in(data);
  auto uploaded = files.upload(
      in, {.file_name = "lab-report.pdf", .media_type = "application/pdf", .consultation_id = {}});
  ASSERT_TRUE(uploaded) << uploaded.status.message();
  EXPECT_EQ(uploaded.value.sha256(), crypto::sha256(data));
  // The upload it started is the one that finished: asked for again, it has all of the file.
  auto first = clinician->call(files::resume_frame(started));
  ASSERT_EQ(first.status().code(), v1::OK) << first.status().message();
  EXPECT_EQ(first.upload_session().committed_offset(), data.size());
}

TEST_F(ClientTransfers, DownloadResumesAfterTheConnectionDrops) {
  const auto data = random_data(3 * MiB + 5, 13);
  ResumableSession session(server_, "bachu.clinician");
  client::TransferOptions options = quick_retries();
  options.read_length = 64 << 10;  // more reads, so the drop lands mid-way
  CaseFileClient files(std::ref(session), options);
  std::istringstream in(data);
  auto uploaded = files.upload(
      in, {.file_name = "labs.pdf", .media_type = "application/pdf", .consultation_id = {}});
  ASSERT_TRUE(uploaded) << uploaded.status.message();

  bool dropped = false;
  std::uint64_t written_at_drop = 0;
  std::optional<std::uint64_t> resumed_at;
  const auto copy = dir_.path() / "labs.pdf";
  auto downloaded = files.download(uploaded.value, copy, [&](const TransferProgress& progress) {
    if (progress.stage != TransferProgress::Stage::transferring) return;
    if (!dropped && progress.done >= data.size() / 2) {
      dropped = true;
      written_at_drop = progress.done;
      session.current().close();  // reads in flight fail with connection_closed
    } else if (dropped && progress.reconnects > 0 && !resumed_at) {
      resumed_at = progress.done;
    }
  });
  ASSERT_TRUE(downloaded) << downloaded.status.message();
  EXPECT_EQ(session.reconnects(), 1);
  ASSERT_TRUE(resumed_at.has_value());
  EXPECT_GT(*resumed_at, written_at_drop);
  EXPECT_TRUE(read_whole(copy) == data);
}

TEST_F(ClientTransfers, DownloadWithTheWrongHashKeepsNothing) {
  const auto data = random_data(1 * MiB + 3, 14);
  auto clinician = server_.login("bachu.clinician");
  CaseFileClient files(*clinician);
  std::istringstream in(data);
  auto uploaded = files.upload(
      in, {.file_name = "photo.jpg", .media_type = "image/jpeg", .consultation_id = {}});
  ASSERT_TRUE(uploaded) << uploaded.status.message();

  v1::CaseFile tampered = uploaded.value;
  std::string hash = tampered.sha256();
  hash[0] = static_cast<char>(hash[0] ^ 1);
  tampered.set_sha256(hash);
  const auto copy = dir_.path() / "photo.jpg";
  auto downloaded = files.download(tampered, copy);
  EXPECT_EQ(downloaded.status.code(), v1::DATA_LOSS);
  EXPECT_NE(downloaded.status.message().find("SHA-256"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(copy));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));

  // An unknown file id is the server's NOT_FOUND, and nothing is left behind either.
  tampered.set_id("no-such-file");
  EXPECT_EQ(files.download(tampered, copy).status.code(), v1::NOT_FOUND);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
}

TEST_F(ClientTransfers, ListShareAndFindByIdAcrossConsultations) {
  auto clinician = server_.login("bachu.clinician");
  auto specialist = server_.login("shanghai.ortho");
  client::ConsultationClient consultations(*clinician);
  v1::OpenConsultationRequest request;
  request.set_specialty("orthopedics");
  request.set_urgency(v1::URGENCY_URGENT);
  request.mutable_patient()->set_reference("P-2026-0100");
  request.set_question("Scaphoid fracture?");
  auto opened = consultations.open(request);
  ASSERT_TRUE(opened) << opened.status.message();
  const auto id = opened.value.id();
  ASSERT_TRUE(client::ConsultationClient(*specialist).accept(id));

  CaseFileClient files(*clinician);
  std::istringstream in(random_data(300 << 10, 15));
  auto uploaded = files.upload(
      in, {.file_name = "wrist.png", .media_type = "image/png", .consultation_id = {}});
  ASSERT_TRUE(uploaded) << uploaded.status.message();

  CaseFileClient specialist_files(*specialist);
  // Not shared yet: the specialist cannot find it.
  EXPECT_EQ(specialist_files.find(uploaded.value.id()).status.code(), v1::NOT_FOUND);
  auto shared = files.share(uploaded.value.id(), id);
  ASSERT_TRUE(shared) << shared.status.message();
  auto listed = specialist_files.list(id);
  ASSERT_TRUE(listed) << listed.status.message();
  ASSERT_EQ(listed.value.files_size(), 1);
  EXPECT_EQ(listed.value.files(0).id(), uploaded.value.id());
  auto found = specialist_files.find(uploaded.value.id());
  ASSERT_TRUE(found) << found.status.message();
  EXPECT_EQ(found.value.sha256(), uploaded.value.sha256());
  EXPECT_TRUE(specialist_files.find(uploaded.value.id(), id));
}

}  // namespace
}  // namespace tmc::testing

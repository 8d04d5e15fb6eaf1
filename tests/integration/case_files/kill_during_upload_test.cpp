// A tmc-server SIGKILLed in the middle of an upload: the upload resumes and completes intact.
#include <gtest/gtest.h>

#include <future>

#include "case_file_client.hpp"
#include "requests.hpp"
#include "server_process.hpp"
#include "test_data.hpp"
#include "test_server.hpp"

namespace tmc::e2e {
namespace {

using namespace tmc::testing::files;

TEST(CaseFileDurability, UploadResumesAfterSigkillAndCompletesWithTheRightHash) {
  testing::TempDir dir;
  const auto logins = seed_demo_data_dir(dir.path());
  ServerProcess server(dir.path());
  server.start();

  const auto data = random_data(24u << 20, 42);
  std::string upload_id;
  std::uint32_t chunk = 0;
  std::uint64_t acknowledged = 0;
  {
    auto session = sign_in(server.client_options(), logins.at("bachu.clinician"));
    auto& client = *session.client;
    auto begun = client.call(begin_frame("ct-series.zip", data.size(), crypto::sha256(data)));
    ASSERT_EQ(begun.status().code(), v1::OK) << begun.status().message();
    upload_id = begun.upload_session().upload_id();
    chunk = begun.upload_session().chunk_size();
    // The first half is acknowledged; the rest is in flight when the server dies.
    const std::uint64_t half = data.size() / 2 / chunk * chunk;
    auto sent = send_chunks(client, upload_id, data, 0, half, chunk);
    ASSERT_EQ(sent.status.code(), v1::OK) << sent.status.message();
    acknowledged = sent.committed;
    auto in_flight = std::async(std::launch::async, [&] {
      try {
        return send_chunks(client, upload_id, data, half, data.size(), chunk, 32).committed;
      } catch (const client::ClientError&) {
        return std::uint64_t{0};  // the connection died under it
      }
    });
    server.kill();
    acknowledged = std::max(acknowledged, in_flight.get());
  }

  server.start();
  auto session = sign_in(server.client_options(), logins.at("bachu.clinician"));
  auto& client = *session.client;
  auto resumed = client.call(resume_frame(upload_id));
  ASSERT_EQ(resumed.status().code(), v1::OK) << resumed.status().message();
  const auto committed = resumed.upload_session().committed_offset();
  // Nothing acknowledged is lost, and the server continues on a chunk boundary.
  EXPECT_GE(committed, acknowledged);
  EXPECT_TRUE(committed % chunk == 0 || committed == data.size());
  auto sent = send_chunks(client, upload_id, data, committed, data.size(), chunk);
  ASSERT_EQ(sent.status.code(), v1::OK) << sent.status.message();
  auto finished = client.call(finish_frame(upload_id));
  ASSERT_EQ(finished.status().code(), v1::OK) << finished.status().message();
  EXPECT_EQ(finished.case_file().sha256(), crypto::sha256(data));
  EXPECT_TRUE(download(client, finished.case_file().id(), data.size()) == data);
  server.stop();
}

}  // namespace
}  // namespace tmc::e2e

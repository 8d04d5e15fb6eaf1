// Tampered blobs at rest: every read of an affected range answers DATA_LOSS, never wrong bytes.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "case_file_client.hpp"
#include "test_server.hpp"

namespace tmc::testing {
namespace {

using namespace files;

constexpr std::uint32_t kChunk = 4096;  // small segments keep the files small
constexpr std::size_t kRecordHeader = 20;
constexpr std::size_t kSealed = kChunk + 16;
constexpr std::size_t kRecord = kRecordHeader + kSealed;  // every record but the last

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

struct Uploaded {
  std::string file_id;
  std::string blob;  // path of the blob file
  std::string data;
};

class CaseFileTampering : public ::testing::Test {
 protected:
  TestServer server_{[](app::Config& config) { config.upload_chunk_bytes = kChunk; }};

  Uploaded upload_file(Client& client, std::uint64_t seed) {
    Uploaded out;
    out.data = random_data(5 * kChunk + 100, seed);  // segments 0..4 full, 5 is the short last
    auto begun = client.call(begin_frame("scan.dcm", out.data.size(), crypto::sha256(out.data)));
    EXPECT_EQ(begun.status().code(), v1::OK);
    const auto upload_id = begun.upload_session().upload_id();
    EXPECT_EQ(begun.upload_session().chunk_size(), kChunk);
    EXPECT_EQ(send_chunks(client, upload_id, out.data, 0, out.data.size(), kChunk).status.code(),
              v1::OK);
    auto finished = client.call(finish_frame(upload_id));
    EXPECT_EQ(finished.status().code(), v1::OK) << finished.status().message();
    out.file_id = finished.case_file().id();
    out.blob = (server_.data_dir() / "data" / "blobs" / (upload_id + ".blob")).string();
    return out;
  }

  // Reading segment index (alone) answers code; for OK, the right bytes.
  static void expect_segment(Client& client, const Uploaded& file, std::uint64_t index,
                             v1::Code code) {
    const auto offset = index * kChunk;
    auto response = client.call(read_frame(file.file_id, offset, kChunk));
    EXPECT_EQ(response.status().code(), code) << "segment " << index;
    if (code == v1::OK) {
      EXPECT_EQ(response.file_chunk().data(), file.data.substr(offset, kChunk));
    } else {
      EXPECT_TRUE(response.file_chunk().data().empty());
    }
  }
};

TEST_F(CaseFileTampering, EveryReadOfAnAffectedRangeIsDataLoss) {
  auto client = server_.login("bachu.clinician");
  const auto flipped = upload_file(*client, 1);
  const auto swapped = upload_file(*client, 2);
  const auto dropped = upload_file(*client, 3);
  const auto patched = upload_file(*client, 4);
  const auto donor = upload_file(*client, 5);
  client.reset();
  server_.stop();

  auto bytes = read_all(flipped.blob);
  bytes[2 * kRecord + kRecordHeader + 10] ^= 0x01;  // inside segment 2's ciphertext
  write_all(flipped.blob, bytes);

  bytes = read_all(swapped.blob);  // records 1 and 2 trade places
  const auto record1 = bytes.substr(kRecord, kRecord);
  bytes.replace(kRecord, kRecord, bytes.substr(2 * kRecord, kRecord));
  bytes.replace(2 * kRecord, kRecord, record1);
  write_all(swapped.blob, bytes);

  bytes = read_all(dropped.blob);  // the short last segment is gone
  bytes.resize(5 * kRecord);
  write_all(dropped.blob, bytes);

  bytes = read_all(patched.blob);  // record 3 replaced by the other file's record 3
  bytes.replace(3 * kRecord, kRecord, read_all(donor.blob).substr(3 * kRecord, kRecord));
  write_all(patched.blob, bytes);

  server_.restart();
  client = server_.login("bachu.clinician");

  expect_segment(*client, flipped, 1, v1::OK);
  expect_segment(*client, flipped, 2, v1::DATA_LOSS);
  expect_segment(*client, flipped, 3, v1::OK);
  EXPECT_EQ(client->call(read_frame(flipped.file_id, 2 * kChunk - 10, 20)).status().code(),
            v1::DATA_LOSS);

  expect_segment(*client, swapped, 0, v1::OK);
  expect_segment(*client, swapped, 1, v1::DATA_LOSS);
  expect_segment(*client, swapped, 2, v1::DATA_LOSS);

  for (std::uint64_t index = 0; index < 5; ++index) expect_segment(*client, dropped, index, v1::OK);
  expect_segment(*client, dropped, 5, v1::DATA_LOSS);
  EXPECT_EQ(client->call(read_frame(dropped.file_id, dropped.data.size())).status().code(),
            v1::DATA_LOSS);
  EXPECT_EQ(client->call(read_frame(dropped.file_id, 4 * kChunk + 1, kChunk)).status().code(),
            v1::DATA_LOSS);

  expect_segment(*client, patched, 2, v1::OK);
  expect_segment(*client, patched, 3, v1::DATA_LOSS);
  expect_segment(*client, donor, 3, v1::OK);
}

// What an operator finds in the log: the blob of each damaged or unreadable file and what is
// wrong with it, where the client is told only DATA_LOSS or UNAVAILABLE.
TEST_F(CaseFileTampering, DamageAndStorageFailuresAreLoggedWithTheBlob) {
  auto client = server_.login("bachu.clinician");
  const auto flipped = upload_file(*client, 6);
  const auto unreadable = upload_file(*client, 7);
  client.reset();
  server_.stop();
  // Added while no server thread runs, and kept: a ring buffer outlives the test harmlessly.
  auto log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  spdlog::default_logger()->sinks().push_back(log);

  auto bytes = read_all(flipped.blob);
  bytes[2 * kRecord + kRecordHeader + 10] ^= 0x01;  // inside segment 2's ciphertext
  write_all(flipped.blob, bytes);
  std::filesystem::remove(unreadable.blob);  // a directory where the file was: reads fail
  std::filesystem::create_directory(unreadable.blob);

  server_.restart();
  client = server_.login("bachu.clinician");
  expect_segment(*client, flipped, 2, v1::DATA_LOSS);
  EXPECT_EQ(client->call(read_frame(unreadable.file_id, 0, kChunk)).status().code(),
            v1::UNAVAILABLE);

  const std::vector<std::string> lines = log->last_formatted();
  const auto logged = [&lines](const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&text](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  };
  const auto blob_id = [](const Uploaded& file) {
    return std::filesystem::path(file.blob).stem().string();
  };
  EXPECT_TRUE(logged("case files: blob " + blob_id(flipped) +
                     " is corrupted: segment 2 fails authentication"));
  EXPECT_TRUE(logged("for blob " + blob_id(unreadable) + ": "));
}

}  // namespace
}  // namespace tmc::testing

// Directory BlobStore specifics: file layout, torn writes after a crash, corruption handling.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "blob/blob_store.hpp"
#include "crypto/hash.hpp"
#include "temp_dir.hpp"

namespace tmc::blob {
namespace {

using testing::read_file;
using testing::write_file;

class DirectoryBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open_directory_blob_store(root()); }
  std::filesystem::path root() const { return dir_.path() / "blobs"; }
  std::filesystem::path file(const std::string& id) const { return root() / (id + ".blob"); }
  void reopen() {
    store_.reset();
    store_ = open_directory_blob_store(root());
  }
  void append_raw(const std::string& id, const std::string& bytes) {
    std::ofstream out(file(id), std::ios::binary | std::ios::app);
    out << bytes;
    ASSERT_TRUE(out.flush());
  }
  void put_three(const std::string& id) {
    for (std::uint32_t i = 0; i < 3; ++i) store_->put_segment(id, i, segment(i));
  }
  static std::string segment(std::uint32_t i) { return std::string(1000 + i, char('a' + i)); }

  testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(DirectoryBlobStoreTest, KeepsOnePrivateFilePerBlobInsideRoot) {
  store_->put_segment("b1", 0, "x");
  store_->put_segment("b2", 0, "y");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(root())) {
    names.push_back(entry.path().filename().string());
    EXPECT_EQ(entry.status().permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"b1.blob", "b2.blob"}));
  EXPECT_EQ(std::filesystem::status(root()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  EXPECT_EQ(store_->stored_bytes("b1"), std::filesystem::file_size(file("b1")));
}

TEST_F(DirectoryBlobStoreTest, SurvivesReopen) {
  put_three("b1");
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(store_->get_segment("b1", i), segment(i));
}

TEST_F(DirectoryBlobStoreTest, TornTailIsDroppedOnReopenAndOverwrittenByNextWrite) {
  put_three("b1");
  const std::uint64_t durable_size = std::filesystem::file_size(file("b1"));
  // Garbage of several shapes: shorter than a record header, a header claiming more data than
  // exists, and a complete record whose check does not match (size reached disk, data not).
  const std::string full_record = read_file(file("b1")).substr(0, 20 + 1000);
  std::string bad_check = full_record;
  bad_check[7] = 3;       // index 3 so only the check is wrong
  bad_check[25] ^= 0x10;  // payload byte
  for (const std::string& garbage : {std::string("\x54\x4d\x43", 3), std::string(64, '\xff'),
                                     full_record.substr(0, 300), bad_check}) {
    std::filesystem::resize_file(file("b1"), durable_size);
    append_raw("b1", garbage);
    reopen();
    ASSERT_EQ(store_->segment_count("b1"), 3u) << garbage.size();
    EXPECT_FALSE(store_->get_segment("b1", 3));
    EXPECT_EQ(store_->get_segment("b1", 2), segment(2));
    EXPECT_EQ(store_->stored_bytes("b1"), durable_size);
  }
  // Reading left the file alone; the next append replaces the torn tail.
  EXPECT_GT(std::filesystem::file_size(file("b1")), durable_size);
  store_->put_segment("b1", 3, "next");
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 4u);
  EXPECT_EQ(store_->get_segment("b1", 3), "next");
  EXPECT_EQ(std::filesystem::file_size(file("b1")), durable_size + 20 + 4);
}

TEST_F(DirectoryBlobStoreTest, SeesChangesMadeByAnotherStoreOnTheSameDirectory) {
  put_three("b1");
  EXPECT_EQ(store_->segment_count("b1"), 3u);  // cached now
  const auto other = open_directory_blob_store(root());
  other->put_segment("b1", 3, "from elsewhere");
  EXPECT_EQ(store_->segment_count("b1"), 4u);
  EXPECT_EQ(store_->get_segment("b1", 3), "from elsewhere");
  other->truncate("b1", 1);
  EXPECT_EQ(store_->segment_count("b1"), 1u);
}

TEST_F(DirectoryBlobStoreTest, FlippedPayloadByteInMiddleRecordKeepsLaterSegments) {
  put_three("b1");
  std::string raw = read_file(file("b1"));
  raw[20 + 10] ^= 0x01;  // segment 0 payload: detected by the AEAD layer, not dropped here
  write_file(file("b1"), raw);
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 3u);
  EXPECT_NE(store_->get_segment("b1", 0), segment(0));
  EXPECT_EQ(store_->get_segment("b1", 2), segment(2));
}

TEST_F(DirectoryBlobStoreTest, RefusesToCutACorruptedRegionLargerThanOneRecord) {
  put_three("b1");
  std::string raw = read_file(file("b1"));
  raw[0] = 'X';  // first record's magic: everything after it is unreadable
  write_file(file("b1"), raw);
  // Sparse zeros make the unreadable region longer than any single (torn) append could be.
  const std::uintmax_t size = 2 * max_stored_segment_size;
  std::filesystem::resize_file(file("b1"), size);
  reopen();
  EXPECT_EQ(store_->segment_count("b1"), 0u);
  EXPECT_THROW(store_->put_segment("b1", 0, "x"), BlobStoreError);
  EXPECT_EQ(std::filesystem::file_size(file("b1")), size);
}

// A record as stores before the CRC check wrote it: magic "TMCS", SHA-256 check.
std::string legacy_record(std::uint32_t index, const std::string& payload) {
  std::string record = "TMCS";
  for (const std::uint32_t value : {index, static_cast<std::uint32_t>(payload.size())}) {
    for (int shift = 24; shift >= 0; shift -= 8) record.push_back(char((value >> shift) & 0xff));
  }
  crypto::Sha256 hash;
  hash.update(record);
  hash.update(payload);
  return record + hash.finish().substr(0, 8) + payload;
}

TEST_F(DirectoryBlobStoreTest, ReadsAndExtendsFilesWrittenWithTheSha256Check) {
  append_raw("old", legacy_record(0, segment(0)) + legacy_record(1, segment(1)));
  reopen();
  ASSERT_EQ(store_->segment_count("old"), 2u);
  EXPECT_EQ(store_->get_segment("old", 1), segment(1));
  store_->put_segment("old", 2, segment(2));  // a new-format record after the old ones
  reopen();
  ASSERT_EQ(store_->segment_count("old"), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(store_->get_segment("old", i), segment(i));

  // An old-format final record whose check fails is a torn write, as before.
  std::string torn = legacy_record(0, segment(0));
  torn.back() ^= 0x01;
  append_raw("torn", torn);
  reopen();
  EXPECT_EQ(store_->segment_count("torn"), 0u);
}

TEST_F(DirectoryBlobStoreTest, UnusableRootThrows) {
  write_file(dir_.path() / "plain-file", "x");
  EXPECT_THROW(open_directory_blob_store(dir_.path() / "plain-file"), BlobStoreError);
}

}  // namespace
}  // namespace tmc::blob

// Encrypted files end to end: round trips, random access, digests, tampering, resumption.
#include "blob/blob_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <new>
#include <fstream>
#include <random>
#include <vector>

#include "crypto/hash.hpp"
#include "crypto/keyring.hpp"
#include "temp_dir.hpp"

namespace tmc::blob {
namespace {

constexpr std::uint32_t seg = 4096;
constexpr std::uint64_t five_and_a_half = 5 * seg + seg / 2;

std::string pseudo_random(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(generator() & 0xff);
  return out;
}

class BlobFileTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open_directory_blob_store(root()); }

  std::filesystem::path root() const { return dir_.path() / "blobs"; }
  SegmentCipher cipher(const std::string& id) const { return SegmentCipher(key_, id, header_); }

  FinishedBlob write(BlobStore& store, const std::string& id, std::string_view plaintext,
                     std::size_t chunk = seg) {
    Result<EncryptedBlobWriter> writer = EncryptedBlobWriter::create(store, cipher(id), id);
    EXPECT_TRUE(writer);
    for (std::size_t offset = 0; offset < plaintext.size(); offset += chunk) {
      EXPECT_TRUE(writer->append(plaintext.substr(offset, chunk)));
    }
    Result<FinishedBlob> finished = writer->finish();
    EXPECT_TRUE(finished);
    return *finished;
  }
  FinishedBlob write(const std::string& id, std::string_view plaintext) {
    return write(*store_, id, plaintext);
  }

  EncryptedBlobReader reader(const std::string& id, std::uint64_t size) {
    return EncryptedBlobReader(*store_, cipher(id), id, size);
  }

  // Rewrites segment index of id with bytes through the store API (any backend).
  void replace_segment(const std::string& id, std::uint32_t index, const std::string& bytes) {
    std::vector<std::string> segments;
    const std::uint32_t count = store_->segment_count(id);
    for (std::uint32_t i = 0; i < count; ++i) segments.push_back(*store_->get_segment(id, i));
    segments.at(index) = bytes;
    store_->truncate(id, index);
    for (std::uint32_t i = index; i < count; ++i) store_->put_segment(id, i, segments[i]);
  }

  testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  std::string key_ = crypto::KeyRing::new_data_key();
  FileHeader header_ = FileHeader::create(seg);
};

void expect_data_loss(const Result<std::string>& result, const std::string& what) {
  ASSERT_FALSE(result) << what;
  EXPECT_EQ(result.error().code, Code::data_loss) << what;
  EXPECT_EQ(result.error().message, "stored file is corrupted");
}

TEST_F(BlobFileTest, RoundTripsBoundarySizesWithAnyChunking) {
  const auto memory = make_memory_blob_store();
  int n = 0;
  for (BlobStore* store : {store_.get(), memory.get()}) {
    for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{seg - 1},
                                     std::uint64_t{seg}, std::uint64_t{seg + 1}, five_and_a_half}) {
      for (const std::size_t chunk : {std::size_t{seg}, std::size_t{1000}, std::size_t{7777}}) {
        const std::string id = "fil_" + std::to_string(n++);
        const std::string plaintext = pseudo_random(size, static_cast<unsigned>(n));
        const FinishedBlob finished = write(*store, id, plaintext, chunk);
        const std::string what = "size " + std::to_string(size) + " chunk " + std::to_string(chunk);
        EXPECT_EQ(finished.size, size) << what;
        EXPECT_EQ(finished.sha256, crypto::sha256(plaintext)) << what;
        EXPECT_EQ(store->segment_count(id), size / seg + 1) << what;

        Result<EncryptedBlobReader> reader = EncryptedBlobReader::open(*store, cipher(id), id);
        ASSERT_TRUE(reader) << what;
        EXPECT_EQ(reader->size(), size) << what;
        EXPECT_EQ(reader->read(0, size + 10).value(), plaintext) << what;
        EXPECT_EQ(reader->sha256().value(), finished.sha256) << what;
      }
    }
  }
}

TEST_F(BlobFileTest, RandomAccessReadsMatchThePlaintext) {
  const std::string plaintext = pseudo_random(five_and_a_half, 7);
  write("fil_a", plaintext);
  const EncryptedBlobReader file = reader("fil_a", plaintext.size());

  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const std::uint64_t offset :
       {std::uint64_t{0}, std::uint64_t{seg - 1}, std::uint64_t{seg}, std::uint64_t{seg + 1},
        std::uint64_t{5 * seg}, five_and_a_half - 1, five_and_a_half}) {
    for (const std::uint64_t length : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{seg},
                                       std::uint64_t{3 * seg + 5}, std::uint64_t{1} << 40}) {
      ranges.emplace_back(offset, length);
    }
  }
  std::mt19937 generator(42);
  for (int i = 0; i < 300; ++i) {
    ranges.emplace_back(generator() % (five_and_a_half + 1), generator() % (2 * seg));
  }
  for (const auto& [offset, length] : ranges) {
    const Result<std::string> bytes = file.read(offset, length);
    ASSERT_TRUE(bytes) << offset << "+" << length;
    EXPECT_EQ(*bytes, plaintext.substr(offset, length)) << offset << "+" << length;
  }
  const Result<std::string> past = file.read(five_and_a_half + 1, 1);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, Code::out_of_range);
}

TEST_F(BlobFileTest, CommittedSizeCountsOnlyStoredSegments) {
  Result<EncryptedBlobWriter> writer =
      EncryptedBlobWriter::create(*store_, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->append(std::string(seg, 'a')));
  EXPECT_EQ(writer->committed_size(), seg);
  EXPECT_EQ(store_->segment_count("fil_a"), 1u);
  ASSERT_TRUE(writer->append(std::string(100, 'b')));
  EXPECT_EQ(writer->committed_size(), seg);
  EXPECT_EQ(writer->size(), seg + 100);
  ASSERT_TRUE(writer->append(std::string(seg, 'c')));
  EXPECT_EQ(writer->committed_size(), 2 * seg);
  EXPECT_EQ(writer->size(), 2 * seg + 100);
}

// A 5.5-segment file (segments 0..5, the last one half full) for the tamper tests.
class TamperTest : public BlobFileTest {
 protected:
  void SetUp() override {
    BlobFileTest::SetUp();
    plaintext_ = pseudo_random(five_and_a_half, 3);
    write("fil_a", plaintext_);
  }

  // Reads covering only segments in [first, last] succeed and return the plaintext; reads
  // touching any segment in bad (sorted list) answer data_loss.
  void expect_reads(const std::vector<std::uint64_t>& bad, std::uint64_t size) {
    const EncryptedBlobReader file = reader("fil_a", size);
    const auto touches_bad = [&](std::uint64_t offset, std::uint64_t end) {
      for (const std::uint64_t index : bad) {
        const std::uint64_t start = index * seg;
        if (offset < start + seg && end > start) return true;
        if (end == size && index == size / seg) return true;  // reaching the end checks the last
      }
      return false;
    };
    for (std::uint64_t offset = 0; offset < size; offset += seg / 2) {
      for (const std::uint64_t length : {std::uint64_t{1}, std::uint64_t{seg}, size}) {
        const std::uint64_t end = std::min(size, offset + length);
        const Result<std::string> result = file.read(offset, length);
        const std::string what = std::to_string(offset) + "+" + std::to_string(length);
        if (touches_bad(offset, end)) {
          expect_data_loss(result, what);
        } else {
          ASSERT_TRUE(result) << what;
          EXPECT_EQ(*result, plaintext_.substr(offset, length)) << what;
        }
      }
    }
    expect_data_loss(file.sha256(), "sha256");
  }

  std::string plaintext_;
};

TEST_F(TamperTest, FlippedByteFailsOnlyItsSegment) {
  std::string sealed = *store_->get_segment("fil_a", 2);
  sealed[100] = static_cast<char>(sealed[100] ^ 0x20);
  replace_segment("fil_a", 2, sealed);
  expect_reads({2}, five_and_a_half);
}

TEST_F(TamperTest, FlippedByteOnDiskIsDetected) {
  const std::filesystem::path path = root() / "fil_a.blob";
  std::string raw = testing::read_file(path);
  const std::size_t record = 20 + seg + 16;
  raw[record + 20 + 7] = static_cast<char>(raw[record + 20 + 7] ^ 0x01);  // segment 1 payload
  testing::write_file(path, raw);
  expect_reads({1}, five_and_a_half);
}

TEST_F(TamperTest, SwappedSegmentsFail) {
  const std::string one = *store_->get_segment("fil_a", 1);
  const std::string two = *store_->get_segment("fil_a", 2);
  replace_segment("fil_a", 1, two);
  replace_segment("fil_a", 2, one);
  expect_reads({1, 2}, five_and_a_half);
}

TEST_F(TamperTest, DroppedLastSegmentFails) {
  store_->truncate("fil_a", 5);
  expect_reads({5}, five_and_a_half);
  const Result<EncryptedBlobReader> opened =
      EncryptedBlobReader::open(*store_, cipher("fil_a"), "fil_a");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::data_loss);
}

TEST_F(TamperTest, SegmentCopiedFromAnotherFileFails) {
  // Same data key and header, other file id; then another file with its own key.
  write("fil_b", pseudo_random(five_and_a_half, 4));
  replace_segment("fil_a", 3, *store_->get_segment("fil_b", 3));
  expect_reads({3}, five_and_a_half);

  const std::string other_key = crypto::KeyRing::new_data_key();
  const SegmentCipher foreign(other_key, "fil_a", header_);
  replace_segment("fil_a", 3, foreign.seal_segment(3, false, plaintext_.substr(3 * seg, seg)));
  expect_reads({3}, five_and_a_half);
}

TEST_F(TamperTest, WrongRecordedSizeFailsAtTheEnd) {
  // A size short by one byte, or one ending on an earlier segment boundary, makes the read
  // that reaches the claimed end open a segment as last which was not sealed as last.
  expect_data_loss(reader("fil_a", five_and_a_half - 1).read(0, five_and_a_half), "short");
  expect_data_loss(reader("fil_a", 2 * seg).read(seg, seg), "boundary");
  expect_data_loss(reader("fil_a", 7 * seg).read(6 * seg, 1), "beyond");
  EXPECT_EQ(reader("fil_a", 2 * seg).read(0, 100).value(), plaintext_.substr(0, 100));
}

TEST_F(BlobFileTest, DroppedEmptyLastSegmentFailsAtTheEnd) {
  const std::string plaintext = pseudo_random(2 * seg, 5);
  write("fil_a", plaintext);
  store_->truncate("fil_a", 2);
  const EncryptedBlobReader file = reader("fil_a", plaintext.size());
  expect_data_loss(file.read(seg, seg), "tail");
  expect_data_loss(file.read(2 * seg, 1), "eof");
  EXPECT_EQ(file.read(0, seg).value(), plaintext.substr(0, seg));
}

TEST_F(BlobFileTest, PlaintextNeverReachesTheDisk) {
  const std::string marker = "PATIENT-MARKER-3f9c2a71-Zhang-Wei-HIV-positive";
  std::string plaintext;
  while (plaintext.size() < 3 * seg) plaintext += marker + pseudo_random(97, 1);
  const FinishedBlob finished = write("fil_a", plaintext);
  ASSERT_EQ(finished.size, plaintext.size());
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string contents = testing::read_file(entry.path());
    EXPECT_EQ(contents.find(marker), std::string::npos) << entry.path();
    EXPECT_EQ(contents.find(marker.substr(0, 12)), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(BlobFileTest, ResumesAfterTheWriterAndStoreAreGone) {
  const std::string plaintext = pseudo_random(five_and_a_half, 9);
  {
    Result<EncryptedBlobWriter> writer =
        EncryptedBlobWriter::create(*store_, cipher("fil_a"), "fil_a");
    ASSERT_TRUE(writer);
    for (std::uint64_t i = 0; i < 3; ++i)
      ASSERT_TRUE(writer->append(plaintext.substr(i * seg, seg)));
  }
  store_.reset();
  store_ = open_directory_blob_store(root());
  EXPECT_EQ(store_->segment_count("fil_a"), 3u);

  Result<EncryptedBlobWriter> writer =
      EncryptedBlobWriter::resume(*store_, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_EQ(writer->committed_size(), 3 * seg);
  ASSERT_TRUE(writer->append(std::string_view(plaintext).substr(writer->committed_size())));
  const Result<FinishedBlob> finished = writer->finish();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->size, plaintext.size());
  EXPECT_EQ(finished->sha256, crypto::sha256(plaintext));
  EXPECT_EQ(reader("fil_a", plaintext.size()).read(0, plaintext.size()).value(), plaintext);
}

TEST_F(BlobFileTest, ResumeContinuesAfterLostTailAndTornWrite) {
  const std::string plaintext = pseudo_random(five_and_a_half, 10);
  {
    Result<EncryptedBlobWriter> writer =
        EncryptedBlobWriter::create(*store_, cipher("fil_a"), "fil_a");
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->append(std::string_view(plaintext).substr(0, 3 * seg + 100)));
    EXPECT_EQ(writer->committed_size(), 3 * seg);
  }
  {
    std::ofstream out(root() / "fil_a.blob", std::ios::binary | std::ios::app);
    out << pseudo_random(3000, 11);  // a crash in the middle of the next record
  }
  store_ = open_directory_blob_store(root());
  Result<EncryptedBlobWriter> writer =
      EncryptedBlobWriter::resume(*store_, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_EQ(writer->committed_size(), 3 * seg);
  ASSERT_TRUE(writer->append(std::string_view(plaintext).substr(3 * seg)));
  const Result<FinishedBlob> finished = writer->finish();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->sha256, crypto::sha256(plaintext));
  const Result<EncryptedBlobReader> file =
      EncryptedBlobReader::open(*store_, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->read(0, plaintext.size()).value(), plaintext);
}

TEST_F(BlobFileTest, WriterRefusesMisuse) {
  write("fil_a", "done");
  const Result<EncryptedBlobWriter> again =
      EncryptedBlobWriter::create(*store_, cipher("fil_a"), "fil_a");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::already_exists);
  const Result<EncryptedBlobWriter> resumed =
      EncryptedBlobWriter::resume(*store_, cipher("fil_a"), "fil_a");
  ASSERT_FALSE(resumed);
  EXPECT_EQ(resumed.error().code, Code::failed_precondition);

  for (const std::string id : {"../fil_a", "a/b", ""}) {
    const Result<EncryptedBlobWriter> bad = EncryptedBlobWriter::create(*store_, cipher(id), id);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Code::invalid_argument);
    EXPECT_THROW(EncryptedBlobReader(*store_, cipher(id), id, 0), std::invalid_argument);
  }

  Result<EncryptedBlobWriter> writer =
      EncryptedBlobWriter::create(*store_, cipher("fil_b"), "fil_b");
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->finish());
  EXPECT_EQ(writer->append("more").error().code, Code::failed_precondition);
  EXPECT_EQ(writer->finish().error().code, Code::failed_precondition);
}

TEST_F(BlobFileTest, ResumeRejectsCorruptedSegments) {
  Result<EncryptedBlobWriter> writer =
      EncryptedBlobWriter::create(*store_, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->append(pseudo_random(2 * seg, 12)));
  std::string sealed = *store_->get_segment("fil_a", 0);
  sealed[0] = static_cast<char>(sealed[0] ^ 1);
  replace_segment("fil_a", 0, sealed);
  const Result<EncryptedBlobWriter> resumed =
      EncryptedBlobWriter::resume(*store_, cipher("fil_a"), "fil_a");
  ASSERT_FALSE(resumed);
  EXPECT_EQ(resumed.error().code, Code::data_loss);
}

// Delegates to a memory store but fails every write once armed.
class FailingStore final : public BlobStore {
 public:
  void put_segment(const std::string& id, std::uint32_t index, std::string_view sealed) override {
    if (out_of_memory_) throw std::bad_alloc();
    if (fail_) throw BlobStoreError("disk full");
    inner_->put_segment(id, index, sealed);
  }
  std::optional<std::string> get_segment(const std::string& id, std::uint32_t index) override {
    if (fail_) throw BlobStoreError("disk gone");
    return inner_->get_segment(id, index);
  }
  std::uint32_t segment_count(const std::string& id) override { return inner_->segment_count(id); }
  void truncate(const std::string& id, std::uint32_t count) override {
    inner_->truncate(id, count);
  }
  void remove(const std::string& id) override { inner_->remove(id); }
  std::uint64_t stored_bytes(const std::string& id) override { return inner_->stored_bytes(id); }

  bool fail_ = false;
  bool out_of_memory_ = false;

 private:
  std::unique_ptr<BlobStore> inner_ = make_memory_blob_store();
};

TEST_F(BlobFileTest, StorageFailuresAreUnavailableAndStopTheWriter) {
  FailingStore store;
  Result<EncryptedBlobWriter> writer = EncryptedBlobWriter::create(store, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->append(std::string(seg, 'a')));
  store.fail_ = true;
  const Status failed = writer->append(std::string(seg, 'b'));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Code::unavailable);
  EXPECT_EQ(writer->append("x").error().code, Code::failed_precondition);

  const EncryptedBlobReader file(store, cipher("fil_a"), "fil_a", seg);
  EXPECT_EQ(file.read(0, 1).error().code, Code::unavailable);

  store.fail_ = false;
  Result<EncryptedBlobWriter> resumed =
      EncryptedBlobWriter::resume(store, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->committed_size(), seg);
}

// Chunks are stored on the case-file writer threads, where an exception would end the server:
// whatever a store throws is an error the upload recovers from.
TEST_F(BlobFileTest, AnyExceptionFromTheStoreIsUnavailable) {
  FailingStore store;
  Result<EncryptedBlobWriter> writer = EncryptedBlobWriter::create(store, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->append(std::string(seg, 'a')));
  store.out_of_memory_ = true;
  const Status failed = writer->append(std::string(seg, 'b'));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Code::unavailable);
  store.out_of_memory_ = false;
  Result<EncryptedBlobWriter> resumed =
      EncryptedBlobWriter::resume(store, cipher("fil_a"), "fil_a");
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->committed_size(), seg);
}

}  // namespace
}  // namespace tmc::blob

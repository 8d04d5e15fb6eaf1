// Directory BlobStore specifics: file layout, torn writes after a crash, corruption handling.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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
  // Cuts id back to durable_size, appends garbage (a torn append) and reopens: the store shows
  // the count segments it held, ending with last, as if nothing had been appended.
  void expect_torn_tail_ignored(const std::string& id, std::uint64_t durable_size,
                                const std::string& garbage, std::uint32_t count,
                                const std::string& last) {
    std::filesystem::resize_file(file(id), durable_size);
    append_raw(id, garbage);
    reopen();
    ASSERT_EQ(store_->segment_count(id), count) << garbage.size();
    EXPECT_FALSE(store_->get_segment(id, count));
    EXPECT_EQ(store_->get_segment(id, count - 1), last);
    EXPECT_EQ(store_->stored_bytes(id), durable_size);
  }
  void put_three(const std::string& id) {
    for (std::uint32_t i = 0; i < 3; ++i) store_->put_segment(id, i, segment(i));
  }
  static std::string segment(std::uint32_t i) { return std::string(1000 + i, char('a' + i)); }
  // A segment the size of an upload's chunk: stored as an aligned record (64 KiB and more).
  static std::string large_segment(std::uint32_t i) {
    return std::string(100'000 + i, char('k' + i));
  }
  void put_large(const std::string& id, std::uint32_t count) {
    for (std::uint32_t i = 0; i < count; ++i) store_->put_segment(id, i, large_segment(i));
  }

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
    expect_torn_tail_ignored("b1", durable_size, garbage, 3, segment(2));
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

// A damaged header in the middle of a file stops the scan there, like a torn append would.
// The records after it were acknowledged, so the next append must not cut them off, however
// short the file; once the header is repaired they are all readable again.
TEST_F(DirectoryBlobStoreTest, RefusesToCutRecordsThatFollowADamagedHeader) {
  put_three("b1");
  put_large("big", 4);
  const std::string plain = read_file(file("b1"));
  const std::string aligned = read_file(file("big"));
  const std::size_t second_plain = 20 + segment(0).size();
  const std::size_t second_aligned = 4096 * ((20 + large_segment(0).size() + 4095) / 4096);
  ASSERT_EQ(aligned.substr(second_aligned, 4), "TMCA");
  struct Case {
    std::string id;
    std::string raw;
    std::size_t damaged;
    std::size_t keep;  // bytes of the file left: the last record may be incomplete too
  };
  for (const Case& c : {Case{"b1", plain, second_plain, plain.size()},
                        Case{"b1", plain, second_plain, plain.size() - 10},
                        Case{"big", aligned, second_aligned, aligned.size()},
                        Case{"big", aligned, second_aligned, aligned.size() - 5000}}) {
    std::string damaged = c.raw.substr(0, c.keep);
    damaged[c.damaged] = 'X';
    write_file(file(c.id), damaged);
    reopen();
    ASSERT_EQ(store_->segment_count(c.id), 1u) << c.id << " " << c.keep;
    EXPECT_THROW(store_->put_segment(c.id, 1, "x"), BlobStoreError) << c.id << " " << c.keep;
    EXPECT_EQ(read_file(file(c.id)), damaged) << c.id << " " << c.keep;
  }
  write_file(file("b1"), plain);
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 3u);
  store_->put_segment("b1", 3, "after repair");
  EXPECT_EQ(store_->get_segment("b1", 1), segment(1));
  EXPECT_EQ(store_->get_segment("b1", 3), "after repair");
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

TEST_F(DirectoryBlobStoreTest, LargeSegmentsArePaddedToPageAlignedRecords) {
  put_large("big", 3);
  const std::string raw = read_file(file("big"));
  // Header (20 bytes) and payload, then zeros up to the next multiple of 4096.
  constexpr std::size_t record = 102'400;
  ASSERT_EQ(raw.size(), 3 * record);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(raw.substr(i * record, 4), "TMCA") << i;
    EXPECT_EQ(raw.substr(i * record + 20, 100'000 + i), large_segment(std::uint32_t(i))) << i;
    const std::size_t padding = record - 20 - 100'000 - i;
    EXPECT_EQ(raw.substr((i + 1) * record - padding, padding), std::string(padding, '\0')) << i;
  }
  EXPECT_EQ(store_->stored_bytes("big"), raw.size());

  // A short segment (an upload's last) is not padded; a large one after it cannot be aligned.
  store_->put_segment("big", 3, "end");
  store_->put_segment("big", 4, large_segment(4));
  EXPECT_EQ(std::filesystem::file_size(file("big")), 3 * record + 23 + 100'024);
  EXPECT_EQ(read_file(file("big")).substr(3 * record + 23, 4), "TMCC");
  reopen();
  ASSERT_EQ(store_->segment_count("big"), 5u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(store_->get_segment("big", i), large_segment(i));
  EXPECT_EQ(store_->get_segment("big", 3), "end");
  EXPECT_EQ(store_->get_segment("big", 4), large_segment(4));
  EXPECT_EQ(store_->stored_bytes("big"), std::filesystem::file_size(file("big")));

  // The threshold: a record (header included) of 64 KiB is aligned, one byte less is not.
  store_->put_segment("below", 0, std::string(65'535 - 20, 'b'));
  store_->put_segment("at", 0, std::string(65'536 - 20, 'a'));
  EXPECT_EQ(std::filesystem::file_size(file("below")), 65'535u);
  EXPECT_EQ(std::filesystem::file_size(file("at")), 65'536u);
  EXPECT_EQ(read_file(file("at")).substr(0, 4), "TMCA");
}

// A segment sealed into a segment_buffer() is written in place as the same aligned record a
// copy of its bytes would be; where the record cannot be aligned, as the same plain record.
TEST_F(DirectoryBlobStoreTest, SegmentsSealedIntoItsBuffersAreTheSameRecords) {
  auto put_buffered = [&](const std::string& id, std::uint32_t index, const std::string& bytes) {
    SegmentBuffer buffer = store_->segment_buffer(bytes.size());
    std::copy(bytes.begin(), bytes.end(), buffer.data());
    store_->put_segment_buffer(id, index, buffer);
  };
  const std::vector<std::string> segments{large_segment(0), large_segment(1), "end",
                                          large_segment(3)};
  for (std::uint32_t i = 0; i < segments.size(); ++i) {
    store_->put_segment("copied", i, segments[i]);
    put_buffered("in-place", i, segments[i]);
  }
  EXPECT_EQ(read_file(file("in-place")), read_file(file("copied")));
  EXPECT_EQ(read_file(file("in-place")).substr(102'400, 4), "TMCA");
  // A buffer of another store is not laid out for this one: its bytes are copied.
  auto other = open_directory_blob_store(dir_.path() / "other");
  SegmentBuffer foreign = other->segment_buffer(100'000);
  std::fill(foreign.data(), foreign.data() + foreign.size(), 'f');
  store_->put_segment_buffer("foreign", 0, foreign);
  store_->put_segment("foreign-copied", 0, std::string(100'000, 'f'));
  EXPECT_EQ(read_file(file("foreign")), read_file(file("foreign-copied")));
  reopen();
  for (std::uint32_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(store_->get_segment("in-place", i), segments[i]) << i;
  }
}

TEST_F(DirectoryBlobStoreTest, TornAlignedRecordIsDroppedAndOverwrittenByNextWrite) {
  put_large("b1", 2);
  const std::uint64_t durable_size = std::filesystem::file_size(file("b1"));
  put_large("ref", 3);  // its third record is what b1's next append would write
  const std::string next_record = read_file(file("ref")).substr(2 * 102'400);
  ASSERT_EQ(next_record.size(), 102'400u);
  std::string bad_check = next_record;
  bad_check[20 + 5'000] ^= 0x10;  // size reached the disk, a payload block did not
  for (const std::string& garbage :
       {next_record.substr(0, 50'000), next_record.substr(0, 20 + 100'002),
        next_record.substr(0, 102'400 - 1), bad_check}) {
    expect_torn_tail_ignored("b1", durable_size, garbage, 2, large_segment(1));
  }
  // The intact record is accepted, which shows the cases above fail only for their damage.
  std::filesystem::resize_file(file("b1"), durable_size);
  append_raw("b1", next_record);
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 3u);
  store_->truncate("b1", 2);
  append_raw("b1", bad_check);
  store_->put_segment("b1", 2, large_segment(2));
  reopen();
  ASSERT_EQ(store_->segment_count("b1"), 3u);
  EXPECT_EQ(store_->get_segment("b1", 2), large_segment(2));
  EXPECT_EQ(std::filesystem::file_size(file("b1")), durable_size + 102'400);
}

TEST_F(DirectoryBlobStoreTest, AlignedRecordCountsOnlyAtAnAlignedOffset) {
  // A plain record ending at 4096, then an aligned record 1.
  store_->put_segment("ref", 0, std::string(4096 - 20, 'r'));
  store_->put_segment("ref", 1, large_segment(1));
  const std::string aligned_record = read_file(file("ref")).substr(4096);
  ASSERT_EQ(aligned_record.substr(0, 4), "TMCA");
  // The same bytes after a record that ends elsewhere are not a record (followed by a page
  // more, so the record's padded end is inside the file and only its offset is wrong).
  store_->put_segment("odd", 0, std::string(4000, 'o'));
  append_raw("odd", aligned_record + std::string(4096, '\0'));
  reopen();
  EXPECT_EQ(store_->segment_count("ref"), 2u);
  EXPECT_EQ(store_->get_segment("ref", 1), large_segment(1));
  EXPECT_EQ(store_->segment_count("odd"), 1u);
}

// Where the file system takes O_DIRECT (ext4, xfs, tmpfs since Linux 6.6), aligned records
// do not go through the page cache, so a large upload leaves the cache to the database.
TEST_F(DirectoryBlobStoreTest, AlignedRecordsBypassThePageCache) {
  const std::filesystem::path probe = root() / "probe";
  const int probe_fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
  const bool direct = probe_fd >= 0;
  if (direct) ::close(probe_fd);
  std::filesystem::remove(probe);

  put_large("big", 8);
  const std::size_t size = std::filesystem::file_size(file("big"));
  const int fd = ::open(file("big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(mapped, MAP_FAILED);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  ASSERT_EQ(::mincore(mapped, size, resident.data()), 0);
  ::munmap(mapped, size);
  const auto cached = std::count_if(resident.begin(), resident.end(),
                                    [](unsigned char flags) { return (flags & 1) != 0; });
  if (direct) {
    EXPECT_EQ(cached, 0) << "of " << resident.size() << " pages";
  }
  // Read back through the page cache all the same.
  for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(store_->get_segment("big", i), large_segment(i));
}

// After a failed fdatasync the kernel may report a record's pages clean though they never
// reached the disk; read back from the cache, the record would pass for durable. It is cut
// before the error is reported, and the retried write takes its place.
std::atomic<int> failing_syncs{0};
int failing_sync(int descriptor) {
  if (failing_syncs.load() > 0) {
    --failing_syncs;
    errno = EIO;
    return -1;
  }
  return ::fdatasync(descriptor);
}

TEST_F(DirectoryBlobStoreTest, ARecordWhoseSyncFailedIsNotKept) {
  auto store = open_directory_blob_store(root(), failing_sync);
  for (const auto& write : {&segment, &large_segment}) {  // through the cache, and O_DIRECT
    const std::string id = write == &segment ? "b-small" : "b-large";
    SCOPED_TRACE(id);
    store->put_segment(id, 0, (*write)(0));
    failing_syncs = 1;
    EXPECT_THROW(store->put_segment(id, 1, (*write)(1)), BlobStoreError);
    EXPECT_EQ(store->segment_count(id), 1u);
    EXPECT_EQ(open_directory_blob_store(root())->segment_count(id), 1u);  // as after a restart
    store->put_segment(id, 1, (*write)(1));
    EXPECT_EQ(store->get_segment(id, 1), (*write)(1));
  }
}

// The blob's entry in the directory is made durable with its first record, also when the first
// attempt (which created the file) failed.
std::atomic<int> directory_syncs{0};
int counting_sync(int descriptor) {
  struct stat status {};
  if (::fstat(descriptor, &status) == 0 && S_ISDIR(status.st_mode)) ++directory_syncs;
  return failing_sync(descriptor);
}

TEST_F(DirectoryBlobStoreTest, TheDirectoryIsSyncedWithTheFirstRecordThatLands) {
  auto store = open_directory_blob_store(root(), counting_sync);
  failing_syncs = 1;
  directory_syncs = 0;
  EXPECT_THROW(store->put_segment("b-first", 0, segment(0)), BlobStoreError);
  EXPECT_EQ(directory_syncs.load(), 0);
  store->put_segment("b-first", 0, segment(0));
  EXPECT_EQ(directory_syncs.load(), 1);
  store->put_segment("b-first", 1, segment(1));
  EXPECT_EQ(directory_syncs.load(), 1) << "later records need no directory sync";
}

TEST_F(DirectoryBlobStoreTest, UnusableRootThrows) {
  write_file(dir_.path() / "plain-file", "x");
  EXPECT_THROW(open_directory_blob_store(dir_.path() / "plain-file"), BlobStoreError);
}

}  // namespace
}  // namespace tmc::blob

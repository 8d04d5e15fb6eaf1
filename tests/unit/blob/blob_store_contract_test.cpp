// BlobStore contract: behaviour every backend must show, run against each one.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.hpp"
#include "postgres_test_schema.hpp"
#include "store/postgres/postgres_blob_store.hpp"
#include "temp_dir.hpp"

namespace tmc::blob {
namespace {

// What a backend opens for one test: an empty store and what must outlive it (a schema).
struct OpenedStore {
  std::shared_ptr<const void> resources;  // first member: outlives the store
  std::unique_ptr<BlobStore> store;
};

struct Backend {
  std::string name;
  std::function<OpenedStore(const std::filesystem::path&)> open;
};

void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

class BlobStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    try {
      opened_ = GetParam().open(dir_.path() / "blobs");
    } catch (const tmc::testing::PostgresUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
    store_ = opened_.store.get();
  }

  testing::TempDir dir_;
  OpenedStore opened_;
  BlobStore* store_ = nullptr;
};

TEST_P(BlobStoreContract, UnknownBlobIsEmpty) {
  EXPECT_EQ(store_->segment_count("nothing"), 0u);
  EXPECT_FALSE(store_->get_segment("nothing", 0));
  EXPECT_EQ(store_->stored_bytes("nothing"), 0u);
  EXPECT_NO_THROW(store_->truncate("nothing", 0));
  EXPECT_NO_THROW(store_->remove("nothing"));
}

TEST_P(BlobStoreContract, StoresSegmentsInOrder) {
  store_->put_segment("b1", 0, "zero");
  store_->put_segment("b1", 1, "");
  store_->put_segment("b1", 2, std::string(100000, 'x'));
  EXPECT_EQ(store_->segment_count("b1"), 3u);
  EXPECT_EQ(store_->get_segment("b1", 0), "zero");
  EXPECT_EQ(store_->get_segment("b1", 1), "");
  EXPECT_EQ(store_->get_segment("b1", 2), std::string(100000, 'x'));
  EXPECT_FALSE(store_->get_segment("b1", 3));
  EXPECT_GE(store_->stored_bytes("b1"), 100004u);
  EXPECT_EQ(store_->segment_count("b2"), 0u);
}

TEST_P(BlobStoreContract, RejectsOutOfOrderIndex) {
  EXPECT_THROW(store_->put_segment("b1", 1, "gap"), BlobStoreError);
  store_->put_segment("b1", 0, "zero");
  EXPECT_THROW(store_->put_segment("b1", 0, "again"), BlobStoreError);
  EXPECT_THROW(store_->put_segment("b1", 2, "gap"), BlobStoreError);
  EXPECT_EQ(store_->segment_count("b1"), 1u);
  EXPECT_EQ(store_->get_segment("b1", 0), "zero");
}

TEST_P(BlobStoreContract, TruncateDropsLaterSegmentsAndAllowsRewriting) {
  for (std::uint32_t i = 0; i < 5; ++i) store_->put_segment("b1", i, "s" + std::to_string(i));
  const std::uint64_t bytes_before = store_->stored_bytes("b1");
  store_->truncate("b1", 7);
  EXPECT_EQ(store_->segment_count("b1"), 5u);
  store_->truncate("b1", 2);
  EXPECT_EQ(store_->segment_count("b1"), 2u);
  EXPECT_LT(store_->stored_bytes("b1"), bytes_before);
  EXPECT_FALSE(store_->get_segment("b1", 2));
  store_->put_segment("b1", 2, "new");
  EXPECT_EQ(store_->get_segment("b1", 1), "s1");
  EXPECT_EQ(store_->get_segment("b1", 2), "new");
  store_->truncate("b1", 0);
  EXPECT_EQ(store_->segment_count("b1"), 0u);
}

TEST_P(BlobStoreContract, RemoveDeletesOnlyThatBlob) {
  store_->put_segment("b1", 0, "one");
  store_->put_segment("b2", 0, "two");
  store_->remove("b1");
  EXPECT_EQ(store_->segment_count("b1"), 0u);
  EXPECT_EQ(store_->stored_bytes("b1"), 0u);
  EXPECT_EQ(store_->get_segment("b2", 0), "two");
  store_->put_segment("b1", 0, "reborn");
  EXPECT_EQ(store_->get_segment("b1", 0), "reborn");
}

TEST_P(BlobStoreContract, RejectsIdsThatAreNotPlainNames) {
  const std::vector<std::string> bad_ids = {"",
                                            "../b1",
                                            "a/b",
                                            "/etc/passwd",
                                            "..",
                                            ".",
                                            "b1.blob",
                                            "a b",
                                            "a\\b",
                                            std::string("a\0b", 3),
                                            std::string(129, 'a')};
  for (const std::string& id : bad_ids) {
    EXPECT_FALSE(valid_blob_id(id)) << id;
    EXPECT_THROW(store_->put_segment(id, 0, "x"), std::invalid_argument) << id;
    EXPECT_THROW(store_->get_segment(id, 0), std::invalid_argument) << id;
    EXPECT_THROW(store_->segment_count(id), std::invalid_argument) << id;
    EXPECT_THROW(store_->truncate(id, 0), std::invalid_argument) << id;
    EXPECT_THROW(store_->remove(id), std::invalid_argument) << id;
    EXPECT_THROW(store_->stored_bytes(id), std::invalid_argument) << id;
  }
  EXPECT_TRUE(valid_blob_id("fil_018c1f2e3a4b7x2m9q0r5s8t1v3w"));
  EXPECT_TRUE(valid_blob_id(std::string(128, 'Z')));
  EXPECT_TRUE(valid_blob_id("A-z_9"));
}

TEST_P(BlobStoreContract, RejectsOversizedSegments) {
  EXPECT_THROW(store_->put_segment("b1", 0, std::string(max_stored_segment_size + 1, 'x')),
               BlobStoreError);
  EXPECT_EQ(store_->segment_count("b1"), 0u);
}

TEST_P(BlobStoreContract, DifferentBlobsCanBeWrittenConcurrently) {
  constexpr int blobs = 4;
  constexpr std::uint32_t segments = 50;
  std::vector<std::thread> threads;
  for (int b = 0; b < blobs; ++b) {
    threads.emplace_back([this, b] {
      const std::string id = "c" + std::to_string(b);
      for (std::uint32_t i = 0; i < segments; ++i) {
        store_->put_segment(id, i, id + ":" + std::to_string(i));
        // Readers of the same blob run alongside its writer.
        ASSERT_EQ(store_->get_segment(id, i / 2), id + ":" + std::to_string(i / 2));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int b = 0; b < blobs; ++b) {
    const std::string id = "c" + std::to_string(b);
    ASSERT_EQ(store_->segment_count(id), segments);
    for (std::uint32_t i = 0; i < segments; ++i) {
      EXPECT_EQ(store_->get_segment(id, i), id + ":" + std::to_string(i));
    }
  }
}

TEST_P(BlobStoreContract, KeepsTheLargestCaseFileSegmentIntact) {
  // A 16 MiB chunk sealed with its 64 bytes of framing: every byte value, in a pattern that
  // shows a shifted or truncated copy.
  std::string sealed((std::size_t{16} << 20) + 64, '\0');
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    sealed[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  store_->put_segment("big", 0, sealed);
  store_->put_segment("big", 1, "tail");
  EXPECT_EQ(store_->get_segment("big", 0), sealed);
  EXPECT_EQ(store_->get_segment("big", 1), "tail");
  EXPECT_GE(store_->stored_bytes("big"), sealed.size() + 4);
}

// A segment sealed into the store's own memory is stored as those bytes, whatever the size
// and wherever in the blob it lands; the memory stays valid until the buffer is gone, also
// when it outlives the store.
TEST_P(BlobStoreContract, StoresSegmentsSealedIntoItsBuffers) {
  auto pattern = [](std::size_t size, int seed) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + seed) & 0xff);
    return bytes;
  };
  auto put = [&](const std::string& id, std::uint32_t index, const std::string& bytes) {
    SegmentBuffer buffer = store_->segment_buffer(bytes.size());
    ASSERT_EQ(buffer.size(), bytes.size());
    std::copy(bytes.begin(), bytes.end(), buffer.data());
    store_->put_segment_buffer(id, index, buffer);
  };
  // Large (an upload's chunk), small, empty, then large again after a small one.
  const std::vector<std::string> segments{pattern((1u << 20) + 16, 1), pattern(100'016, 2),
                                          pattern(300, 3), pattern(0, 4),
                                          pattern((1u << 20) + 16, 5)};
  for (std::uint32_t i = 0; i < segments.size(); ++i) put("b1", i, segments[i]);
  ASSERT_EQ(store_->segment_count("b1"), segments.size());
  for (std::uint32_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(store_->get_segment("b1", i), segments[i]) << i;
  }
  // The contract of put_segment holds: out of order is refused and leaves the blob as it was.
  SegmentBuffer late = store_->segment_buffer(70'000);
  EXPECT_THROW(store_->put_segment_buffer("b1", 9, late), BlobStoreError);
  EXPECT_EQ(store_->segment_count("b1"), segments.size());

  SegmentBuffer kept = store_->segment_buffer(100'000);
  std::fill(kept.data(), kept.data() + kept.size(), 'k');
  opened_.store.reset();
  store_ = nullptr;
  EXPECT_EQ(kept.bytes(), std::string(100'000, 'k'));
}

OpenedStore open_postgres(const std::filesystem::path&) {
  auto schema = std::make_shared<tmc::testing::PostgresTestSchema>("blob_contract_");
  // The schema comes with the connection string, as in `tmc-server --store URI`.
  store::PostgresOptions options;
  options.conninfo = schema->conninfo_in_schema();
  return {schema, store::open_postgres_blob_store(options)};
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BlobStoreContract,
    ::testing::Values(Backend{"directory",
                              [](const std::filesystem::path& root) {
                                return OpenedStore{nullptr, open_directory_blob_store(root)};
                              }},
                      Backend{"memory",
                              [](const std::filesystem::path&) {
                                return OpenedStore{nullptr, make_memory_blob_store()};
                              }},
                      Backend{"postgres", open_postgres}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace tmc::blob

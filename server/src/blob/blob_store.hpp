// BlobStore: durable, append-only storage of sealed segments per blob id (the storage port).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tmc::blob {

// An I/O failure (disk full, permission, corrupted storage that cannot be repaired) or a
// broken contract (appending at the wrong index). Messages carry blob ids and errno text,
// never segment contents.
class BlobStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Blob ids are opaque names, never paths: 1 to 128 characters from [A-Za-z0-9_-].
inline constexpr std::size_t max_blob_id_size = 128;
bool valid_blob_id(std::string_view blob_id) noexcept;

// Largest sealed segment a store accepts.
inline constexpr std::size_t max_stored_segment_size = (std::size_t{64} << 20) + 64;

// The segments of a blob are numbered 0, 1, ... without gaps. The store neither knows nor
// checks the encryption format; it only keeps bytes durable and in order.
//
// Every member throws std::invalid_argument for an invalid blob id and BlobStoreError on I/O
// failure. An unknown blob behaves as a blob with zero segments. Implementations are
// thread-safe for different blob ids and for concurrent readers of one blob; writes to one
// blob id (put_segment, truncate, remove) need one writer at a time.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Appends sealed as segment index. Durable when it returns. Throws BlobStoreError if index is
  // not segment_count(blob_id) or sealed is larger than max_stored_segment_size.
  virtual void put_segment(const std::string& blob_id, std::uint32_t index,
                           std::string_view sealed) = 0;

  // The bytes stored as segment index; nullopt if there is no such segment.
  virtual std::optional<std::string> get_segment(const std::string& blob_id,
                                                 std::uint32_t index) = 0;

  // Number of durable segments. A write torn by a crash is not counted (and is discarded by
  // the next put_segment), so a resumed upload continues after the last durable segment.
  virtual std::uint32_t segment_count(const std::string& blob_id) = 0;

  // Drops segments >= count (no-op if there are not more than count). Durable when it returns.
  virtual void truncate(const std::string& blob_id, std::uint32_t count) = 0;

  // Deletes the blob; no-op if it does not exist. Durable when it returns.
  virtual void remove(const std::string& blob_id) = 0;

  // Bytes the blob's durable segments occupy in storage, including per-segment framing
  // (quota accounting); 0 for an unknown blob.
  virtual std::uint64_t stored_bytes(const std::string& blob_id) = 0;
};

// A store keeping one append-only file per blob, "<root>/<blob id>.blob". Creates root (mode
// 0700) if needed; throws BlobStoreError if it cannot. See directory_blob_store.cpp for the
// record layout and crash-recovery rules. Several processes may share root if each blob has
// one writer.
std::unique_ptr<BlobStore> open_directory_blob_store(std::filesystem::path root);

// A process-local store in memory, for tests of code that uses a BlobStore.
std::unique_ptr<BlobStore> make_memory_blob_store();

}  // namespace tmc::blob

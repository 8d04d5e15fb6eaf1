// BlobStore: durable, append-only storage of sealed segments per blob id (the storage port).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

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

// Memory a segment is sealed into on its way to BlobStore::put_segment_buffer: size() bytes at
// data(). It owns that memory (which goes back to the store's pool when the buffer is destroyed)
// and may have room around it that the store that laid it out uses to write the segment without
// copying it. Move-only.
class SegmentBuffer {
 public:
  SegmentBuffer() = default;
  // size bytes at data, kept alive by owner; layout names the store that laid the memory out.
  SegmentBuffer(std::shared_ptr<void> owner, char* data, std::size_t size,
                const void* layout = nullptr) noexcept
      : owner_(std::move(owner)), data_(data), size_(size), layout_(layout) {}
  SegmentBuffer(SegmentBuffer&& other) noexcept { *this = std::move(other); }
  SegmentBuffer& operator=(SegmentBuffer&& other) noexcept {
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    layout_ = std::exchange(other.layout_, nullptr);
    return *this;
  }

  char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::string_view bytes() const noexcept { return {data_, size_}; }
  const void* layout() const noexcept { return layout_; }

 private:
  std::shared_ptr<void> owner_;
  char* data_ = nullptr;
  std::size_t size_ = 0;
  const void* layout_ = nullptr;
};

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

  // Memory for a sealed segment of size bytes, which put_segment_buffer stores with the contract
  // of put_segment, without copying it where the store can (the directory store writes it in
  // place). By default plain memory from a shared pool, stored by put_segment. Either way the
  // bytes stored are segment.bytes(); put_segment_buffer may overwrite the room around them.
  virtual SegmentBuffer segment_buffer(std::size_t size);
  virtual void put_segment_buffer(const std::string& blob_id, std::uint32_t index,
                                  const SegmentBuffer& segment) {
    put_segment(blob_id, index, segment.bytes());
  }

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
// one writer. sync makes a blob file's data, or root's entries, durable: null for fdatasync(2)
// of files and fsync(2) of root; tests pass one that fails or counts.
using DataSync = int (*)(int descriptor);
std::unique_ptr<BlobStore> open_directory_blob_store(std::filesystem::path root,
                                                     DataSync sync = nullptr);

// A process-local store in memory, for tests of code that uses a BlobStore.
std::unique_ptr<BlobStore> make_memory_blob_store();

}  // namespace tmc::blob

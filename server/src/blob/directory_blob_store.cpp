// BlobStore over a directory: one append-only file of checksummed records per blob.
//
// Record layout (integers big-endian), records back to back from offset 0:
//   0   4  magic "TMCC"
//   4   4  segment index (the record's position, 0, 1, ...)
//   8   4  payload length n (at most max_stored_segment_size)
//   12  8  check: CRC-32C(bytes 0..11 || payload), then 4 zero bytes
//   20  n  payload (the sealed segment)
// A record of magic "TMCA" (aligned) has the same header and check, starts at a multiple of
// 4096 bytes and is followed by zeros up to the next multiple of 4096; the zeros belong to the
// record and are not checked. Records written before the CRC (magic "TMCS") carry the first 8
// bytes of SHA-256(bytes 0..11 || payload) as their check; they are read and verified as
// before, and a file may hold all three kinds. The check only has to catch a torn write, which
// a CRC does at a fraction of the cost of a hash (the payload is an AEAD segment,
// authenticated by the layer above).
//
// put_segment writes one record at the end of the valid records, then fdatasync (and fsyncs
// the directory with a blob's first record), so a segment is durable before the call returns; a
// record whose fdatasync fails is cut off again before the error is reported. A crash can only
// tear the record being appended. A record of at least 64 KiB that would start
// at a multiple of 4096 bytes (every segment of an upload but its last, with the usual chunk
// sizes) is written as an aligned record with O_DIRECT, from memory of the store's own: the
// page cache's copy of the file was a quarter of an upload's server CPU, and gigabytes of case
// files no longer push the database's pages out of the cache. Where the file system refuses
// O_DIRECT the same record is written through the page cache. Smaller records are written as
// "TMCC" with one pwritev of header and payload (padding a short segment to 4 KiB would cost
// more than the copy saves).
//
// Reading the file, a scan walks the record headers and stops at the first record that is
// incomplete (an aligned one: with its padding), runs past the end of the file, has the wrong
// magic or index, is an aligned record at an unaligned offset, or - for the final record only
// - fails its check (its data blocks may not have reached the disk even though the size did).
// Everything from there on is a torn tail: not counted, never returned, and cut off by the
// next put_segment. Reads never modify the file. A tail longer than one record, or one that
// holds the header of a later record, cannot come from a torn append (which writes only the
// next record): it starts with damage to acknowledged records, and put_segment refuses to
// cut it (BlobStoreError) rather than destroy data that may be recoverable. Middle records'
// checks are not verified on every scan: the AEAD layer authenticates each segment anyway.
//
// The scan result (record offsets) is cached per blob and keyed by the file's device, inode,
// size and modification time, so an unchanged file is scanned once and a file changed by
// another process is rescanned.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <utility>
#include <vector>

#include "blob/blob_store.hpp"
#include "blob/crc32c.hpp"
#include "crypto/hash.hpp"

namespace tmc::blob {
namespace {

constexpr std::string_view record_magic = "TMCC";         // CRC-32C check
constexpr std::string_view legacy_record_magic = "TMCS";  // SHA-256 check
constexpr std::string_view aligned_record_magic = "TMCA";  // CRC-32C check, padded
constexpr std::size_t record_header_size = 20;
constexpr std::size_t check_size = 8;
constexpr std::size_t max_cached_blobs = 4096;
// Offset and size granularity of aligned records: the page size, which also satisfies the
// O_DIRECT alignment of any block device (logical blocks of 512 or 4096 bytes).
constexpr std::uint64_t record_alignment = 4096;
// Records shorter than this are not padded to an aligned record (at most 6% padding).
constexpr std::size_t min_aligned_record_size = 64 * 1024;
// Aligned staging memory kept for reuse by a store, in buffers of at most this size (larger
// ones, for segments beyond 4 MiB, are freed after their write): one per segment that can be
// sealed and waiting for its write on a few uploads at once.
constexpr std::size_t kept_staging_buffers = 16;
constexpr std::size_t max_kept_staging_size = 4u << 20;

std::uint64_t align_up(std::uint64_t value) {
  return (value + record_alignment - 1) / record_alignment * record_alignment;
}

[[noreturn]] void throw_errno(std::string_view what, const std::string& blob_id) {
  const int error = errno;
  throw BlobStoreError(std::string(what) + " for blob " + blob_id + ": " +
                       std::system_category().message(error));
}

void append_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xffu));
  }
}

std::uint32_t read_u32(const char* bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// The check of a record whose first 12 bytes are header_start (magic, index, length).
std::string record_check(std::string_view header_start, std::string_view payload) {
  if (header_start.substr(0, 4) == legacy_record_magic) {
    crypto::Sha256 hash;
    hash.update(header_start);
    hash.update(payload);
    return hash.finish().substr(0, check_size);
  }
  std::string check;
  append_u32(check, crc32c(payload, crc32c(header_start)));
  check.append(check_size - 4, '\0');
  return check;
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_;
};

// Identity of a file version: any append, truncation or replacement changes it.
struct FileVersion {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const FileVersion&, const FileVersion&) = default;
};

// Result of scanning a blob file.
struct RecordIndex {
  FileVersion version;
  std::vector<std::uint64_t> offsets;  // start of each valid record
  std::vector<std::uint32_t> lengths;  // payload length of each valid record
  std::uint64_t valid_end = 0;         // end of the last valid record, padding included
  std::uint64_t file_size = 0;

  std::uint64_t payload_offset(std::size_t index) const {
    return offsets[index] + record_header_size;
  }
  std::uint64_t payload_size(std::size_t index) const { return lengths[index]; }
};

bool read_exact(int fd, char* out, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Writes head then body at offset, in one system call unless the kernel writes less; advances
// both past what was written. 0, or the errno of the call that failed.
int write_all(int fd, std::string_view& head, std::string_view& body, std::uint64_t& offset) {
  while (!head.empty() || !body.empty()) {
    iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                      {const_cast<char*>(body.data()), body.size()}};
    const int first = head.empty() ? 1 : 0;
    const int count = body.empty() ? 1 - first : 2 - first;
    const ssize_t n = ::pwritev(fd, parts + first, count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    auto written = static_cast<std::size_t>(n);
    offset += written;
    const std::size_t from_head = std::min(written, head.size());
    head.remove_prefix(from_head);
    body.remove_prefix(written - from_head);
  }
  return 0;
}

void write_exact(int fd, std::string_view head, std::string_view body, std::uint64_t offset,
                 const std::string& id) {
  if (const int error = write_all(fd, head, body, offset); error != 0) {
    errno = error;
    throw_errno("write failed", id);
  }
}

// Writes an aligned record's bytes (at an aligned offset, from aligned memory) with O_DIRECT,
// or through the page cache where the file system refuses O_DIRECT for the file or the write.
void write_aligned(int fd, std::string_view bytes, std::uint64_t offset, const std::string& id) {
  std::string_view none;
  if (::fcntl(fd, F_SETFL, O_DIRECT) == 0) {
    const int error = write_all(fd, bytes, none, offset);
    if (error == 0) return;
    // EINVAL: O_DIRECT set but refused for this write (or a short write left the rest
    // unaligned); the rest goes through the page cache. Anything else is a real failure.
    if (error != EINVAL || ::fcntl(fd, F_SETFL, 0) != 0) {
      errno = error;
      throw_errno("write failed", id);
    }
  }
  write_exact(fd, bytes, none, offset, id);
}

// Memory aligned for O_DIRECT.
struct AlignedBuffer {
  struct Free {
    void operator()(char* data) const noexcept { std::free(data); }
  };
  std::unique_ptr<char, Free> data;
  std::size_t size = 0;
};

// A few aligned buffers kept for the next write (see BufferPool for why). Thread-safe.
class StagingBuffers {
 public:
  // A buffer of at least size bytes.
  AlignedBuffer take(std::size_t size) {
    {
      const std::lock_guard lock(mutex_);
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (it->size >= size) {
          AlignedBuffer buffer = std::move(*it);
          kept_.erase(it);
          return buffer;
        }
      }
    }
    void* data = nullptr;
    if (::posix_memalign(&data, record_alignment, size) != 0) throw std::bad_alloc();
    return AlignedBuffer{std::unique_ptr<char, AlignedBuffer::Free>(static_cast<char*>(data)),
                         size};
  }

  void give(AlignedBuffer buffer) {
    if (buffer.size > max_kept_staging_size) return;
    const std::lock_guard lock(mutex_);
    if (kept_.size() < kept_staging_buffers) kept_.push_back(std::move(buffer));
  }

 private:
  std::mutex mutex_;
  std::vector<AlignedBuffer> kept_;
};

FileVersion version_of(int fd, const std::string& blob_id) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw_errno("fstat failed", blob_id);
  return FileVersion{info.st_dev, info.st_ino, info.st_size,
                     std::int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec};
}

RecordIndex scan(int fd, const FileVersion& version, const std::string& blob_id) {
  RecordIndex index;
  index.version = version;
  index.file_size = static_cast<std::uint64_t>(version.size);
  std::uint64_t offset = 0;
  char header[record_header_size];
  while (index.file_size - offset >= record_header_size) {
    if (!read_exact(fd, header, record_header_size, offset)) throw_errno("read failed", blob_id);
    const std::uint32_t position = read_u32(header + 4);
    const std::uint64_t length = read_u32(header + 8);
    const std::string_view magic(header, 4);
    const bool aligned = magic == aligned_record_magic;
    if ((magic != record_magic && magic != legacy_record_magic && !aligned) ||
        (aligned && offset % record_alignment != 0) ||
        position != index.offsets.size() ||
        length > max_stored_segment_size ||
        length > index.file_size - offset - record_header_size) {
      break;
    }
    std::uint64_t end = offset + record_header_size + length;
    if (aligned) {
      end = align_up(end);
      if (end > index.file_size) break;
    }
    if (end == index.file_size) {
      std::string payload(length, '\0');
      if (!read_exact(fd, payload.data(), payload.size(), offset + record_header_size)) {
        throw_errno("read failed", blob_id);
      }
      if (record_check(std::string_view(header, 12), payload) !=
          std::string_view(header + 12, check_size)) {
        break;
      }
    }
    index.offsets.push_back(offset);
    index.lengths.push_back(static_cast<std::uint32_t>(length));
    offset = end;
  }
  index.valid_end = offset;
  return index;
}

// Whether the torn tail of index (the bytes after its valid records) holds the header of a
// later record: one with a higher position than a torn append could have written there. The
// tail then starts with damage to an acknowledged record, not with an interrupted append, and
// must not be cut. Payloads are ciphertext, so a false match (magic, exact position and a
// plausible length) is about as likely as a 64-bit collision.
bool tail_holds_later_record(int fd, const RecordIndex& index, const std::string& blob_id) {
  constexpr std::uint64_t chunk = 1u << 20;
  const std::uint64_t count = index.offsets.size();
  std::string bytes;
  for (std::uint64_t start = index.valid_end + 1; start < index.file_size; start += chunk) {
    // Each chunk also reads the next chunk's first header bytes, so no header is split.
    const std::uint64_t size = std::min(chunk + record_header_size, index.file_size - start);
    if (size < record_header_size) break;
    bytes.resize(size);
    if (!read_exact(fd, bytes.data(), size, start)) throw_errno("read failed", blob_id);
    const std::string_view view(bytes);
    for (std::size_t at = view.find("TMC"); at != std::string_view::npos && at < chunk;
         at = view.find("TMC", at + 1)) {
      if (view.size() - at < record_header_size) break;
      const std::string_view magic = view.substr(at, 4);
      const bool aligned_here = (start + at) % record_alignment == 0;
      const bool known = magic == record_magic || magic == legacy_record_magic ||
                         (magic == aligned_record_magic && aligned_here);
      const std::uint32_t position = read_u32(bytes.data() + at + 4);
      const std::uint32_t length = read_u32(bytes.data() + at + 8);
      if (known && position > count && length <= max_stored_segment_size) return true;
    }
  }
  return false;
}

class DirectoryBlobStore final : public BlobStore {
 public:
  DirectoryBlobStore(std::filesystem::path root, DataSync sync)
      : root_(std::move(root)),
        sync_(sync != nullptr ? sync : ::fdatasync),
        sync_directory_(sync != nullptr ? sync : ::fsync) {
    std::error_code error;
    std::filesystem::create_directories(root_, error);
    if (error || !std::filesystem::is_directory(root_, error)) {
      throw BlobStoreError("cannot create blob directory " + root_.string());
    }
    std::filesystem::permissions(root_, std::filesystem::perms::owner_all, error);
  }

  void put_segment(const std::string& blob_id, std::uint32_t index,
                   std::string_view sealed) override {
    write_record(blob_id, index, sealed, nullptr);
  }

  SegmentBuffer segment_buffer(std::size_t size) override {
    if (size > max_stored_segment_size || record_header_size + size < min_aligned_record_size) {
      return BlobStore::segment_buffer(size);  // written as an unaligned record
    }
    auto memory = std::shared_ptr<AlignedBuffer>(
        new AlignedBuffer(staging_->take(align_up(record_header_size + size))),
        [staging = staging_](AlignedBuffer* buffer) {
          staging->give(std::move(*buffer));
          delete buffer;
        });
    char* data = memory->data.get() + record_header_size;
    return SegmentBuffer(std::move(memory), data, size, this);
  }

  void put_segment_buffer(const std::string& blob_id, std::uint32_t index,
                          const SegmentBuffer& segment) override {
    char* room = segment.layout() == this ? segment.data() - record_header_size : nullptr;
    write_record(blob_id, index, segment.bytes(), room);
  }

  // put_segment, writing an aligned record in place at room when it is given: aligned memory
  // of align_up(record_header_size + sealed.size()) bytes, sealed at room + record_header_size.
  void write_record(const std::string& blob_id, std::uint32_t index, std::string_view sealed,
                    char* room) {
    const std::filesystem::path path = path_of(blob_id);
    if (sealed.size() > max_stored_segment_size) {
      throw BlobStoreError("segment too large for blob " + blob_id);
    }
    const Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw_errno("cannot open blob file", blob_id);

    const std::shared_ptr<const RecordIndex> current = index_of(fd.get(), blob_id);
    if (index != current->offsets.size()) {
      throw BlobStoreError("segment " + std::to_string(index) + " out of order for blob " +
                           blob_id + " holding " + std::to_string(current->offsets.size()));
    }
    const std::uint64_t tail = current->file_size - current->valid_end;
    if (tail > align_up(record_header_size + max_stored_segment_size) ||
        (tail > 0 && tail_holds_later_record(fd.get(), *current, blob_id))) {
      throw BlobStoreError("blob file is corrupted (not a torn write) for blob " + blob_id);
    }
    if (tail > 0 && ::ftruncate(fd.get(), static_cast<off_t>(current->valid_end)) != 0) {
      throw_errno("cannot drop torn write", blob_id);
    }

    const bool aligned = current->valid_end % record_alignment == 0 &&
                         record_header_size + sealed.size() >= min_aligned_record_size;
    std::string header(aligned ? aligned_record_magic : record_magic);
    append_u32(header, index);
    append_u32(header, static_cast<std::uint32_t>(sealed.size()));
    header += record_check(header, sealed);
    std::uint64_t written = header.size() + sealed.size();
    if (aligned) {
      const std::uint64_t padded = align_up(written);
      AlignedBuffer staging;
      if (room == nullptr) {
        staging = staging_->take(padded);
        room = staging.data.get();
        std::memcpy(room + header.size(), sealed.data(), sealed.size());
      }
      std::memcpy(room, header.data(), header.size());
      std::memset(room + written, 0, padded - written);
      write_aligned(fd.get(), std::string_view(room, padded), current->valid_end, blob_id);
      if (staging.data) staging_->give(std::move(staging));
      written = padded;
    } else {
      write_exact(fd.get(), header, sealed, current->valid_end, blob_id);
    }
    if (sync_(fd.get()) != 0) {
      // After a failed sync the kernel may report the record's pages clean though they never
      // reached the disk: read back later from the cache, the record would pass for durable.
      // It is cut here instead, and the next write takes its place.
      const int error = errno;
      if (::ftruncate(fd.get(), static_cast<off_t>(current->valid_end)) == 0) forget(blob_id);
      errno = error;
      throw_errno("fdatasync failed", blob_id);
    }
    // The file's entry in root is made durable with its first record (not only by the call that
    // created the file: a first record whose write or sync failed left the file behind).
    if (current->offsets.empty()) sync_root(blob_id);

    auto next = std::make_shared<RecordIndex>(*current);
    next->offsets.push_back(current->valid_end);
    next->lengths.push_back(static_cast<std::uint32_t>(sealed.size()));
    next->valid_end += written;
    next->file_size = next->valid_end;
    next->version = version_of(fd.get(), blob_id);
    remember(blob_id, std::move(next));
  }

  std::optional<std::string> get_segment(const std::string& blob_id, std::uint32_t index) override {
    const Fd fd = open_existing(blob_id, O_RDONLY);
    if (!fd) return std::nullopt;
    const std::shared_ptr<const RecordIndex> records = index_of(fd.get(), blob_id);
    if (index >= records->offsets.size()) return std::nullopt;
    std::string payload(records->payload_size(index), '\0');
    if (!read_exact(fd.get(), payload.data(), payload.size(), records->payload_offset(index))) {
      throw_errno("read failed", blob_id);
    }
    return payload;
  }

  std::uint32_t segment_count(const std::string& blob_id) override {
    const Fd fd = open_existing(blob_id, O_RDONLY);
    if (!fd) return 0;
    return static_cast<std::uint32_t>(index_of(fd.get(), blob_id)->offsets.size());
  }

  void truncate(const std::string& blob_id, std::uint32_t count) override {
    const Fd fd = open_existing(blob_id, O_RDWR);
    if (!fd) return;
    const std::shared_ptr<const RecordIndex> records = index_of(fd.get(), blob_id);
    if (count >= records->offsets.size()) return;
    if (::ftruncate(fd.get(), static_cast<off_t>(records->offsets[count])) != 0) {
      throw_errno("truncate failed", blob_id);
    }
    if (sync_(fd.get()) != 0) throw_errno("fdatasync failed", blob_id);
    forget(blob_id);
  }

  void remove(const std::string& blob_id) override {
    const std::filesystem::path path = path_of(blob_id);
    forget(blob_id);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return;
      throw_errno("cannot delete blob file", blob_id);
    }
    sync_root(blob_id);
  }

  std::uint64_t stored_bytes(const std::string& blob_id) override {
    const Fd fd = open_existing(blob_id, O_RDONLY);
    if (!fd) return 0;
    return index_of(fd.get(), blob_id)->valid_end;
  }

 private:
  std::filesystem::path path_of(const std::string& blob_id) const {
    if (!valid_blob_id(blob_id)) throw std::invalid_argument("invalid blob id");
    return root_ / (blob_id + ".blob");
  }

  // The open file, or an empty Fd if the blob does not exist.
  Fd open_existing(const std::string& blob_id, int flags) const {
    Fd fd(::open(path_of(blob_id).c_str(), flags | O_CLOEXEC));
    if (!fd && errno != ENOENT) throw_errno("cannot open blob file", blob_id);
    return fd;
  }

  std::shared_ptr<const RecordIndex> index_of(int fd, const std::string& blob_id) {
    const FileVersion version = version_of(fd, blob_id);
    {
      const std::lock_guard lock(mutex_);
      const auto found = cache_.find(blob_id);
      if (found != cache_.end() && found->second->version == version) return found->second;
    }
    auto scanned = std::make_shared<const RecordIndex>(scan(fd, version, blob_id));
    remember(blob_id, scanned);
    return scanned;
  }

  void remember(const std::string& blob_id, std::shared_ptr<const RecordIndex> index) {
    const std::lock_guard lock(mutex_);
    if (cache_.size() >= max_cached_blobs && cache_.find(blob_id) == cache_.end()) cache_.clear();
    cache_[blob_id] = std::move(index);
  }

  void forget(const std::string& blob_id) {
    const std::lock_guard lock(mutex_);
    cache_.erase(blob_id);
  }

  // Makes a created or deleted directory entry durable.
  void sync_root(const std::string& blob_id) const {
    const Fd dir(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || sync_directory_(dir.get()) != 0) {
      throw_errno("cannot sync blob directory", blob_id);
    }
  }

  const std::filesystem::path root_;
  const DataSync sync_;
  const DataSync sync_directory_;
  std::shared_ptr<StagingBuffers> staging_ = std::make_shared<StagingBuffers>();
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const RecordIndex>, std::less<>> cache_;
};

}  // namespace

bool valid_blob_id(std::string_view blob_id) noexcept {
  if (blob_id.empty() || blob_id.size() > max_blob_id_size) return false;
  for (const char c : blob_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::unique_ptr<BlobStore> open_directory_blob_store(std::filesystem::path root,
                                                     DataSync sync) {
  return std::make_unique<DirectoryBlobStore>(std::move(root), sync);
}

}  // namespace tmc::blob

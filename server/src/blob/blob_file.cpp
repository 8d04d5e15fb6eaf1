// EncryptedBlobWriter / EncryptedBlobReader: SegmentCipher over a BlobStore.
#include "blob/blob_file.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace tmc::blob {
namespace {

constexpr std::uint32_t max_segment_index = std::numeric_limits<std::uint32_t>::max();

// Failures are logged here, where the blob and the cause are known: the client is told only
// that storage is unavailable or the file corrupted, and an operator needs the rest. Blob ids
// are random, never patient data.

// A stored file that fails its checks; logged unless log is false (a probe, not a failure).
Error corrupted(const std::string& blob_id, const std::string& what, bool log = true) {
  if (log) spdlog::error("case files: blob {} is corrupted: {}", blob_id, what);
  return make_error(Code::data_loss, "stored file is corrupted");
}
// The blob store failed (disk full, I/O error, damaged file); its message names the blob.
Error storage_failed(const std::exception& error) {
  spdlog::error("case files: {}", error.what());
  return make_error(Code::unavailable, "file storage is unavailable");
}
Error bad_blob_id() { return make_error(Code::invalid_argument, "invalid file id"); }

// The authenticated plaintext of stored segment index, sealed with the given last flag. A
// missing or unauthentic segment is logged unless log is false.
Result<std::string> load_segment(BlobStore& store, const SegmentCipher& cipher,
                                 const std::string& blob_id, std::uint32_t index, bool last,
                                 bool log = true) {
  std::optional<std::string> sealed;
  try {
    sealed = store.get_segment(blob_id, index);
  } catch (const BlobStoreError& error) {
    return storage_failed(error);
  }
  const std::string segment = "segment " + std::to_string(index);
  if (!sealed) return corrupted(blob_id, segment + " is missing", log);
  std::optional<std::string> plaintext = cipher.open_segment(index, last, *sealed);
  if (!plaintext) return corrupted(blob_id, segment + " fails authentication", log);
  return std::move(*plaintext);
}

Result<std::uint32_t> count_segments(BlobStore& store, const std::string& blob_id) {
  try {
    return store.segment_count(blob_id);
  } catch (const BlobStoreError& error) {
    return storage_failed(error);
  }
}

}  // namespace

EncryptedBlobWriter::EncryptedBlobWriter(BlobStore& store, SegmentCipher cipher,
                                         std::string blob_id)
    : store_(&store), cipher_(std::move(cipher)), blob_id_(std::move(blob_id)) {}

Result<EncryptedBlobWriter> EncryptedBlobWriter::create(BlobStore& store, SegmentCipher cipher,
                                                        std::string blob_id) {
  if (!valid_blob_id(blob_id)) return bad_blob_id();
  const Result<std::uint32_t> count = count_segments(store, blob_id);
  if (!count) return count.error();
  if (*count != 0) return make_error(Code::already_exists, "file already has stored data");
  return EncryptedBlobWriter(store, std::move(cipher), std::move(blob_id));
}

Result<EncryptedBlobWriter> EncryptedBlobWriter::resume(BlobStore& store, SegmentCipher cipher,
                                                        std::string blob_id) {
  if (!valid_blob_id(blob_id)) return bad_blob_id();
  const Result<std::uint32_t> count = count_segments(store, blob_id);
  if (!count) return count.error();
  EncryptedBlobWriter writer(store, std::move(cipher), std::move(blob_id));
  for (std::uint32_t index = 0; index < *count; ++index) {
    // The last segment may be sealed as the last one (a finished file): not a corruption.
    const bool final_segment = index + 1 == *count;
    const Result<std::string> plaintext =
        load_segment(store, writer.cipher_, writer.blob_id_, index, false, !final_segment);
    if (!plaintext) {
      if (final_segment && plaintext.error().code == Code::data_loss) {
        if (load_segment(store, writer.cipher_, writer.blob_id_, index, true, false)) {
          return make_error(Code::failed_precondition, "file is already finished");
        }
        return corrupted(writer.blob_id_,
                         "segment " + std::to_string(index) + " fails authentication");
      }
      return plaintext.error();
    }
    writer.hash_.update(*plaintext);
  }
  writer.next_index_ = *count;
  return writer;
}

std::uint64_t EncryptedBlobWriter::committed_size() const {
  return std::uint64_t{next_index_} * cipher_.segment_size();
}

SealedSegment EncryptedBlobWriter::seal_one(std::string_view plaintext, bool last) {
  SealedSegment segment{next_index_, store_->segment_buffer(plaintext.size() + blob_tag_size)};
  cipher_.seal_segment_to(segment.memory.data(), next_index_, last, plaintext);
  ++next_index_;
  return segment;
}

Result<std::vector<SealedSegment>> EncryptedBlobWriter::seal(std::string_view data) {
  if (state_ != State::writing) {
    return make_error(Code::failed_precondition, "file is not open for writing");
  }
  const std::size_t segment_size = cipher_.segment_size();
  // The last index stays free for the final segment that finish() writes.
  const std::uint64_t new_segments = (std::uint64_t{tail_.size()} + data.size()) / segment_size;
  if (new_segments >= std::uint64_t{max_segment_index} - next_index_) {
    return make_error(Code::out_of_range, "file is too large");
  }
  hash_.update(data);
  std::vector<SealedSegment> sealed;
  sealed.reserve(new_segments);
  while (!data.empty()) {
    if (tail_.empty() && data.size() >= segment_size) {
      // Whole segments straight from the caller's buffer, without copying.
      sealed.push_back(seal_one(data.substr(0, segment_size), false));
      data.remove_prefix(segment_size);
      continue;
    }
    const std::size_t take = std::min(segment_size - tail_.size(), data.size());
    tail_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (tail_.size() == segment_size) {
      sealed.push_back(seal_one(tail_, false));
      tail_.clear();
    }
  }
  return sealed;
}

Result<EncryptedBlobWriter::SealedEnd> EncryptedBlobWriter::seal_last() {
  if (state_ != State::writing) {
    return make_error(Code::failed_precondition, "file is not open for writing");
  }
  const std::uint64_t total = size();
  SealedEnd end{seal_one(tail_, true), FinishedBlob{total, hash_.finish()}};
  tail_.clear();
  state_ = State::finished;
  return end;
}

Status EncryptedBlobWriter::append(std::string_view data) {
  Result<std::vector<SealedSegment>> sealed = seal(data);
  if (!sealed) return sealed.error();
  for (const SealedSegment& segment : *sealed) {
    if (Status stored = store_sealed(*store_, blob_id_, segment); !stored) {
      state_ = State::failed;
      return stored;
    }
  }
  return ok();
}

Result<FinishedBlob> EncryptedBlobWriter::finish() {
  Result<SealedEnd> end = seal_last();
  if (!end) return end.error();
  if (Status stored = store_sealed(*store_, blob_id_, end->segment); !stored) {
    state_ = State::failed;
    return stored.error();
  }
  return std::move(end->file);
}

Status store_sealed(BlobStore& store, const std::string& blob_id, const SealedSegment& segment) {
  // Any failure, not only the store's own (a std::bad_alloc, say): this runs on the threads that
  // write case files, where an exception would end the process, and the upload can recover.
  try {
    store.put_segment_buffer(blob_id, segment.index, segment.memory);
  } catch (const std::exception& error) {
    return storage_failed(error);
  }
  return ok();
}

EncryptedBlobReader::EncryptedBlobReader(BlobStore& store, SegmentCipher cipher,
                                         std::string blob_id, std::uint64_t size)
    : store_(&store), cipher_(std::move(cipher)), blob_id_(std::move(blob_id)), size_(size) {
  if (!valid_blob_id(blob_id_)) throw std::invalid_argument("invalid blob id");
}

Result<EncryptedBlobReader> EncryptedBlobReader::open(BlobStore& store, SegmentCipher cipher,
                                                      std::string blob_id) {
  if (!valid_blob_id(blob_id)) return bad_blob_id();
  const Result<std::uint32_t> count = count_segments(store, blob_id);
  if (!count) return count.error();
  if (*count == 0) return corrupted(blob_id, "it has no segments");
  const std::uint32_t last = *count - 1;
  const Result<std::string> tail = load_segment(store, cipher, blob_id, last, true);
  if (!tail) return tail.error();
  const std::uint64_t size = std::uint64_t{last} * cipher.segment_size() + tail->size();
  return EncryptedBlobReader(store, std::move(cipher), std::move(blob_id), size);
}

std::uint64_t EncryptedBlobReader::last_index() const { return size_ / cipher_.segment_size(); }

Result<std::string> EncryptedBlobReader::segment(std::uint64_t index) const {
  const bool last = index == last_index();
  Result<std::string> plaintext =
      load_segment(*store_, cipher_, blob_id_, static_cast<std::uint32_t>(index), last);
  if (plaintext && last && plaintext->size() != size_ % cipher_.segment_size()) {
    return corrupted(blob_id_, "its last segment has the wrong size");
  }
  return plaintext;
}

Result<std::string> EncryptedBlobReader::read(std::uint64_t offset, std::uint64_t length) const {
  if (offset > size_) return make_error(Code::out_of_range, "offset is past the end of the file");
  if (last_index() > max_segment_index) {  // no writer produces such a size
    return corrupted(blob_id_, "its size is beyond the format's limit");
  }
  const std::uint64_t end = offset + std::min(length, size_ - offset);
  if (end == offset && end != size_) return std::string();

  const std::uint64_t segment_size = cipher_.segment_size();
  const std::uint64_t first = offset / segment_size;
  const std::uint64_t stop = end == size_ ? last_index() : (end - 1) / segment_size;
  std::string out;
  out.reserve(end - offset);
  for (std::uint64_t index = first; index <= stop; ++index) {
    const Result<std::string> plaintext = segment(index);
    if (!plaintext) return plaintext.error();
    const std::uint64_t start = index * segment_size;
    const std::uint64_t from = std::max(offset, start) - start;
    const std::uint64_t to = std::min(end, start + plaintext->size()) - start;
    if (from < to) out.append(*plaintext, from, to - from);
  }
  return out;
}

Result<std::string> EncryptedBlobReader::sha256() const {
  if (last_index() > max_segment_index) {
    return corrupted(blob_id_, "its size is beyond the format's limit");
  }
  crypto::Sha256 hash;
  for (std::uint64_t index = 0; index <= last_index(); ++index) {
    const Result<std::string> plaintext = segment(index);
    if (!plaintext) return plaintext.error();
    hash.update(*plaintext);
  }
  return hash.finish();
}

}  // namespace tmc::blob

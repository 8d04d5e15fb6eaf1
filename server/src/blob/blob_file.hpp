// Encrypted files on a BlobStore: a resumable streaming writer and a random-access reader.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.hpp"
#include "blob/segment_cipher.hpp"
#include "common/result.hpp"
#include "crypto/hash.hpp"

namespace tmc::blob {

// What a finished upload produced.
struct FinishedBlob {
  std::uint64_t size = 0;
  std::string sha256;  // 32 raw bytes, SHA-256 of the plaintext
};

// A segment sealed by EncryptedBlobWriter::seal and not stored yet, in memory of the store's
// (BlobStore::segment_buffer).
struct SealedSegment {
  std::uint32_t index = 0;
  SegmentBuffer memory;
};

// Stores a sealed segment durably. Segments must be stored in index order, each once. Errors:
// unavailable (storage failure or out of order; nothing later may be stored then).
Status store_sealed(BlobStore& store, const std::string& blob_id, const SealedSegment& segment);

// Encrypts a file into a BlobStore as it arrives, hashing the plaintext in the same pass.
//
// Chunks of any size are accepted and cut into segments. Each full segment is sealed (not
// last) and stored durably before append() returns; the partial tail stays in memory until
// more data completes it or finish() seals it - possibly empty - as the last segment. Hence
// committed_size() (a multiple of the segment size) is what survives a crash and is the
// offset a resumed upload continues from. Recommended use: make the upload chunk size the
// segment size, so every chunk but the final one is committed by its own append() and the
// committed offset reported to the client is always the offset it sent.
//
// seal() and seal_last() split append() and finish() in two: the CPU work (hashing, sealing),
// done in order under the caller's lock, and the storage, which the caller does afterwards with
// store_sealed, in order, possibly while the next data is being sealed. committed_size() then
// counts sealed segments, and the caller tracks which of them are durable.
//
// Keep the writer while an upload is active (resume() re-reads everything stored so far). Not
// thread-safe; the store must outlive it; one writer per blob id at a time. After a storage
// failure the writer refuses further calls: resume() a new one, which continues after the last
// durable segment.
class EncryptedBlobWriter {
 public:
  // Starts a new file. Errors: invalid_argument (bad blob id), already_exists (the blob has
  // segments), unavailable (storage failure).
  static Result<EncryptedBlobWriter> create(BlobStore& store, SegmentCipher cipher,
                                            std::string blob_id);

  // Continues an unfinished file after its writer was lost (restart, eviction): authenticates
  // and hashes the stored segments. A blob without segments starts empty. Errors:
  // invalid_argument, failed_precondition (the file is already finished), data_loss (a stored
  // segment fails authentication), unavailable.
  static Result<EncryptedBlobWriter> resume(BlobStore& store, SegmentCipher cipher,
                                            std::string blob_id);

  // Adds data at offset size(). Errors: failed_precondition (finished or failed before),
  // out_of_range (more than 2^32 - 1 segments; nothing is written), unavailable.
  Status append(std::string_view data);

  // Seals the tail as the last segment. Errors: failed_precondition, unavailable.
  Result<FinishedBlob> finish();

  // append() without storing: the full segments data completes, for store_sealed. Errors:
  // failed_precondition, out_of_range.
  Result<std::vector<SealedSegment>> seal(std::string_view data);

  // The tail sealed as the last segment, and what the file is once that segment is stored.
  struct SealedEnd {
    SealedSegment segment;
    FinishedBlob file;
  };
  // finish() without storing. Errors: failed_precondition.
  Result<SealedEnd> seal_last();

  // Plaintext bytes in sealed full segments: durably stored when append() sealed them.
  std::uint64_t committed_size() const;
  // Plaintext bytes accepted so far, including the buffered tail.
  std::uint64_t size() const { return committed_size() + tail_.size(); }
  const std::string& blob_id() const { return blob_id_; }

 private:
  enum class State { writing, finished, failed };

  EncryptedBlobWriter(BlobStore& store, SegmentCipher cipher, std::string blob_id);
  SealedSegment seal_one(std::string_view plaintext, bool last);

  BlobStore* store_;
  SegmentCipher cipher_;
  std::string blob_id_;
  crypto::Sha256 hash_;
  std::string tail_;              // plaintext after the last full segment
  std::uint32_t next_index_ = 0;  // segments sealed
  State state_ = State::writing;
};

// Decrypts byte ranges of a finished file, touching only the segments they cover. Never
// returns unauthenticated bytes: any stored segment that fails authentication, is missing or
// has the wrong size yields Error{data_loss, "stored file is corrupted"}. A read that reaches
// the end of the file also authenticates the last segment, so the end itself is trustworthy.
// Const members may run concurrently; the store must outlive the reader.
class EncryptedBlobReader {
 public:
  // size is the plaintext size recorded when the file was finished (FinishedBlob::size).
  // Throws std::invalid_argument for an invalid blob id.
  EncryptedBlobReader(BlobStore& store, SegmentCipher cipher, std::string blob_id,
                      std::uint64_t size);

  // A reader whose size is taken from the authenticated last segment. Errors: data_loss (no
  // segments or the last one fails), unavailable, invalid_argument (bad blob id).
  static Result<EncryptedBlobReader> open(BlobStore& store, SegmentCipher cipher,
                                          std::string blob_id);

  std::uint64_t size() const { return size_; }

  // Bytes [offset, offset + length) clipped to size(); empty at the end. Errors: out_of_range
  // (offset > size()), data_loss, unavailable.
  Result<std::string> read(std::uint64_t offset, std::uint64_t length) const;

  // Authenticates the whole file and returns the SHA-256 of its plaintext (32 raw bytes).
  // Errors: data_loss, unavailable.
  Result<std::string> sha256() const;

 private:
  // Index of the segment sealed as last.
  std::uint64_t last_index() const;
  // Authenticated plaintext of segment index, with the size the file size implies.
  Result<std::string> segment(std::uint64_t index) const;

  BlobStore* store_;
  SegmentCipher cipher_;
  std::string blob_id_;
  std::uint64_t size_;
};

}  // namespace tmc::blob

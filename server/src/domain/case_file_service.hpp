// Case files: resumable encrypted uploads, integrity-checked reads and sharing with consultations.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "blob/blob_file.hpp"
#include "blob/blob_store.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/audit_hook.hpp"
#include "domain/caller.hpp"
#include "domain/consultation_service.hpp"
#include "domain/sealed_fields.hpp"
#include "store/store.hpp"

namespace tmc::domain {

struct CaseFileLimits {
  std::uint64_t max_file_bytes = std::uint64_t{4} << 30;              // one file
  std::uint64_t organization_quota_bytes = std::uint64_t{500} << 30;  // files + open uploads
  // Upload chunk (= encryption segment) size and the largest read_file answer.
  std::uint32_t chunk_bytes = 256u << 10;
  std::chrono::seconds upload_expiry{24 * 60 * 60};  // idle uploads are discarded after this
  // Unfinished uploads one user may have at once (each is kept, in memory too, until it is
  // finished or expires).
  std::int64_t max_open_uploads_per_user = 100;
};

// What begin_upload declares for a new upload (upload_id empty), or the upload to resume.
struct BeginUpload {
  std::string upload_id;
  std::string consultation_id;
  std::string file_name;
  std::string media_type;
  std::uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
};

struct UploadSession {
  std::string upload_id;
  std::uint32_t chunk_size = 0;
  std::uint64_t committed_offset = 0;
};

struct FileChunk {
  std::string file_id;
  std::uint64_t offset = 0;
  std::string data;
  bool eof = false;
};

// Uploads arrive in chunks of exactly one encryption segment (the last may be shorter); each
// chunk is hashed and sealed (AES-256-GCM under a fresh per-file data key wrapped by the
// key-encryption key) on the calling thread, then written durably to the blob store by one of
// the service's file-writer threads, and answered once it is durable. So the next chunk of an
// upload is sealed while the previous one is written; chunks of one upload are written and
// answered in order, and a chunk after a failed one is refused until the upload recovers from
// what is durable. The upload's row records the committed offset shortly after the answer (the
// stored segments are the truth; the row is re-read from them on recovery). The final chunk
// also seals the file's last segment, so a finished upload is fully durable. Writers of active
// uploads stay in memory; after a restart an upload is resumed from its stored segments
// (authenticated and re-hashed) on first use.
//
// Who may read a file: its uploader, and whoever may read a consultation it is shared with
// (participants, coordinators of involved organisations, open candidates while offered).
// Anyone else gets NOT_FOUND. Thread-safe; every method blocks on the store or the blob store,
// so call it from a worker thread.
class CaseFileService {
 public:
  CaseFileService(store::Store& store, std::unique_ptr<blob::BlobStore> blobs, const Clock& clock,
                  AuditHook& audit, const Vault& vault, const ConsultationService& consultations,
                  CaseFileLimits limits);
  ~CaseFileService();
  CaseFileService(const CaseFileService&) = delete;
  CaseFileService& operator=(const CaseFileService&) = delete;

  // Starts an upload, or (request.upload_id set) answers where to continue one. A new upload
  // declared as an unfinished one of the caller's (same consultation, name, media type, size
  // and SHA-256) continues that one: a begin sent again after its answer was lost.
  Result<UploadSession> begin_upload(const Caller& caller, const BeginUpload& request);
  // Stores data at offset, which must follow the upload's last accepted chunk (the committed
  // offset when none is in flight); answers the new committed offset once the chunk is durable.
  Result<std::uint64_t> upload_chunk(const Caller& caller, const std::string& upload_id,
                                     std::uint64_t offset, std::string_view data);
  // upload_chunk without waiting for the disk: checks and seals the chunk on the calling thread,
  // and calls done on a file-writer thread once the chunk is durable or refused, after the
  // answers of the upload's earlier chunks. done must not block. Throws (StoreError, runtime
  // errors of the key vault) without calling done.
  using ChunkDone = std::function<void(Result<std::uint64_t>)>;
  void upload_chunk_async(const Caller& caller, const std::string& upload_id, std::uint64_t offset,
                          std::string_view data, ChunkDone done);
  // Verifies size and SHA-256 and creates the file (shared with the upload's consultation, if
  // any). A mismatch discards the upload and answers DATA_LOSS. A retry answers the same file.
  Result<Outcome<store::CaseFile>> finish_upload(const Caller& caller,
                                                 const std::string& upload_id);
  // Up to length bytes (0 or more than the chunk size: the chunk size) from offset. Audited once
  // per download, not per chunk: a read at offset 0, and a read at any offset of a file the
  // session has not read within the last ten minutes (a download resumed later, range reads).
  Result<FileChunk> read(const Caller& caller, const std::string& file_id, std::uint64_t offset,
                         std::uint32_t length);
  // Idempotent; notifies the consultation's participants when the file is newly shared.
  Result<Outcome<store::CaseFile>> share(const Caller& caller, const std::string& file_id,
                                         const std::string& consultation_id);
  // Files shared with the consultation, oldest share first.
  Result<std::vector<store::CaseFile>> list(const Caller& caller,
                                            const std::string& consultation_id);

  // Discards uploads idle for longer than limits().upload_expiry at now (rows and stored
  // segments). Returns how many were discarded.
  int expire_uploads(TimePoint now);
  // Calls expire_uploads every interval on a background thread until destruction.
  void start_expiry(std::chrono::milliseconds interval);

  const CaseFileLimits& limits() const { return limits_; }

 private:
  struct Active;
  struct SealedChunk;
  class FileWriters;
  // When `finished_too` and the upload is unknown, a file another user finished from it makes
  // the attempt a denial on record (the caller did not look for the file already).
  Result<std::shared_ptr<Active>> active_upload(const Caller& caller, const std::string& upload_id,
                                                bool finished_too = false);
  // Seals the chunk and queues its write; answers refusals through the same queue, in order.
  void seal_chunk(const Caller& caller, const std::string& upload_id, std::uint64_t offset,
                  std::string_view data, ChunkDone& done);
  // On a file-writer thread: stores the chunk's segments and answers.
  void store_chunk(const std::shared_ptr<Active>& upload, SealedChunk& chunk);
  void queue_progress(const std::shared_ptr<Active>& upload);
  // Waits until no chunk of the upload is queued or being written. Holds active.mutex.
  static void drain(Active& active);
  Status recover(Active& active);
  void discard(Active& active);
  Result<UploadSession> resume_upload(const Caller& caller, const std::string& upload_id);
  Result<UploadSession> start_upload(const Caller& caller, const BeginUpload& request);
  Result<Outcome<store::CaseFile>> finished_file(const Caller& caller,
                                                 const std::string& upload_id);
  void audit(const Caller& caller, const char* action, const std::string& id, AuditOutcome outcome);
  // With the consultations the file belongs to after its id, so that the record carries their
  // patient reference (an audit export by patient finds who read the patient's files).
  void audit(const Caller& caller, const char* action, std::vector<std::string> ids,
             AuditOutcome outcome);

  store::Store& store_;
  std::unique_ptr<blob::BlobStore> blobs_;
  const Clock& clock_;
  AuditHook& audit_;
  const Vault& vault_;
  const ConsultationService& consultations_;
  CaseFileLimits limits_;

  // Whether a read starts a download to audit (see read()); remembers the session's read.
  bool starts_download(const Caller& caller, const std::string& file_id, std::uint64_t offset);
  std::mutex reads_mutex_;  // guards recent_reads_
  // Session token hash + file id -> the session's last read of the file.
  std::unordered_map<std::string, TimePoint> recent_reads_;

  std::mutex active_mutex_;  // guards active_; never held while locking an Active
  std::map<std::string, std::shared_ptr<Active>> active_;

  std::unique_ptr<FileWriters> writers_;  // after what its jobs use; emptied in the destructor

  std::mutex expiry_mutex_;
  std::condition_variable expiry_wake_;
  bool expiry_stop_ = false;
  std::thread expiry_thread_;
};

// True if caller may read file: the uploader, or someone who may read a consultation the file
// is shared with. Runs inside tx.
bool may_read_case_file(store::Tx& tx, const ConsultationService& consultations,
                        const Caller& caller, const store::CaseFile& file);

// Whether name is acceptable as a file name label: 1-255 bytes of valid UTF-8 without control
// characters, slashes or backslashes, and not "." or "..".
bool valid_file_name(std::string_view name);

}  // namespace tmc::domain

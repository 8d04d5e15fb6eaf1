// Case files: resumable encrypted uploads, integrity-checked reads and sharing with consultations.
#include "domain/case_file_service.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <latch>
#include <optional>
#include <stdexcept>
#include <utility>

#include "blob/blob_file.hpp"
#include "blob/segment_cipher.hpp"
#include "common/thread_name.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace tmc::domain {
namespace {

// A blob whose upload row is gone could not be deleted: nothing refers to it any more, it only
// takes space, and an operator can delete it (the message names the blob and the cause).
void log_blob_left(const blob::BlobStoreError& error) {
  spdlog::warn("case files: {}; the upload is gone, the file only takes space", error.what());
}

constexpr std::size_t kMaxFileNameBytes = 255;
constexpr std::size_t kMaxMediaTypeBytes = 127;
constexpr int kExpiryBatch = 100;
// How often an upload's row records its progress while chunks arrive. Recovery and resume go by
// the stored segments, not the row, so the row only needs to show that the upload is alive;
// an update per chunk was a commit and a sync per MiB.
constexpr std::chrono::seconds kProgressInterval{1};
// Threads writing sealed chunks: an upload's chunks go to one of them, so this many uploads'
// disk writes (and syncs) can proceed at once.
constexpr std::size_t kFileWriterThreads = 4;

// The file writers' nice value. Their writes are bulk work: while the core is busy, chat and
// requests go first, and an upload gets the core whenever nothing else wants it. Chat at half
// its maximum beside four uploads lost a quarter to half of its p50 and up to half of its p99,
// for about a tenth of an upload's throughput when the server is CPU-bound (docs/performance.md,
// item 32; nice 10 changed nothing, 15 did what 19 does).
constexpr int kFileWriterNice = 19;

// Linux keeps a nice value per thread; this sets the calling thread's. Failing (a sandbox that
// forbids it) only leaves the thread at normal priority.
void lower_this_threads_priority() noexcept {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kFileWriterNice);
}

Error upload_not_found() { return make_error(Code::not_found, "upload not found"); }
Error file_not_found() { return make_error(Code::not_found, "case file not found"); }
Error consultation_not_found() { return make_error(Code::not_found, "consultation not found"); }

// The file as shown to callers and in events: no key material or storage names.
store::CaseFile public_view(store::CaseFile file) {
  file.upload_id.clear();
  file.blob_id.clear();
  file.wrapped_key.clear();
  file.header.clear();
  return file;
}

blob::FileHeader parse_header(std::string_view bytes) {
  auto header = blob::FileHeader::parse(bytes);
  if (!header) throw std::runtime_error("stored case file header is malformed");
  return *header;
}

// Throws std::runtime_error when the data key cannot be unwrapped (wrong or missing KEK).
blob::SegmentCipher cipher_for(const Vault& vault, std::string_view wrapped_key,
                               std::string_view header, const std::string& blob_id) {
  return blob::SegmentCipher(vault.unwrap(wrapped_key).value(), blob_id, parse_header(header));
}

// Checks that caller may share a file with the consultation (a participant of a writable
// consultation) and collects its participants, who are told about the file.
// A file shared with the consultation is a change of it (its updated_at), unlike a message.
void mark_shared(store::Tx& tx, const std::string& consultation_id, TimePoint now) {
  const auto consultation = tx.find_consultation(consultation_id, store::SealedTexts::skip);
  if (consultation) tx.set_consultation_last_seq(consultation_id, consultation->last_seq, now);
}

Status check_shareable(store::Tx& tx, const ConsultationService& consultations,
                       const Caller& caller, const std::string& consultation_id,
                       std::vector<std::string>& participants) {
  auto access = consultations.access(tx, caller, consultation_id);
  if (!access || caller.user.role == store::Role::admin || !access->actor.is_related()) {
    return consultation_not_found();
  }
  if (!access->actor.is_participant) {
    return make_error(Code::permission_denied,
                      "only participants share case files with a consultation");
  }
  if (is_read_only(access->record.state)) {
    return make_error(
        Code::failed_precondition,
        "the consultation is " + std::string(state_name(access->record.state)) + " and read-only");
  }
  for (const auto& participant : access->participants) participants.push_back(participant.user_id);
  return ok();
}

Notification shared_notification(const std::string& consultation_id, const store::CaseFile& file,
                                 std::vector<std::string> recipients) {
  Notification notification;
  notification.kind = Notification::Kind::case_file_shared;
  notification.recipients = std::move(recipients);
  notification.consultation_id = consultation_id;
  notification.case_file = public_view(file);
  return notification;
}

// Length of the UTF-8 sequence starting at text[i] and its code point; 0 when malformed.
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, min = 0x80, code_point = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, min = 0x800, code_point = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, min = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3f);
  }
  const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
  if (code_point < min || code_point > 0x10ffff || surrogate) return 0;
  return length;
}

bool valid_media_type(std::string_view media_type) {
  return !media_type.empty() && media_type.size() <= kMaxMediaTypeBytes &&
         std::all_of(media_type.begin(), media_type.end(), [](char ch) {
           const auto byte = static_cast<unsigned char>(ch);
           return byte >= 0x20 && byte < 0x7f;
         });
}

}  // namespace

bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxFileNameBytes || name == "." || name == "..") return false;
  for (std::size_t i = 0; i < name.size();) {
    char32_t code_point = 0;
    const std::size_t length = decode_utf8(name, i, code_point);
    if (length == 0) return false;
    const bool control = code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
    if (control || code_point == U'/' || code_point == U'\\') return false;
    i += length;
  }
  return true;
}

bool may_read_case_file(store::Tx& tx, const ConsultationService& consultations,
                        const Caller& caller, const store::CaseFile& file) {
  if (caller.user.role == store::Role::admin) return false;
  if (file.uploaded_by == caller.user.id) return true;
  for (const auto& consultation_id : tx.list_case_file_consultations(file.id)) {
    const auto access = consultations.access(tx, caller, consultation_id);
    if (access && decide(access->record.state, ConsultationAction::read, access->actor)) {
      return true;
    }
  }
  return false;
}

// An upload being written. `mutex` serialises its chunks' checks and sealing and guards row,
// writer, recovered, accepted and closed; row mirrors the stored row. `disk` guards what the
// file writers change; it is locked after `mutex`, or alone by a file writer.
struct CaseFileService::Active {
  std::mutex mutex;
  store::Upload row;
  std::uint32_t chunk_size = 0;
  bool recovered = false;  // writer, accepted and the durable state reflect the blob store
  std::optional<blob::EncryptedBlobWriter> writer;  // until the last segment is sealed
  std::uint64_t accepted = 0;  // where the next chunk starts: sealed, perhaps not yet durable
  bool closed = false;         // became a file, was discarded or expired: the row is gone
  std::atomic<bool> row_gone{false};  // a progress update found no row (expired elsewhere)

  std::mutex disk;
  std::condition_variable drained;
  std::size_t in_flight = 0;                   // chunks queued on a file writer
  std::uint64_t durable = 0;                   // bytes stored durably
  std::optional<blob::FinishedBlob> finished;  // once the last segment is durable
  bool failed = false;           // a write failed: later chunks are refused until recover()
  bool progress_queued = false;  // an update of the row's committed offset waits on the store
  TimePoint stored_at{};         // when the last chunk became durable (the row's updated_at)
  TimePoint progress_at{};       // when the last update of the row was queued

  explicit Active(store::Upload upload)
      : row(std::move(upload)),
        chunk_size(parse_header(row.header).segment_size),
        accepted(row.committed_offset),
        durable(row.committed_offset) {}

  std::uint64_t committed() {
    std::lock_guard lock(disk);
    return committed_locked();
  }
  // The same with disk held.
  std::uint64_t committed_locked() const { return finished ? finished->size : durable; }
};

// A sealed chunk on its way to the blob store.
struct CaseFileService::SealedChunk {
  std::vector<blob::SealedSegment> segments;
  std::optional<blob::FinishedBlob> finished;  // the chunk completes the file
  std::uint64_t end = 0;                       // committed offset once stored
  ChunkDone done;
};

// Threads that write sealed chunks. Jobs posted with the same key run in posting order on one
// thread; the destructor runs every job already posted, then joins.
class CaseFileService::FileWriters {
 public:
  // Returns once every thread runs at its lower priority.
  explicit FileWriters(std::size_t threads) {
    std::latch lowered(static_cast<std::ptrdiff_t>(threads));
    for (std::size_t i = 0; i < threads; ++i) {
      auto queue = std::make_unique<Queue>();
      queue->thread = std::thread([q = queue.get(), &lowered] {
        lower_this_threads_priority();
        lowered.count_down();
        run(*q);
      });
      name_thread(queue->thread, "tmc-files");
      queues_.push_back(std::move(queue));
    }
    lowered.wait();
  }
  ~FileWriters() {
    for (auto& queue : queues_) {
      {
        std::lock_guard lock(queue->mutex);
        queue->stop = true;
      }
      queue->wake.notify_one();
      queue->thread.join();
    }
  }
  FileWriters(const FileWriters&) = delete;
  FileWriters& operator=(const FileWriters&) = delete;

  void post(const std::string& key, std::function<void()> job) {
    Queue& queue = *queues_[std::hash<std::string>{}(key) % queues_.size()];
    {
      std::lock_guard lock(queue.mutex);
      queue.jobs.push_back(std::move(job));
    }
    queue.wake.notify_one();
  }

 private:
  struct Queue {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> jobs;
    bool stop = false;
    std::thread thread;
  };

  static void run(Queue& queue) {
    std::unique_lock lock(queue.mutex);
    for (;;) {
      queue.wake.wait(lock, [&] { return queue.stop || !queue.jobs.empty(); });
      if (queue.jobs.empty()) return;  // stopping, and nothing left
      auto job = std::move(queue.jobs.front());
      queue.jobs.pop_front();
      lock.unlock();
      job();  // jobs do not throw
      lock.lock();
    }
  }

  std::vector<std::unique_ptr<Queue>> queues_;
};

CaseFileService::CaseFileService(store::Store& store, std::unique_ptr<blob::BlobStore> blobs,
                                 const Clock& clock, AuditHook& audit, const Vault& vault,
                                 const ConsultationService& consultations, CaseFileLimits limits)
    : store_(store),
      blobs_(std::move(blobs)),
      clock_(clock),
      audit_(audit),
      vault_(vault),
      consultations_(consultations),
      limits_(limits),
      writers_(std::make_unique<FileWriters>(kFileWriterThreads)) {
  if (limits_.chunk_bytes < blob::min_segment_size ||
      limits_.chunk_bytes > blob::max_segment_size) {
    throw std::invalid_argument("case file chunk size is outside the segment size bounds");
  }
}

CaseFileService::~CaseFileService() {
  {
    std::lock_guard lock(expiry_mutex_);
    expiry_stop_ = true;
  }
  expiry_wake_.notify_all();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  writers_.reset();  // writes and answers the chunks still queued
}

void CaseFileService::audit(const Caller& caller, const char* action, const std::string& id,
                            AuditOutcome outcome) {
  audit(caller, action, std::vector<std::string>{id}, outcome);
}

void CaseFileService::audit(const Caller& caller, const char* action, std::vector<std::string> ids,
                            AuditOutcome outcome) {
  audit_.record({caller.user.id, caller.user.organization_id, action, std::move(ids), outcome,
                 caller.remote_address});
}

// ---- uploads ----------------------------------------------------------------------------------

Result<std::shared_ptr<CaseFileService::Active>> CaseFileService::active_upload(
    const Caller& caller, const std::string& upload_id, bool finished_too) {
  std::shared_ptr<Active> active;
  {
    std::lock_guard lock(active_mutex_);
    if (auto it = active_.find(upload_id); it != active_.end()) active = it->second;
  }
  if (!active) {  // not written since the server started: load it
    std::optional<store::Upload> row;
    std::optional<store::CaseFile> file;
    store_.read([&](store::Tx& tx) {
      row = tx.find_upload(upload_id);
      if (!row && finished_too) file = tx.find_case_file_by_upload(upload_id);
    });
    if (!row) {
      if (file && file->uploaded_by != caller.user.id) {
        audit(caller, "case_file.upload", upload_id, AuditOutcome::denied);
      }
      return upload_not_found();
    }
    auto loaded = std::make_shared<Active>(std::move(*row));
    std::lock_guard lock(active_mutex_);
    active = active_.try_emplace(upload_id, std::move(loaded)).first->second;
  }
  if (active->row.user_id != caller.user.id) {
    // Another user's upload id: answered as unknown, and on record.
    audit(caller, "case_file.upload", upload_id, AuditOutcome::denied);
    return upload_not_found();
  }
  return active;
}

void CaseFileService::drain(Active& active) {
  std::unique_lock lock(active.disk);
  active.drained.wait(lock, [&] { return active.in_flight == 0; });
}

// Rebuilds the writer (or the finished state) from the stored segments, once the chunks in
// flight are written. Segments beyond the row's committed offset are kept: they are
// authenticated under this file's key, so they hold exactly the bytes the client sent (a crash
// hit between the segment write and the row update), and keeping them means no segment index
// is ever sealed twice. Blobs the row does not cover are never trusted blindly: resume()
// authenticates every segment.
Status CaseFileService::recover(Active& active) {
  drain(active);
  auto cipher = cipher_for(vault_, active.row.wrapped_key, active.row.header, active.row.id);
  active.writer.reset();
  std::optional<blob::FinishedBlob> finished;
  auto writer = blob::EncryptedBlobWriter::resume(*blobs_, cipher, active.row.id);
  if (writer && writer->size() == active.row.size && active.row.size > 0) {
    // Every byte is stored but not the empty last segment that ends a file whose size is a
    // multiple of the segment (the write failed, or a crash hit, between the two). Without it
    // the upload could never finish: nothing is left to send. Sealing it now stores what the
    // lost write would have.
    auto ended = writer->finish();
    if (!ended) return ended.error();
    finished = std::move(*ended);
  } else if (writer) {
    active.writer.emplace(std::move(*writer));
  } else if (writer.error().code == Code::failed_precondition) {  // the last segment is sealed
    auto reader = blob::EncryptedBlobReader::open(*blobs_, std::move(cipher), active.row.id);
    if (!reader) return reader.error();
    auto hash = reader->sha256();
    if (!hash) return hash.error();
    finished = blob::FinishedBlob{reader->size(), std::move(*hash)};
  } else {
    return writer.error();
  }
  const auto committed = finished ? finished->size : active.writer->committed_size();
  {
    std::lock_guard lock(active.disk);
    active.durable = committed;
    active.finished = std::move(finished);
    active.failed = false;
  }
  active.accepted = committed;
  active.recovered = true;
  if (committed != active.row.committed_offset) {
    const auto now = clock_.now();
    store_.write(
        [&](store::Tx& tx) { return tx.set_upload_progress(active.row.id, committed, now); });
    active.row.committed_offset = committed;
  }
  return ok();
}

// Forgets the upload: row, stored segments and the in-memory writer. Holds active.mutex.
void CaseFileService::discard(Active& active) {
  drain(active);
  active.closed = true;
  active.writer.reset();
  try {
    store_.write([&](store::Tx& tx) { return tx.delete_upload(active.row.id); });
  } catch (...) {
    // The row stays: forgotten here, the upload is loaded from it again by its next request, or
    // expires like any other when idle (a closed upload left here would do neither).
    std::lock_guard lock(active_mutex_);
    active_.erase(active.row.id);
    throw;
  }
  try {
    blobs_->remove(active.row.id);
  } catch (const blob::BlobStoreError& error) {
    // The row is gone, so nothing refers to the blob any more; it only wastes space.
    log_blob_left(error);
  }
  std::lock_guard lock(active_mutex_);
  active_.erase(active.row.id);
}

Result<UploadSession> CaseFileService::begin_upload(const Caller& caller,
                                                    const BeginUpload& request) {
  if (!request.upload_id.empty()) return resume_upload(caller, request.upload_id);
  return start_upload(caller, request);
}

Result<UploadSession> CaseFileService::resume_upload(const Caller& caller,
                                                     const std::string& upload_id) {
  std::optional<store::CaseFile> file;
  store_.read([&](store::Tx& tx) { file = tx.find_case_file_by_upload(upload_id); });
  if (file && file->uploaded_by == caller.user.id) {  // finished already: nothing to send
    return UploadSession{upload_id, parse_header(file->header).segment_size, file->size};
  }
  if (file) {  // another user's finished upload: as unknown, and on record
    audit(caller, "case_file.upload", upload_id, AuditOutcome::denied);
    return upload_not_found();
  }
  auto active = active_upload(caller, upload_id);
  if (!active) return active.error();
  auto& upload = **active;
  std::lock_guard lock(upload.mutex);
  if (upload.closed) return upload_not_found();
  drain(upload);  // chunks sent before the connection dropped count
  if (upload.recovered) {
    // Another node sharing the store may have taken the upload further since this one wrote
    // it: then the writer held here is stale and is rebuilt from the stored segments. The
    // stored segments tell, not the row, which follows them only now and then.
    std::optional<store::Upload> row;
    store_.read([&](store::Tx& tx) { row = tx.find_upload(upload_id); });
    if (!row) return upload_not_found();
    std::optional<std::uint64_t> stored;
    try {
      stored = blobs_->segment_count(upload_id);
    } catch (const blob::BlobStoreError&) {
      // Unknown: rebuilt from what can be read, which reports the error if it persists.
    }
    std::lock_guard disk(upload.disk);
    const bool held = upload.finished || (stored && *stored == upload.durable / upload.chunk_size);
    if (!held || upload.failed) upload.recovered = false;
  }
  if (!upload.recovered) {
    if (auto recovered = recover(upload); !recovered) return recovered.error();
  }
  const auto committed = upload.committed();
  const auto now = clock_.now();
  store_.write([&](store::Tx& tx) { return tx.set_upload_progress(upload_id, committed, now); });
  audit(caller, "case_file.upload_resume", upload_id, AuditOutcome::success);
  return UploadSession{upload_id, upload.chunk_size, committed};
}

Result<UploadSession> CaseFileService::start_upload(const Caller& caller,
                                                    const BeginUpload& request) {
  if (caller.user.role == store::Role::admin) {
    audit(caller, "case_file.upload_begin", "", AuditOutcome::denied);
    return make_error(Code::permission_denied, "administrators do not upload case files");
  }
  if (!valid_file_name(request.file_name)) {
    return make_error(Code::invalid_argument,
                      "file_name must be 1-255 bytes of UTF-8 without directories or control "
                      "characters");
  }
  if (!valid_media_type(request.media_type)) {
    return make_error(Code::invalid_argument,
                      "media_type must be 1-127 printable ASCII characters");
  }
  if (request.size == 0) return make_error(Code::invalid_argument, "size must be positive");
  if (request.sha256.size() != crypto::sha256_size) {
    return make_error(Code::invalid_argument, "sha256 must be 32 raw bytes");
  }
  if (request.size > limits_.max_file_bytes) {
    return make_error(Code::resource_exhausted,
                      "the file is larger than the maximum upload size of " +
                          std::to_string(limits_.max_file_bytes) + " bytes");
  }

  const auto now = clock_.now();
  store::Upload row;
  row.id = crypto::random_id("upl");
  row.user_id = caller.user.id;
  row.organization_id = caller.user.organization_id;
  row.consultation_id = request.consultation_id;
  row.file_name = request.file_name;
  row.media_type = request.media_type;
  row.size = request.size;
  row.sha256 = request.sha256;
  const auto key = vault_.new_data_key();  // fresh per upload: never reused for another file
  const auto header = blob::FileHeader::create(limits_.chunk_bytes);
  row.wrapped_key = key.wrapped;
  row.header = header.serialize();
  row.created_at = now;
  row.updated_at = now;

  std::optional<Error> failure;
  std::optional<std::string> declared_before;
  const bool kept = store_.write([&](store::Tx& tx) {
    if (!row.consultation_id.empty()) {
      std::vector<std::string> participants;
      auto allowed = check_shareable(tx, consultations_, caller, row.consultation_id, participants);
      if (!allowed) {
        failure = allowed.error();
        return false;
      }
    }
    // A begin whose answer was lost on a weak link is sent again as it was: the upload it
    // started is the one to continue, not a second that holds quota until it expires.
    if (auto open = tx.find_open_upload_like(row)) {
      declared_before = open->id;
      return false;
    }
    if (const auto open = tx.count_user_uploads(row.user_id);
        open >= limits_.max_open_uploads_per_user) {
      failure = make_error(Code::resource_exhausted,
                           "you have " + std::to_string(open) +
                               " unfinished uploads; finish or resume them first");
      return false;
    }
    const auto used = tx.organization_storage_bytes(row.organization_id);
    if (used > limits_.organization_quota_bytes ||
        row.size > limits_.organization_quota_bytes - used) {
      failure =
          make_error(Code::resource_exhausted,
                     "your organisation's case file quota is used up (" + std::to_string(used) +
                         " of " + std::to_string(limits_.organization_quota_bytes) + " bytes)");
      return false;
    }
    tx.insert_upload(row);
    return true;
  });
  if (declared_before) return resume_upload(caller, *declared_before);
  if (!kept) {
    audit(caller, "case_file.upload_begin", "", AuditOutcome::denied);
    return failure ? *failure : make_error(Code::internal, "upload was not stored");
  }

  auto active = std::make_shared<Active>(row);
  auto writer = blob::EncryptedBlobWriter::create(
      *blobs_, blob::SegmentCipher(key.plain.value(), row.id, header), row.id);
  if (writer) {  // otherwise the first chunk recovers it from the (empty) blob
    active->writer.emplace(std::move(*writer));
    active->recovered = true;
  }
  {
    std::lock_guard lock(active_mutex_);
    active_.emplace(row.id, std::move(active));
  }
  audit(caller, "case_file.upload_begin", row.id, AuditOutcome::success);
  return UploadSession{row.id, header.segment_size, 0};
}

Result<std::uint64_t> CaseFileService::upload_chunk(const Caller& caller,
                                                    const std::string& upload_id,
                                                    std::uint64_t offset, std::string_view data) {
  std::promise<Result<std::uint64_t>> answer;
  auto answered = answer.get_future();
  upload_chunk_async(caller, upload_id, offset, data, [&answer](Result<std::uint64_t> result) {
    answer.set_value(std::move(result));
  });
  return answered.get();
}

void CaseFileService::upload_chunk_async(const Caller& caller, const std::string& upload_id,
                                         std::uint64_t offset, std::string_view data,
                                         ChunkDone done) {
  seal_chunk(caller, upload_id, offset, data, done);
}

void CaseFileService::seal_chunk(const Caller& caller, const std::string& upload_id,
                                 std::uint64_t offset, std::string_view data, ChunkDone& done) {
  // A refusal is answered after the chunks of this upload still being written.
  const auto refuse = [&](Error error) {
    writers_->post(upload_id,
                   [done = std::move(done), error = std::move(error)] { done(std::move(error)); });
  };
  auto active = active_upload(caller, upload_id, true);
  if (!active) return refuse(active.error());
  auto& upload = **active;
  std::lock_guard lock(upload.mutex);
  if (upload.row_gone) upload.closed = true;  // expired meanwhile
  if (upload.closed) return refuse(upload_not_found());
  // Sealed under the upload's lock or not at all: a resume on another connection, once the
  // client saw this one end, may already have said where to continue.
  if (caller.connection_gone()) {
    return refuse(make_error(Code::cancelled, "the connection closed before the chunk was taken"));
  }
  bool failed = false;
  {
    std::lock_guard disk(upload.disk);
    failed = upload.failed;
  }
  if (!upload.recovered || failed) {
    if (auto recovered = recover(upload); !recovered) return refuse(recovered.error());
  }
  const auto expected = upload.accepted;
  if (offset != expected) {
    return refuse(make_error(Code::failed_precondition,
                             "chunk offset " + std::to_string(offset) +
                                 " is not the committed offset " + std::to_string(expected) +
                                 "; continue at " + std::to_string(expected)));
  }
  const auto size = upload.row.size;
  if (data.empty()) return refuse(make_error(Code::invalid_argument, "chunk data is empty"));
  if (data.size() > upload.chunk_size) {
    return refuse(make_error(Code::invalid_argument, "chunk is longer than chunk_size " +
                                                         std::to_string(upload.chunk_size)));
  }
  if (data.size() > size - offset || !upload.writer) {
    return refuse(make_error(Code::out_of_range, "chunk goes past the declared size"));
  }
  const bool last = data.size() == size - offset;
  if (!last && data.size() != upload.chunk_size) {
    return refuse(
        make_error(Code::invalid_argument, "every chunk but the last must be chunk_size " +
                                               std::to_string(upload.chunk_size) + " bytes"));
  }
  // Hashing and encryption happen here, on the calling thread; the write on a file writer.
  auto chunk = std::make_shared<SealedChunk>();
  auto sealed = upload.writer->seal(data);
  if (!sealed) return refuse(sealed.error());
  chunk->segments = std::move(*sealed);
  if (last) {
    auto end = upload.writer->seal_last();
    if (!end) return refuse(end.error());
    chunk->segments.push_back(std::move(end->segment));
    chunk->finished = std::move(end->file);
    upload.writer.reset();
  }
  chunk->end = offset + data.size();
  chunk->done = std::move(done);
  upload.accepted = chunk->end;
  {
    std::lock_guard disk(upload.disk);
    ++upload.in_flight;
  }
  writers_->post(upload_id, [this, active = *active, chunk] { store_chunk(active, *chunk); });
}

void CaseFileService::store_chunk(const std::shared_ptr<Active>& upload, SealedChunk& chunk) {
  // The upload's chunks are written one at a time, by this thread, and recover() and the other
  // users of the stored segments wait until none is in flight: so the disk lock is not held
  // while writing, and the next chunk is sealed meanwhile.
  Result<std::uint64_t> result = chunk.end;
  bool record_progress = false;
  {
    std::lock_guard disk(upload->disk);
    if (upload->failed) {
      result = make_error(Code::unavailable,
                          "an earlier chunk of this upload was not stored; resume the upload");
    }
  }
  for (const auto& segment : chunk.segments) {
    if (!result) break;
    if (Status stored = blob::store_sealed(*blobs_, upload->row.id, segment); !stored) {
      result = stored.error();
    }
  }
  {
    std::lock_guard disk(upload->disk);
    if (result) {
      upload->durable = chunk.end;
      if (chunk.finished) upload->finished = std::move(chunk.finished);
      upload->stored_at = clock_.now();
      record_progress =
          !upload->progress_queued && upload->stored_at - upload->progress_at >= kProgressInterval;
      if (record_progress) {
        upload->progress_queued = true;
        upload->progress_at = upload->stored_at;
      }
    } else {
      upload->failed = true;  // the next chunk recovers from what is durable
    }
  }
  if (record_progress) queue_progress(upload);
  chunk.segments.clear();  // their memory goes back to the blob store's pool
  try {
    chunk.done(std::move(result));
  } catch (...) {
    // done must not throw; nothing else waits for this answer.
  }
  {
    std::lock_guard disk(upload->disk);
    --upload->in_flight;
  }
  upload->drained.notify_all();
}

// The row follows the stored segments (which are what recovery trusts) at most once per
// kProgressInterval and with at most one update queued per upload: the update takes the
// committed offset when the store's writer runs it, so the chunks written meanwhile share it.
void CaseFileService::queue_progress(const std::shared_ptr<Active>& upload) {
  try {
    store_.write_async(
        [upload](store::Tx& tx) {
          std::uint64_t committed = 0;
          TimePoint stored_at{};
          {
            std::lock_guard disk(upload->disk);
            committed = upload->committed_locked();
            stored_at = upload->stored_at;
            upload->progress_queued = false;  // chunks stored from now on queue another update
          }
          return tx.set_upload_progress(upload->row.id, committed, stored_at);
        },
        [upload](bool kept, std::exception_ptr failure) {
          if (!kept && !failure) upload->row_gone = true;
        });
  } catch (const std::exception&) {
    // The store is closing; recovery takes the offset from the stored segments.
    std::lock_guard disk(upload->disk);
    upload->progress_queued = false;
  }
}

Result<Outcome<store::CaseFile>> CaseFileService::finished_file(const Caller& caller,
                                                                const std::string& upload_id) {
  std::optional<store::CaseFile> file;
  store_.read([&](store::Tx& tx) { file = tx.find_case_file_by_upload(upload_id); });
  if (!file) return upload_not_found();
  if (file->uploaded_by != caller.user.id) {
    audit(caller, "case_file.upload", upload_id, AuditOutcome::denied);
    return upload_not_found();
  }
  return Outcome<store::CaseFile>{public_view(std::move(*file)), {}};
}

Result<Outcome<store::CaseFile>> CaseFileService::finish_upload(const Caller& caller,
                                                                const std::string& upload_id) {
  if (auto done = finished_file(caller, upload_id)) return done;  // a retry after success
  auto active = active_upload(caller, upload_id);
  if (!active) return active.error();
  auto& upload = **active;
  std::unique_lock lock(upload.mutex);
  if (upload.closed) {
    lock.unlock();
    return finished_file(caller, upload_id);  // finished by a concurrent call, or gone
  }
  drain(upload);  // the last chunk may still be on its way to the disk
  bool failed = false;
  std::optional<blob::FinishedBlob> finished;
  {
    std::lock_guard disk(upload.disk);
    failed = upload.failed;
    finished = upload.finished;
  }
  if (!upload.recovered || failed) {
    if (auto recovered = recover(upload); !recovered) return recovered.error();
    std::lock_guard disk(upload.disk);
    finished = upload.finished;
  }
  if (!finished) {
    return make_error(Code::failed_precondition, std::to_string(upload.committed()) + " of " +
                                                     std::to_string(upload.row.size) +
                                                     " bytes are uploaded");
  }
  const auto& row = upload.row;
  if (finished->size != row.size || !crypto::constant_time_equal(finished->sha256, row.sha256)) {
    discard(upload);
    audit(caller, "case_file.upload_finish", upload_id, AuditOutcome::failed);
    return make_error(Code::data_loss,
                      "the uploaded contents do not match the declared size and SHA-256; the "
                      "upload was discarded and nothing was kept");
  }

  const auto now = clock_.now();
  store::CaseFile file;
  file.id = crypto::random_id("cf");
  file.file_name = row.file_name;
  file.media_type = row.media_type;
  file.size = row.size;
  file.sha256 = row.sha256;
  file.uploaded_by = row.user_id;
  file.organization_id = row.organization_id;
  file.created_at = now;
  file.upload_id = row.id;
  file.blob_id = row.id;
  file.wrapped_key = row.wrapped_key;
  file.header = row.header;
  Outcome<store::CaseFile> outcome{public_view(file), {}};
  store_.write([&](store::Tx& tx) {
    outcome.notifications.clear();
    tx.insert_case_file(file);
    tx.delete_upload(row.id);
    std::vector<std::string> participants;
    // Shared only if still allowed (the consultation may have closed meanwhile); the file is
    // kept either way and can be shared later.
    if (!row.consultation_id.empty() &&
        check_shareable(tx, consultations_, caller, row.consultation_id, participants) &&
        tx.share_case_file(file.id, row.consultation_id, now)) {
      mark_shared(tx, row.consultation_id, now);
      outcome.notifications.push_back(
          shared_notification(row.consultation_id, file, std::move(participants)));
    }
    return true;
  });
  upload.closed = true;
  {
    std::lock_guard map_lock(active_mutex_);
    active_.erase(upload_id);
  }
  audit(caller, "case_file.upload_finish", file.id, AuditOutcome::success);
  if (!outcome.notifications.empty()) {
    audit(caller, "case_file.share", {file.id, row.consultation_id}, AuditOutcome::success);
  }
  return outcome;
}

int CaseFileService::expire_uploads(TimePoint now) {
  const auto cutoff = now - limits_.upload_expiry;
  std::vector<store::Upload> idle;
  store_.read([&](store::Tx& tx) { idle = tx.list_idle_uploads(cutoff, kExpiryBatch); });
  int expired = 0;
  for (const auto& row : idle) {
    std::shared_ptr<Active> active;
    {
      std::lock_guard lock(active_mutex_);
      if (auto it = active_.find(row.id); it != active_.end()) active = it->second;
    }
    std::unique_lock<std::mutex> lock;
    if (active) {
      lock = std::unique_lock(active->mutex);
      if (active->closed) continue;
      drain(*active);
    }
    const bool removed = store_.write([&](store::Tx& tx) {
      const auto current = tx.find_upload(row.id);  // decided against the current row
      return current && current->updated_at < cutoff && tx.delete_upload(row.id);
    });
    if (!removed) continue;
    if (active) {
      active->closed = true;
      active->writer.reset();
    }
    try {
      blobs_->remove(row.id);
    } catch (const blob::BlobStoreError& error) {
      log_blob_left(error);  // unreferenced now; only wastes space
    }
    {
      std::lock_guard map_lock(active_mutex_);
      active_.erase(row.id);
    }
    audit_.record({"", "", "case_file.upload_expire", {row.id}, AuditOutcome::success, ""});
    ++expired;
  }
  return expired;
}

void CaseFileService::start_expiry(std::chrono::milliseconds interval) {
  expiry_thread_ = std::thread([this, interval] {
    std::unique_lock lock(expiry_mutex_);
    while (!expiry_wake_.wait_for(lock, interval, [this] { return expiry_stop_; })) {
      lock.unlock();
      try {
        expire_uploads(clock_.now());
      } catch (const std::exception& error) {
        // Store or blob failure: the next round tries again.
        spdlog::warn("case files: expiring idle uploads failed, retried in {} s: {}",
                     std::chrono::duration_cast<std::chrono::seconds>(interval).count(),
                     error.what());
      }
      lock.lock();
    }
  });
  name_thread(expiry_thread_, "tmc-expiry");
}

// ---- reading and sharing ----------------------------------------------------------------------

bool CaseFileService::starts_download(const Caller& caller, const std::string& file_id,
                                      std::uint64_t offset) {
  constexpr std::chrono::minutes kWindow{10};
  constexpr std::size_t kRemembered = 10'000;
  const auto now = clock_.now();
  std::string key = caller.session_token_hash;
  key += file_id;
  std::lock_guard lock(reads_mutex_);
  if (recent_reads_.size() >= kRemembered) {
    std::erase_if(recent_reads_, [&](const auto& read) { return read.second < now - kWindow; });
    // Forgetting errs on the safe side: a read not remembered is audited again.
    if (recent_reads_.size() >= kRemembered) recent_reads_.clear();
  }
  auto [read, first] = recent_reads_.try_emplace(std::move(key), now);
  const bool starts = first || offset == 0 || read->second < now - kWindow;
  read->second = now;
  return starts;
}

Result<FileChunk> CaseFileService::read(const Caller& caller, const std::string& file_id,
                                        std::uint64_t offset, std::uint32_t length) {
  std::optional<store::CaseFile> file;
  std::vector<std::string> ids{file_id};  // for the audit: the file and its consultations
  store_.read([&](store::Tx& tx) {
    file = tx.find_case_file(file_id);
    if (!file) return;
    for (auto& consultation : tx.list_case_file_consultations(file_id)) {
      ids.push_back(std::move(consultation));
    }
    if (!may_read_case_file(tx, consultations_, caller, *file)) file.reset();
  });
  if (!file) {
    audit(caller, "case_file.read", std::move(ids), AuditOutcome::denied);
    return file_not_found();
  }
  if (offset > file->size)
    return make_error(Code::out_of_range, "offset is past the end of the file");
  const std::uint64_t want =
      length == 0 ? limits_.chunk_bytes : std::min<std::uint64_t>(length, limits_.chunk_bytes);
  // Decrypts and authenticates only the segments the range covers.
  const blob::EncryptedBlobReader reader(
      *blobs_, cipher_for(vault_, file->wrapped_key, file->header, file->blob_id), file->blob_id,
      file->size);
  auto data = reader.read(offset, want);
  if (!data) {
    audit(caller, "case_file.read", std::move(ids), AuditOutcome::failed);
    return data.error();
  }
  if (starts_download(caller, file_id, offset)) {
    audit(caller, "case_file.read", std::move(ids), AuditOutcome::success);
  }
  const bool eof = offset + data->size() == file->size;
  return FileChunk{file_id, offset, std::move(*data), eof};
}

Result<Outcome<store::CaseFile>> CaseFileService::share(const Caller& caller,
                                                        const std::string& file_id,
                                                        const std::string& consultation_id) {
  std::optional<Result<Outcome<store::CaseFile>>> result;
  const auto now = clock_.now();
  store_.write([&](store::Tx& tx) {
    const auto file = tx.find_case_file(file_id);
    if (!file || !may_read_case_file(tx, consultations_, caller, *file)) {
      result.emplace(file_not_found());
      return false;
    }
    std::vector<std::string> participants;
    if (auto allowed = check_shareable(tx, consultations_, caller, consultation_id, participants);
        !allowed) {
      result.emplace(allowed.error());
      return false;
    }
    Outcome<store::CaseFile> outcome{public_view(*file), {}};
    const bool added = tx.share_case_file(file_id, consultation_id, now);
    if (added) {
      mark_shared(tx, consultation_id, now);
      outcome.notifications.push_back(
          shared_notification(consultation_id, *file, std::move(participants)));
    }
    result.emplace(std::move(outcome));
    return added;
  });
  audit(caller, "case_file.share", {file_id, consultation_id},
        result->has_value() ? AuditOutcome::success : AuditOutcome::denied);
  return std::move(*result);
}

Result<std::vector<store::CaseFile>> CaseFileService::list(const Caller& caller,
                                                           const std::string& consultation_id) {
  std::optional<Result<std::vector<store::CaseFile>>> result;
  store_.read([&](store::Tx& tx) {
    const auto access = consultations_.access(tx, caller, consultation_id);
    if (!access) {
      result.emplace(consultation_not_found());
      return;
    }
    if (auto decision = decide(access->record.state, ConsultationAction::read, access->actor);
        !decision) {
      result.emplace(decision.error());
      return;
    }
    std::vector<store::CaseFile> files;
    for (auto& file : tx.list_consultation_case_files(consultation_id)) {
      files.push_back(public_view(std::move(file)));
    }
    result.emplace(std::move(files));
  });
  audit(caller, "case_file.list", consultation_id,
        result->has_value() ? AuditOutcome::success : AuditOutcome::denied);
  return std::move(*result);
}

}  // namespace tmc::domain

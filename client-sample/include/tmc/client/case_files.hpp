// Case-file transfer over a BlockingClient: windowed, resumable, SHA-256-checked upload/download.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>

#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"
#include "tmc/client/consultations.hpp"

namespace tmc::client {

// Builders of case-file requests (request_id unset), like those in consultations.hpp.
namespace requests {

// A new upload; request.upload_id must be empty.
telemed::v1::ClientFrame begin_upload(telemed::v1::BeginUploadRequest request);
// Asks where an earlier upload continues (begin_upload with only its upload_id).
telemed::v1::ClientFrame resume_upload(const std::string& upload_id);
telemed::v1::ClientFrame upload_chunk(const std::string& upload_id, std::uint64_t offset,
                                      std::string data);
telemed::v1::ClientFrame finish_upload(const std::string& upload_id);
// length 0 = the server's default (its chunk size).
telemed::v1::ClientFrame read_file(const std::string& file_id, std::uint64_t offset,
                                   std::uint32_t length = 0);
telemed::v1::ClientFrame share_case_file(const std::string& file_id,
                                         const std::string& consultation_id);
telemed::v1::ClientFrame list_case_files(const std::string& consultation_id);

}  // namespace requests

// Where a transfer stands, for progress displays.
struct TransferProgress {
  enum class Stage {
    hashing,       // reading the file to compute its SHA-256 before the upload starts
    transferring,  // bytes confirmed by the server (upload) or written to disk (download)
    reconnecting,  // the connection failed; reconnecting and resuming
    retrying,      // the server answered UNAVAILABLE; waiting, then resuming
    verifying,     // download: comparing the SHA-256 of the received bytes
  };
  Stage stage = Stage::transferring;
  std::uint64_t done = 0;   // bytes hashed or transferred so far
  std::uint64_t total = 0;  // bytes of the whole file
  int reconnects = 0;       // connections re-established during this transfer
  std::string reason;       // reconnecting, retrying: why the connection or request failed
};
using ProgressCallback = std::function<void(const TransferProgress&)>;

// Tuning of transfers.
struct TransferOptions {
  std::size_t window = 8;                      // requests in flight (at least 1)
  std::uint32_t read_length = 256 << 10;       // download: bytes asked for per read_file
  int max_reconnect_attempts = 10;             // failed attempts in a row before giving up
  std::chrono::milliseconds first_retry{200};  // delay before a retry; doubles each time
  std::chrono::milliseconds longest_retry{5000};
  BlockingClient::Duration timeout = BlockingClient::default_timeout;  // per request
};

// What to call the uploaded file and where to share it.
struct UploadDetails {
  std::string file_name;  // a label shown to readers (no directories)
  std::string media_type = "application/octet-stream";
  std::string consultation_id;  // empty: keep unshared
};

// Hands out the connection to use: a connected BlockingClient whose session is logged in.
// Called with reconnect = false for the first request and with reconnect = true after a
// connection failure; it must then drop the failed connection, open a new one and resume the
// session (`resume` with the session token). It throws ClientError when it cannot connect
// (counted as a failed attempt) and anything else to abandon the transfer.
using Connector = std::function<BlockingClient&(bool reconnect)>;

// Case-file calls. Transfers keep options.window requests in flight, survive UNAVAILABLE
// answers (storage away for a moment) and, when a Connector is given, dropped connections: after
// a delay that doubles with each failure in a row, an upload asks the server for its committed
// offset and continues there; a download continues after the bytes already written. Not
// thread-safe (one transfer at a time); progress callbacks run on the calling thread.
// Server refusals come back as Reply, UNAVAILABLE once options.max_reconnect_attempts retries in
// a row made no progress; a connection failure throws ClientError then (or at once without a
// Connector); local file errors throw std::system_error.
class CaseFileClient {
 public:
  // Without reconnection: a connection failure is thrown at once.
  explicit CaseFileClient(BlockingClient& client, TransferOptions options = {});
  explicit CaseFileClient(Connector connector, TransferOptions options = {});

  // Uploads the rest of `in` (which must be seekable: it is read twice, once to compute the
  // SHA-256 declared to begin_upload and once to send it). Refusals: those of begin_upload,
  // upload_chunk and finish_upload (e.g. RESOURCE_EXHAUSTED over the size limit or quota,
  // DATA_LOSS if the contents changed while uploading, NOT_FOUND if the upload expired).
  Reply<telemed::v1::CaseFile> upload(std::istream& in, const UploadDetails& details,
                                      const ProgressCallback& progress = {});
  // Uploads a file; details.file_name empty = the path's file name.
  Reply<telemed::v1::CaseFile> upload(const std::filesystem::path& path, UploadDetails details,
                                      const ProgressCallback& progress = {});

  // Downloads file into output: the bytes go to a temporary file beside it
  // (output + "." + file id + ".part", continued if a previous download left one), whose SHA-256
  // must equal file.sha256() before it is renamed to output. Refusals: those of read_file
  // (NOT_FOUND, DATA_LOSS for stored data that fails its integrity check) and DATA_LOSS when the
  // received bytes do not match file's size or SHA-256 (the temporary file is then deleted).
  Reply<telemed::v1::CaseFile> download(const telemed::v1::CaseFile& file,
                                        const std::filesystem::path& output,
                                        const ProgressCallback& progress = {});

  Reply<telemed::v1::ListCaseFilesResult> list(const std::string& consultation_id);
  Reply<telemed::v1::CaseFile> share(const std::string& file_id,
                                     const std::string& consultation_id);

  // A case file's description by id, looked up in consultation_id's files, or (empty) in the
  // files of every consultation the caller can list. NOT_FOUND if it is in none of them.
  Reply<telemed::v1::CaseFile> find(const std::string& file_id,
                                    const std::string& consultation_id = {});

 private:
  BlockingClient& connection(bool reconnect);
  // Runs attempt(connection) until it returns something other than UNAVAILABLE, retrying after
  // that and after each ClientError as the class comment describes; `done` (updated by attempt)
  // tells whether an attempt made progress.
  template <class Attempt>
  auto with_retries(const Attempt& attempt, const std::uint64_t& done, std::uint64_t total,
                    const ProgressCallback& progress);

  Connector connector_;
  bool can_reconnect_;
  TransferOptions options_;
  bool broken_ = false;  // the last connection failed: reconnect before the next request
  int reconnects_ = 0;   // of the current transfer
};

}  // namespace tmc::client
